use serde_json::json;

use super::*;
use crate::Code;

fn ok(t: MessageType, content: serde_json::Value) -> Content {
    parse_content(t, Some(&content.to_string())).unwrap_or_else(|e| panic!("{t:?} {content}: {e}"))
}

/// (type, Content, expected code, a word the message must contain)
fn failing() -> Vec<(MessageType, serde_json::Value, Code, &'static str)> {
    use MessageType::*;
    let long = "x".repeat(4097);
    let cap = "c".repeat(1025);
    vec![
        (Text, json!({}), Code::TextNotEmpty, "text"),
        (Text, json!({"text": ""}), Code::TextNotEmpty, "text"),
        (Text, json!({"text": long}), Code::ContentError, "4096"),
        (
            Text,
            json!({"text": "hi", "caption": "no"}),
            Code::ContentError,
            "caption",
        ),
        (
            Text,
            json!({"text": "hi", "preview_url": "maybe"}),
            Code::ContentError,
            "preview_url",
        ),
        (Text, json!(["hi"]), Code::ContentError, "object"),
        (Image, json!({"caption": "x"}), Code::LinkNotEmpty, "link"),
        (
            Image,
            json!({"link": "ftp://x/y.png"}),
            Code::ContentError,
            "http",
        ),
        (
            Image,
            json!({"link": "https://"}),
            Code::ContentError,
            "host",
        ),
        (
            Image,
            json!({"link": "https://e.org/a.png", "caption": cap}),
            Code::ContentError,
            "1024",
        ),
        (Video, json!({"link": ""}), Code::LinkNotEmpty, "link"),
        (Audio, json!({}), Code::LinkNotEmpty, "link"),
        (
            Document,
            json!({"link": "https://e.org/a.pdf"}),
            Code::ContentError,
            "fileName",
        ),
        (
            Document,
            json!({"fileName": "a.pdf"}),
            Code::LinkNotEmpty,
            "link",
        ),
        (
            Sticker,
            json!({"link": "https://e.org/s.webp", "caption": "x"}),
            Code::ContentError,
            "caption",
        ),
        (
            Sticker,
            json!({"link": "https://e.org/s.webp", "fileName": "s.webp"}),
            Code::ContentError,
            "fileName",
        ),
        (
            Location,
            json!({"latitude": 10}),
            Code::ContentError,
            "longitude",
        ),
        (
            Location,
            json!({"latitude": 91, "longitude": 0}),
            Code::ContentError,
            "latitude",
        ),
        (
            Location,
            json!({"latitude": "1", "longitude": "-181"}),
            Code::ContentError,
            "longitude",
        ),
        (
            Location,
            json!({"latitude": "north", "longitude": 1}),
            Code::ContentError,
            "latitude",
        ),
        (
            Reaction,
            json!({"emoji": "👍"}),
            Code::ContentError,
            "messageId",
        ),
        (
            Reaction,
            json!({"messageId": "m"}),
            Code::ContentError,
            "emoji",
        ),
        (
            Contacts,
            json!({"name": {"formatted_name": "A"}}),
            Code::ContentError,
            "array",
        ),
        (Contacts, json!([]), Code::ContentError, "1 to 5"),
        (
            Contacts,
            json!([{"phones": []}]),
            Code::ContentError,
            "name",
        ),
        (
            Contacts,
            json!([{"name": {"first_name": "A"}}]),
            Code::ContentError,
            "formatted_name",
        ),
        (
            Contacts,
            json!([{"name": {"formatted_name": "A"}}]),
            Code::ContentError,
            "first_name",
        ),
        (
            Contacts,
            json!([{"name": {"formatted_name": "A B", "first_name": "A"}, "birthday": "1990-13-01"}]),
            Code::ContentError,
            "birthday",
        ),
        (
            Contacts,
            json!([{"name": {"formatted_name": "A B", "first_name": "A"}, "phones": "123"}]),
            Code::ContentError,
            "phones",
        ),
        (
            Interactive,
            json!({"action": {}}),
            Code::ContentError,
            "type",
        ),
        (
            Interactive,
            json!({"type": "button", "body": {"text": "b"}}),
            Code::ContentError,
            "action",
        ),
        (
            Interactive,
            json!({"type": "poll", "action": {}}),
            Code::ContentError,
            "poll",
        ),
        (
            Interactive,
            json!({"type": "button", "action": {"buttons": [{"type": "reply", "reply": {"id": "a", "title": "A"}}]}}),
            Code::ContentError,
            "body",
        ),
        (Interactive, button_msg(4), Code::ContentError, "1 to 3"),
        (
            Interactive,
            json!({"type": "button", "body": {"text": "b"}, "action": {"buttons": [
            {"type": "reply", "reply": {"id": "a", "title": "Same"}}, {"type": "reply", "reply": {"id": "b", "title": "Same"}}]}}),
            Code::ContentError,
            "unique",
        ),
        (
            Interactive,
            json!({"type": "button", "body": {"text": "b"}, "action": {"buttons": [
            {"type": "reply", "reply": {"id": "a", "title": "This title is far too long"}}]}}),
            Code::ContentError,
            "20",
        ),
        (Interactive, list_msg(11, 1), Code::ContentError, "10 rows"),
        (Interactive, list_msg(1, 11), Code::ContentError, "1 to 10"),
        (
            Interactive,
            json!({"type": "list", "body": {"text": "b"}, "header": {"type": "image", "image": {"link": "https://e.org/i.png"}},
            "action": {"button": "Go", "sections": [{"rows": [{"id": "r", "title": "R"}]}]}}),
            Code::ContentError,
            "type text",
        ),
        (
            Interactive,
            json!({"type": "cta_url", "body": {"text": "b"}, "action": {"name": "cta_url", "parameters": {"display_text": "Open", "url": "nope"}}}),
            Code::ContentError,
            "url",
        ),
        (
            Interactive,
            json!({"type": "product", "header": {"type": "text", "text": "h"}, "action": {"catalog_id": "c", "product_retailer_id": "p"}}),
            Code::ContentError,
            "header",
        ),
        (
            Interactive,
            json!({"type": "product_list", "body": {"text": "b"}, "action": {"catalog_id": "c", "sections": [{"title": "t", "product_items": [{"product_retailer_id": "p"}]}]}}),
            Code::ContentError,
            "header",
        ),
        (Interactive, products(31), Code::ContentError, "30"),
        (
            Interactive,
            json!({"type": "flow", "body": {"text": "b"}, "action": {"name": "flow", "parameters": {"flow_message_version": "2", "flow_id": "1", "flow_cta": "Go"}}}),
            Code::ContentError,
            "flow_message_version",
        ),
        (
            Interactive,
            json!({"type": "flow", "body": {"text": "b"}, "action": {"name": "flow", "parameters": {"flow_message_version": "3", "flow_id": "1", "flow_name": "n", "flow_cta": "Go"}}}),
            Code::ContentError,
            "flow_id",
        ),
        (
            Interactive,
            json!({"type": "location_request_message", "body": {"text": "b"}, "action": {"name": "other"}}),
            Code::ContentError,
            "send_location",
        ),
        (
            Interactive,
            json!({"type": "button", "header": {"type": "text", "text": "h".repeat(61)}, "body": {"text": "b"}, "action": {"buttons": []}}),
            Code::ContentError,
            "60",
        ),
    ]
}

