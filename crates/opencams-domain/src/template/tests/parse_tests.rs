//! `Components` / `Example` decoding, coercion and the stored round-trip.

use serde_json::json;

use super::super::*;
use crate::Code;

fn full() -> serde_json::Value {
    json!([
        {"Type": "HEADER", "Format": "DOCUMENT", "Url": "https://cdn.example.com/a.pdf", "FileName": "a.pdf", "Caption": "Invoice"},
        {"Type": "LIMITED_TIME_OFFER", "Text": "Expiring offer!", "HasExpiration": true},
        {"Type": "BODY", "Text": "Hi {{name}}, see {{item}}.", "AddSecretRecommendation": false},
        {"Type": "FOOTER", "Text": "Bye", "CodeExpirationMinutes": 5},
        {"Type": "BUTTONS", "Buttons": [
            {"Type": "URL", "Text": "Go", "Url": "https://x.example/{{track}}", "UrlType": "dynamic"},
            {"Type": "QUICK_REPLY", "Text": "Stop", "IsOptOut": true},
            {"Type": "COPY_CODE", "Text": "Copy", "CouponCode": "$(couponCode)"},
            {"Type": "ONE_TAP", "Text": "Copy", "AutofillText": "Fill", "SupportedApps": [{"PackageName": "com.a", "SignatureHash": "h"}], "PackageName": "com.b", "SignatureHash": "g"},
            {"Type": "FLOW", "Text": "Book", "FlowId": "9", "FlowAction": "NAVIGATE", "NavigateScreen": "S1"},
            {"Type": "PHONE_NUMBER", "Text": "Call", "PhoneNumber": "+8613800000000"}
        ]},
        {"Type": "CAROUSEL", "Cards": [{"CardComponents": [
            {"Type": "HEADER", "Format": "IMAGE", "Url": "https://cdn.example.com/c.jpg"},
            {"Type": "BODY", "Text": "Card {{item}} text"}
        ]}]},
        {"Type": "HEADER", "Format": "LOCATION", "Latitude": "37.48", "Longitude": "-122.14", "LocationName": "HQ", "LocationAddress": "1 Hacker Way"}
    ])
}

#[test]
fn components_round_trip_through_their_stored_json() {
    let parsed = parse_components(&full().to_string()).expect("parses");
    let stored = serde_json::to_string(&parsed).expect("serialises");
    assert_eq!(parse_components(&stored).expect("re-parses"), parsed);
    // The stored JSON is the GetChatappTemplateDetail shape, which is what the client sent.
    let mut expected = full();
    expected[1]["hasExpiration"] = true.into();
    if let Some(o) = expected[1].as_object_mut() {
        o.remove("HasExpiration");
    }
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&stored).expect("json"),
        expected
    );
}

#[test]
fn sdk_quirks_are_tolerated() {
    // Python SDK: empty arrays for unset lists, "True" booleans; callers: numbers as strings.
    let raw = r#"[{"Type":"body","Text":"Hi {{name}}, ok.","Buttons":[],"Cards":[],"Url":"","Caption":null},
        {"type":"FOOTER","text":12345,"CodeExpirationMinutes":"7","AddSecretRecommendation":"True"},
        {"Type":"BUTTONS","Buttons":[{"Type":"quick_reply","Text":"Yes","SupportedApps":[],"IsOptOut":"false"}]}]"#;
    let c = parse_components(raw).expect("parses");
    assert_eq!(c[0].kind, ComponentType::Body);
    assert!(c[0].buttons.is_empty() && c[0].url.is_none() && c[0].caption.is_none());
    assert_eq!(c[1].text.as_deref(), Some("12345"));
    assert_eq!(c[1].code_expiration_minutes, Some(7));
    assert_eq!(c[1].add_secret_recommendation, Some(true));
    assert_eq!(c[2].buttons[0].kind, ButtonType::QuickReply);
    assert_eq!(c[2].buttons[0].is_opt_out, Some(false));
    for empty in ["", "null", "[]", "  "] {
        assert_eq!(parse_components(empty).expect("absent"), vec![]);
    }
}

#[test]
fn exact_keys_win_over_case_insensitive_ones() {
    let c = parse_components(r#"[{"TEXT":"loose","Text":"exact","Type":"BODY"}]"#).expect("parses");
    assert_eq!(c[0].text.as_deref(), Some("exact"));
}

#[test]
fn malformed_components_are_invalid_parameters() {
    let e = parse_components(r#"[{"Type":"BODY",}]"#).expect_err("malformed");
    assert_eq!(e.code, Code::InvalidParameter);
    assert!(
        e.message.contains("Components") && e.message.contains("line 1 column"),
        "{}",
        e.message
    );
    assert_eq!(
        parse_components(r#"{"Type":"BODY"}"#)
            .expect_err("object")
            .code,
        Code::InvalidParameter
    );
    assert_eq!(
        parse_components(r#"[{"Text":"x"}]"#)
            .expect_err("no type")
            .code,
        Code::MessageInvalid
    );
    let e = parse_components(
        r#"[{"Type":"BUTTONS","Buttons":[{"Type":"URL","UrlType":"sometimes"}]}]"#,
    )
    .expect_err("url type");
    assert!(
        e.message
            .contains("Components[0] (BUTTONS) button 0 UrlType"),
        "{}",
        e.message
    );
    assert_eq!(
        parse_components(r#"[{"Type":"BUTTONS","Buttons":[{"Type":"SMS"}]}]"#)
            .expect_err("type")
            .code,
        Code::MessageInvalid
    );
}

#[test]
fn example_values_are_coerced_to_strings() {
    let ex = parse_example(r#"{"name":"Ada","count":3,"vip":true,"gone":null}"#).expect("parses");
    assert_eq!(ex.get("name").map(String::as_str), Some("Ada"));
    assert_eq!(ex.get("count").map(String::as_str), Some("3"));
    assert_eq!(ex.get("vip").map(String::as_str), Some("true"));
    assert!(!ex.contains_key("gone"));
    assert!(parse_example("").expect("empty").is_empty());
    assert_eq!(
        parse_example(r#"{"a":[1]}"#).expect_err("array").code,
        Code::InvalidParameter
    );
    assert!(
        parse_example("{")
            .expect_err("malformed")
            .message
            .contains("Example")
    );
}

#[test]
fn category_and_audit_status() {
    assert_eq!(Category::parse("marketing").ok(), Some(Category::Marketing));
    assert_eq!(Category::Authentication.as_str(), "AUTHENTICATION");
    assert_eq!(
        Category::parse("PROMO").expect_err("bad").code,
        Code::InvalidParameter
    );
    assert_eq!(AuditStatus::parse("PASS").ok(), Some(AuditStatus::Pass));
    assert_eq!(AuditStatus::Disabled.as_str(), "disabled");
    assert_eq!(
        AuditStatus::parse("approved").expect_err("bad").code,
        Code::AuditStatusNotSupport
    );
}
