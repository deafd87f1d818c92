//! A stored message → the exact Cloud API request body ([`opencams_domain::message::request`],
//! shared with the console that shows it), and the text the user would read, for the SMS
//! fallback.

use std::collections::BTreeMap;

use opencams_domain::message::Content;
pub use opencams_domain::message::request::{RenderError, TemplateView};
use opencams_domain::message::request::{Stored, cloud_request};
use opencams_domain::template;
use opencams_store::MessageRow;
use serde_json::Value;

/// Renders `m`; `context_wamid` is the provider id of the message replied to.
pub fn render(
    m: &MessageRow,
    template: Option<&TemplateView<'_>>,
    context_wamid: Option<&str>,
) -> Result<Value, RenderError> {
    cloud_request(&stored(m), template, context_wamid)
}

/// What the renderer reads of `m`.
pub fn stored(m: &MessageRow) -> Stored<'_> {
    Stored {
        id: &m.id,
        recipient: &m.recipient,
        send_type: m.send_type,
        body: &m.body,
    }
}

/// The text the user would read, for the SMS fallback.
pub fn text_of(m: &MessageRow, template: Option<&TemplateView<'_>>) -> String {
    let body: Value = serde_json::from_str(&m.body).unwrap_or(Value::Null);
    match template {
        Some(t) => {
            let params: BTreeMap<String, String> =
                serde_json::from_value(body["templateParams"].clone()).unwrap_or_default();
            template::render_text(t.components, &params)
        }
        None => serde_json::from_value::<Content>(body["content"].clone())
            .map(|c| c.render_text())
            .unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    use opencams_domain::message::{MessageType, parse_content};
    use opencams_domain::template::Category;
    use serde_json::json;

    use super::*;

    fn row(send_type: &str, body: Value) -> MessageRow {
        MessageRow {
            id: "0190aabbccdd00000001".into(),
            sender: "8613600000000".into(),
            recipient: "8613900000001".into(),
            send_type: opencams_domain::SendType::parse(send_type).unwrap(),
            body: body.to_string(),
            ..Default::default()
        }
    }

    fn message(t: MessageType, content: Value) -> MessageRow {
        let c = parse_content(t, Some(&content.to_string())).unwrap();
        row("message", json!({"content": c}))
    }

    fn envelope(kind: &str, obj: Value) -> Value {
        let mut v = json!({"messaging_product": "whatsapp", "recipient_type": "individual", "to": "8613900000001", "type": kind,
                           "biz_opaque_callback_data": "0190aabbccdd00000001"});
        v[kind] = obj;
        v
    }

    #[test]
    fn golden_json_for_every_message_kind() {
        use MessageType::*;
        let cases = [
            (Text, json!({"text": "Hi"}), json!({"body": "Hi"})),
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
                json!({"link": "https://e.org/a.ogg"}),
                json!({"link": "https://e.org/a.ogg"}),
            ),
            (
                Document,
                json!({"link": "https://e.org/d.pdf", "fileName": "d.pdf"}),
                json!({"link": "https://e.org/d.pdf", "filename": "d.pdf"}),
            ),
            (
                Sticker,
                json!({"link": "https://e.org/s.webp"}),
                json!({"link": "https://e.org/s.webp"}),
            ),
            (
                Location,
                json!({"latitude": 1.5, "longitude": 2.5, "name": "N"}),
                json!({"latitude": 1.5, "longitude": 2.5, "name": "N"}),
            ),
            (
                Reaction,
                json!({"messageId": "wamid.A", "emoji": "👍"}),
                json!({"message_id": "wamid.A", "emoji": "👍"}),
            ),
            (
                Contacts,
                json!([{"name": {"formatted_name": "A B", "first_name": "A"}}]),
                json!([{"name": {"formatted_name": "A B", "first_name": "A"}}]),
            ),
            (
                Interactive,
                json!({"type": "button", "body": {"text": "b"}, "action": {"buttons": [{"type": "reply", "reply": {"id": "i", "title": "T"}}]}}),
                json!({"type": "button", "body": {"text": "b"}, "action": {"buttons": [{"type": "reply", "reply": {"id": "i", "title": "T"}}]}}),
            ),
        ];
        for (t, content, want) in cases {
            let got = render(&message(t, content), None, None).unwrap();
            assert_eq!(got, envelope(t.as_str(), want), "{t:?}");
        }
    }

    #[test]
    fn golden_json_for_a_template_reply_with_payload() {
        let components = template::parse_components(
            r#"[{"Type":"BODY","Text":"Hi {{name}}, see you."},{"Type":"BUTTONS","Buttons":[{"Type":"QUICK_REPLY","Text":"Yes"}]}]"#,
        )
        .unwrap();
        let view = TemplateView {
            name: "greet",
            language: "en_US",
            category: Category::Utility,
            components: &components,
        };
        let m = row(
            "template",
            json!({"templateParams": {"name": "Ada"}, "payload": ["yes-1"], "productAction": null, "flowAction": null}),
        );
        let got = render(&m, Some(&view), Some("wamid.PREV")).unwrap();
        assert_eq!(
            got,
            json!({"messaging_product": "whatsapp", "recipient_type": "individual", "to": "8613900000001",
                   "context": {"message_id": "wamid.PREV"}, "type": "template",
                   "template": {"name": "greet", "language": {"code": "en_US"}, "components": [
                       {"type": "body", "parameters": [{"type": "text", "parameter_name": "name", "text": "Ada"}]},
                       {"type": "button", "sub_type": "quick_reply", "index": "0", "parameters": [{"type": "payload", "payload": "yes-1"}]}]},
                   "biz_opaque_callback_data": "0190aabbccdd00000001"})
        );
        assert_eq!(text_of(&m, Some(&view)), "Hi Ada, see you.\n\n[Yes]");
        let gone = render(&m, None, None).unwrap_err();
        assert_eq!(gone.code, "132001");
    }
}