fn button_msg(n: usize) -> serde_json::Value {
    let buttons: Vec<_> = (0..n).map(|i| json!({"type": "reply", "reply": {"id": format!("id{i}"), "title": format!("T{i}")}})).collect();
    json!({"type": "button", "body": {"text": "Pick"}, "action": {"buttons": buttons}})
}

fn list_msg(rows: usize, sections: usize) -> serde_json::Value {
    let sections: Vec<_> = (0..sections)
        .map(|s| {
            let rows: Vec<_> = (0..rows)
                .map(|r| json!({"id": format!("r{s}-{r}"), "title": "Row"}))
                .collect();
            json!({"title": format!("S{s}"), "rows": rows})
        })
        .collect();
    json!({"type": "list", "body": {"text": "Choose"}, "action": {"button": "Options", "sections": sections}})
}

fn products(n: usize) -> serde_json::Value {
    let items: Vec<_> = (0..n)
        .map(|i| json!({"product_retailer_id": format!("p{i}")}))
        .collect();
    json!({"type": "product_list", "header": {"type": "text", "text": "Shop"}, "body": {"text": "b"},
           "action": {"catalog_id": "c", "sections": [{"title": "All", "product_items": items}]}})
}

#[test]
fn every_content_rule_rejects_with_its_code_and_names_the_field() {
    for (t, content, code, needle) in failing() {
        let e = parse_content(t, Some(&content.to_string()))
            .expect_err(&format!("{t:?} {content} should fail"));
        assert_eq!(e.code, code, "{t:?} {content}: {}", e.message);
        assert!(
            e.message.contains(needle),
            "{t:?} {content}: {:?} lacks {needle:?}",
            e.message
        );
    }
}

