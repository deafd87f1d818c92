//! What a simulated user can tap on an outbound message — a template's quick replies, an
//! interactive message's reply buttons or list rows — and the Cloud API inbound message each tap
//! sends (whatsapp-cloud-api.md §3.5): `button` with the quick reply's payload, `interactive`
//! `button_reply` / `list_reply` with the id, each quoting the message by its wamid.

use opencams_domain::SendType;
use opencams_domain::template::{ButtonType, Component, ComponentType, parse_components};
use opencams_store::{MessageRow, TemplateRow};
use serde_json::{Value, json};

/// Something the user can tap on a message, and the inbound message tapping it sends.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Tap {
    pub label: String,
    /// The payload or id it sends, shown on hover.
    pub detail: Option<String>,
    pub message: Value,
}

/// What the user can tap on outbound message `m`: a template's quick replies (the inbound
/// `button` carries the payload given at send, else the label, as WhatsApp's does), an
/// interactive message's reply buttons or list rows. Each reply quotes `m` by its wamid; none
/// before it has one.
pub(super) fn taps(m: &MessageRow, template: Option<&TemplateRow>) -> Vec<Tap> {
    let Some(wamid) = &m.provider_id else {
        return Vec::new();
    };
    let context = json!({"from": m.sender, "id": wamid});
    let body: Value = serde_json::from_str(&m.body).unwrap_or(Value::Null);
    if m.send_type == SendType::Template {
        let payload: Vec<String> =
            serde_json::from_value(body["payload"].clone()).unwrap_or_default();
        let components: Vec<Component> = template
            .and_then(|t| parse_components(&t.components).ok())
            .unwrap_or_default();
        return components
            .iter()
            .filter(|c| c.kind == ComponentType::Buttons)
            .flat_map(|c| &c.buttons)
            .filter(|b| b.kind == ButtonType::QuickReply)
            .enumerate()
            .map(|(i, b)| {
                let label = b.text.clone().unwrap_or_default();
                let p = payload
                    .get(i)
                    .filter(|p| !p.is_empty())
                    .cloned()
                    .unwrap_or_else(|| label.clone());
                Tap {
                    detail: Some(format!("payload {p}")),
                    message: json!({"type": "button", "context": context, "button": {"payload": p, "text": label}}),
                    label,
                }
            })
            .collect();
    }
    let content = &body["content"];
    if content["type"] != "interactive" {
        return Vec::new();
    }
    let obj = &content["cloud"];
    let str_of = |v: &Value, k: &str| v[k].as_str().unwrap_or("").to_string();
    let interactive = |kind: &str, reply: Value| json!({"type": "interactive", "context": context, "interactive": {"type": kind, kind: reply}});
    match obj["type"].as_str() {
        Some("button") => obj["action"]["buttons"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|b| {
                let (id, title) = (str_of(&b["reply"], "id"), str_of(&b["reply"], "title"));
                Tap {
                    detail: Some(format!("id {id}")),
                    message: interactive("button_reply", json!({"id": id, "title": title})),
                    label: title,
                }
            })
            .collect(),
        Some("list") => obj["action"]["sections"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|s| s["rows"].as_array().into_iter().flatten())
            .map(|r| {
                let (id, title) = (str_of(r, "id"), str_of(r, "title"));
                let mut reply = json!({"id": id, "title": title});
                if let Some(d) = r["description"].as_str().filter(|d| !d.is_empty()) {
                    reply["description"] = json!(d);
                }
                Tap {
                    detail: Some(format!("id {id}")),
                    message: interactive("list_reply", reply),
                    label: title,
                }
            })
            .collect(),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn out(body: Value, send_type: SendType) -> MessageRow {
        MessageRow {
            id: "m1".into(),
            sender: "8613600000000".into(),
            recipient: "8613900000000".into(),
            send_type,
            provider_id: Some("wamid.OUT".into()),
            body: body.to_string(),
            ..Default::default()
        }
    }

    #[test]
    fn taps_send_the_inbound_whatsapp_sends() {
        let list = out(
            json!({"content": {"type": "interactive", "cloud": {"type": "list", "body": {"text": "Pick"},
                   "action": {"button": "Options", "sections": [
                     {"title": "Fast", "rows": [{"id": "exp", "title": "Express", "description": "Next day"}]},
                     {"title": "Cheap", "rows": [{"id": "std", "title": "Standard"}]}]}}}}),
            SendType::Message,
        );
        let t = taps(&list, None);
        assert_eq!(t.len(), 2);
        assert_eq!(
            t[0].message,
            json!({"type": "interactive", "context": {"from": "8613600000000", "id": "wamid.OUT"},
                   "interactive": {"type": "list_reply", "list_reply": {"id": "exp", "title": "Express", "description": "Next day"}}})
        );
        assert_eq!(
            t[1].message["interactive"]["list_reply"],
            json!({"id": "std", "title": "Standard"})
        );
        let buttons = out(
            json!({"content": {"type": "interactive", "cloud": {"type": "button", "body": {"text": "Ok?"},
                   "action": {"buttons": [{"type": "reply", "reply": {"id": "yes", "title": "Yes"}}]}}}}),
            SendType::Message,
        );
        assert_eq!(
            taps(&buttons, None)[0].message["interactive"],
            json!({"type": "button_reply", "button_reply": {"id": "yes", "title": "Yes"}})
        );
        let mut unsent = buttons.clone();
        unsent.provider_id = None;
        assert!(
            taps(&unsent, None).is_empty(),
            "nothing to quote before it has a wamid"
        );
        let text = out(
            json!({"content": {"type": "text", "cloud": {"body": "hi"}}}),
            SendType::Message,
        );
        assert!(taps(&text, None).is_empty());
    }

    #[test]
    fn template_quick_replies_carry_their_payload_or_their_label() {
        let m = out(
            json!({"templateParams": {}, "payload": ["track-1"]}),
            SendType::Template,
        );
        let t = TemplateRow {
            id: 1,
            account_id: 1,
            space_id: "cams-1".into(),
            code: "c".into(),
            name: "n".into(),
            language: "en_US".into(),
            category: "UTILITY".into(),
            template_type: "WHATSAPP".into(),
            components: r#"[{"Type":"BODY","Text":"Hi"},{"Type":"BUTTONS","Buttons":[{"Type":"URL","Text":"Web","Url":"https://x.example"},{"Type":"QUICK_REPLY","Text":"Track"},{"Type":"QUICK_REPLY","Text":"Stop"}]}]"#.into(),
            example: "{}".into(),
            audit_status: opencams_domain::template::AuditStatus::Pass,
            reason: String::new(),
            quality_score: String::new(),
            message_send_ttl: None,
            category_change_paused: false,
            product_set_id: None,
            provider_id: None,
            review_due_at: None,
            created_at: 0,
            updated_at: 0,
        };
        let taps = taps(&m, Some(&t));
        let labels: Vec<&str> = taps.iter().map(|t| t.label.as_str()).collect();
        assert_eq!(labels, ["Track", "Stop"]);
        assert_eq!(
            taps[0].message,
            json!({"type": "button", "context": {"from": "8613600000000", "id": "wamid.OUT"},
                   "button": {"payload": "track-1", "text": "Track"}})
        );
        assert_eq!(taps[1].message["button"]["payload"], "Stop");
    }
}