#[test]
fn absent_or_malformed_content() {
    assert_eq!(
        parse_content(MessageType::Text, None).unwrap_err().code,
        Code::ContentNotEmpty
    );
    assert_eq!(
        parse_content(MessageType::Text, Some(" "))
            .unwrap_err()
            .code,
        Code::ContentNotEmpty
    );
    let e = parse_content(MessageType::Text, Some("{\"text\": ")).unwrap_err();
    assert_eq!(e.code, Code::ContentError);
    assert!(e.message.contains("not valid JSON"));
}

#[test]
fn golden_cloud_objects_for_every_type() {
    use MessageType::*;
    let cases = vec![
        (
            Text,
            json!({"text": "Hello", "link": "", "caption": "", "fileName": ""}),
            json!({"body": "Hello"}),
        ),
        (
            Text,
            json!({"text": "See https://e.org", "preview_url": true}),
            json!({"body": "See https://e.org", "preview_url": true}),
        ),
        (
            Image,
            json!({"link": "https://e.org/a.png", "caption": "A"}),
            json!({"link": "https://e.org/a.png", "caption": "A"}),
        ),
        (
            Video,
            json!({"link": "https://e.org/v.mp4"}),
            json!({"link": "https://e.org/v.mp4"}),
        ),
        (
            Audio,
            json!({"link": "https://e.org/a.ogg", "caption": "ignored"}),
            json!({"link": "https://e.org/a.ogg"}),
        ),
        (
            Document,
            json!({"link": "https://e.org/i.pdf", "fileName": "i.pdf", "caption": "Invoice"}),
            json!({"link": "https://e.org/i.pdf", "filename": "i.pdf", "caption": "Invoice"}),
        ),
        (
            Document,
            json!({"link": "https://e.org/i.pdf", "filename": "i.pdf"}),
            json!({"link": "https://e.org/i.pdf", "filename": "i.pdf"}),
        ),
        (
            Sticker,
            json!({"link": "https://e.org/s.webp"}),
            json!({"link": "https://e.org/s.webp"}),
        ),
        (
            Location,
            json!({"latitude": "51.5", "longitude": -0.12, "name": "Office", "address": "1 St"}),
            json!({"latitude": 51.5, "longitude": -0.12, "name": "Office", "address": "1 St"}),
        ),
        (
            Reaction,
            json!({"messageId": "wamid.X", "emoji": "👍"}),
            json!({"message_id": "wamid.X", "emoji": "👍"}),
        ),
        (
            Contacts,
            json!([{"name": {"formatted_name": "Ada L", "first_name": "Ada"}, "phones": [{"phone": "+447700900123", "type": "WORK"}]}]),
            json!([{"name": {"formatted_name": "Ada L", "first_name": "Ada"}, "phones": [{"phone": "+447700900123", "type": "WORK"}]}]),
        ),
    ];
    for (t, input, want) in cases {
        let c = ok(t, input);
        let (ty, obj) = c.to_cloud();
        assert_eq!(ty, t.as_str());
        assert_eq!(obj, &want, "{t:?}");
        // stored form round-trips
        let stored = serde_json::to_string(&c).unwrap();
        assert_eq!(serde_json::from_str::<Content>(&stored).unwrap(), c);
    }
}

#[test]
fn every_interactive_kind_passes_through_unchanged() {
    let kinds = vec![
        button_msg(3),
        list_msg(5, 2),
        json!({"type": "cta_url", "header": {"type": "image", "image": {"link": "https://e.org/h.png"}}, "body": {"text": "Track"},
               "action": {"name": "cta_url", "parameters": {"display_text": "Track parcel", "url": "https://e.org/t"}}}),
        json!({"type": "product", "body": {"text": "b"}, "action": {"catalog_id": "c", "product_retailer_id": "SKU1"}}),
        products(30),
        json!({"type": "catalog_message", "body": {"text": "See"}, "action": {"name": "catalog_message", "parameters": {"thumbnail_product_retailer_id": "SKU1"}}}),
        json!({"type": "flow", "body": {"text": "Update"}, "action": {"name": "flow", "parameters": {
            "flow_message_version": "3", "flow_id": "123", "flow_token": "t", "flow_cta": "Open form", "mode": "published",
            "flow_action": "navigate", "flow_action_payload": {"screen": "A", "data": {"k": 1}}}}}),
        json!({"type": "location_request_message", "body": {"text": "Where?"}, "action": {"name": "send_location"}}),
    ];
    for k in kinds {
        let c = ok(MessageType::Interactive, k.clone());
        assert_eq!(c.to_cloud(), ("interactive", &k));
    }
}

#[test]
fn rendered_text_for_fallback() {
    assert_eq!(
        ok(MessageType::Text, json!({"text": "Hi"})).render_text(),
        "Hi"
    );
    assert_eq!(
        ok(
            MessageType::Image,
            json!({"link": "https://e.org/a.png", "caption": "A"})
        )
        .render_text(),
        "A https://e.org/a.png"
    );
    assert_eq!(
        ok(
            MessageType::Document,
            json!({"link": "https://e.org/i.pdf", "fileName": "i.pdf"})
        )
        .render_text(),
        "i.pdf: https://e.org/i.pdf"
    );
    assert_eq!(
        ok(
            MessageType::Location,
            json!({"latitude": 1.5, "longitude": 2, "name": "Here"})
        )
        .render_text(),
        "Here (1.5, 2)"
    );
    assert_eq!(
        ok(MessageType::Interactive, button_msg(2)).render_text(),
        "Pick\n[T0]\n[T1]"
    );
    let c = ok(
        MessageType::Contacts,
        json!([{"name": {"formatted_name": "Ada", "first_name": "Ada"}, "phones": [{"phone": "+1"}]}]),
    );
    assert_eq!(c.render_text(), "Ada +1");
    assert_eq!(
        ok(
            MessageType::Reaction,
            json!({"messageId": "m", "emoji": "👍"})
        )
        .referenced_message_id(),
        Some("m")
    );
}

#[test]
fn kinds_and_ranges() {
    assert_eq!(
        parse_channel_type("WhatsApp").unwrap(),
        ChannelType::Whatsapp
    );
    let e = parse_channel_type("viber").unwrap_err();
    assert_eq!(e.code, Code::ChannelTypeNotSupport);
    assert!(e.message.contains("viber"));
    assert_eq!(
        parse_channel_type("sms").unwrap_err().code,
        Code::ChannelTypeNotSupport
    );
    assert_eq!(parse_send_type("Template").unwrap(), SendType::Template);
    assert_eq!(
        parse_send_type("x").unwrap_err().code,
        Code::InvalidParameter
    );
    assert_eq!(parse_message_type(Some("TEXT")).unwrap(), MessageType::Text);
    assert_eq!(
        parse_message_type(None).unwrap_err().code,
        Code::MessageTypeNotEmpty
    );
    let e = parse_message_type(Some("carousel")).unwrap_err();
    assert_eq!(e.code, Code::MessageTypeNotSupport);
    assert!(e.message.contains("not delivered by opencams yet"));
    assert_eq!(
        parse_message_type(Some("fax")).unwrap_err().code,
        Code::MessageTypeNotSupport
    );
    assert_eq!(
        parse_fallback_rule(None).unwrap(),
        FallBackRule::Undelivered
    );
    assert_eq!(
        parse_fallback_rule(Some("sentFailed")).unwrap(),
        FallBackRule::SentFailed
    );
    assert!(
        parse_fallback_rule(Some("always"))
            .unwrap_err()
            .message
            .contains("FallBackRule")
    );
    assert_eq!(parse_fallback_duration("60").unwrap(), 60);
    assert!(
        parse_fallback_duration("59")
            .unwrap_err()
            .message
            .contains("60 to 43200")
    );
    assert!(parse_fallback_duration("43201").is_err());
    assert!(parse_ttl("29").is_err());
    assert_eq!(parse_ttl("1209600").unwrap(), 1_209_600);
    assert_eq!(
        parse_recipient_type(Some("group")).unwrap_err().code,
        Code::NotSupported
    );
    assert_eq!(
        parse_recipient_type(None).unwrap(),
        RecipientType::Individual
    );
}

#[test]
fn shrink_parameters() {
    let p = parse_template_params(Some(r#"{"name":"Tom & Jerry","n":3,"b":true}"#)).unwrap();
    assert_eq!(
        (p["name"].as_str(), p["n"].as_str(), p["b"].as_str()),
        ("Tom & Jerry", "3", "true")
    );
    assert!(
        parse_template_params(Some(r#"{"x":{"y":1}}"#))
            .unwrap_err()
            .message
            .contains("\"x\"")
    );
    assert!(
        parse_template_params(Some("{oops"))
            .unwrap_err()
            .message
            .contains("TemplateParams")
    );
    assert_eq!(parse_template_params(Some("[]")).unwrap().len(), 0);
    assert_eq!(parse_payload(Some(r#"["p1",2]"#)).unwrap(), vec!["p1", "2"]);
    assert!(
        parse_payload(Some(r#"{"a":1}"#))
            .unwrap_err()
            .message
            .contains("Payload")
    );

    let pa = parse_product_action(Some(
        r#"{"Sections":[{"ProductItems":[{"ProductRetailerId":"r1"}],"Title":"T"}],"ThumbnailProductRetailerId":"r0"}"#,
    ))
    .unwrap()
    .unwrap();
    assert_eq!(
        pa.to_cloud_action(),
        json!({"thumbnail_product_retailer_id": "r0", "sections": [{"title": "T", "product_items": [{"product_retailer_id": "r1"}]}]})
    );
    let lower = parse_product_action(Some(
        r#"{"sections":[{"productItems":[{"productRetailerId":"a"}]}]}"#,
    ))
    .unwrap()
    .unwrap();
    assert_eq!(lower.sections[0].product_retailer_ids, vec!["a"]);
    assert!(
        parse_product_action(Some(
            r#"{"Sections":[{"ProductItems":[{"ProductRetailerId":""}]}]}"#
        ))
        .is_err()
    );
    let many: Vec<_> = (0..11)
        .map(|i| json!({"Title": format!("S{i}"), "ProductItems": [{"ProductRetailerId": "x"}]}))
        .collect();
    assert!(
        parse_product_action(Some(&json!({"Sections": many}).to_string()))
            .unwrap_err()
            .message
            .contains("10")
    );
    let items: Vec<_> = (0..31)
        .map(|i| json!({"ProductRetailerId": format!("p{i}")}))
        .collect();
    assert!(
        parse_product_action(Some(
            &json!({"Sections": [{"Title": "a", "ProductItems": items}]}).to_string()
        ))
        .unwrap_err()
        .message
        .contains("30")
    );
    assert_eq!(parse_product_action(Some("[]")).unwrap(), None);

    let fa = parse_flow_action(Some(
        r#"{"FlowActionData":{"a":1,"b":{"c":"é"}},"FlowToken":"tok"}"#,
    ))
    .unwrap()
    .unwrap();
    assert_eq!(
        fa.to_cloud_action(),
        json!({"flow_token": "tok", "flow_action_data": {"a": 1, "b": {"c": "é"}}})
    );
    assert!(
        parse_flow_action(Some(r#"{"FlowActionData":{}}"#))
            .unwrap_err()
            .message
            .contains("FlowToken")
    );
    assert!(
        parse_flow_action(Some(r#"{"FlowToken":"t","FlowActionData":[1]}"#))
            .unwrap_err()
            .message
            .contains("object")
    );
}

#[test]
fn sender_lists_name_the_failing_index() {
    let list = parse_sender_list(Some(
        r#"[{"To":"8613900000001","TemplateParams":{"name":"A"},"Payload":["p"]},{"To":"+8613900000002"}]"#,
    ))
    .unwrap();
    assert_eq!(list.len(), 2);
    assert_eq!(list[1].to.as_str(), "8613900000002");
    assert_eq!(list[0].payload, vec!["p"]);
    let e = parse_sender_list(Some(r#"[{"To":"8613900000001"},{"To":"12ab"}]"#)).unwrap_err();
    assert_eq!(e.code, Code::ToOnlyNumeric);
    assert!(e.message.starts_with("SenderList[1]"), "{}", e.message);
    let e = parse_sender_list(Some(r#"[{"TemplateParams":{}}]"#)).unwrap_err();
    assert_eq!(e.code.as_str(), "MissingTo");
    assert!(e.message.contains("SenderList[0]"));
    assert_eq!(
        parse_sender_list(None).unwrap_err().code.as_str(),
        "MissingSenderList"
    );
    assert_eq!(
        parse_sender_list(Some("[]")).unwrap_err().code.as_str(),
        "MissingSenderList"
    );
    let big: Vec<_> = (0..1001)
        .map(|i| json!({"To": format!("86139{i:08}")}))
        .collect();
    assert!(
        parse_sender_list(Some(&json!(big).to_string()))
            .unwrap_err()
            .message
            .contains("1000")
    );
}
