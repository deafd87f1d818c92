//! Simulated users writing to a business number: builds the exact `messages` webhook of
//! whatsapp-cloud-api.md §3.4/§3.5 for every inbound type, gives media a resolvable id, and
//! opens the user's 24-hour window.

use serde_json::{Map, Value, json};

use super::config::SimNumber;
use super::errors::{SimError, webhook_error};
use super::validate::normalise_number;
use super::webhooks::{messages_envelope, secs};
use super::{Simulator, ids};

const TYPES: &[&str] = &[
    "text",
    "image",
    "video",
    "audio",
    "document",
    "sticker",
    "location",
    "contacts",
    "reaction",
    "button",
    "interactive",
    "order",
    "system",
    "request_welcome",
    "unsupported",
    "unknown",
];

impl Simulator {
    /// Makes `from` send `message` (a Cloud inbound message object without `from`, `id` and
    /// `timestamp`, e.g. `{"type":"text","text":{"body":"hi"}}`) to the business number.
    /// Returns the inbound wamid.
    pub async fn inject_inbound(
        &self,
        phone_number_id: &str,
        from: &str,
        profile_name: &str,
        message: Value,
    ) -> Result<String, SimError> {
        let number = self
            .numbers
            .lookup(phone_number_id)
            .await
            .ok_or_else(|| SimError::UnknownNumber(phone_number_id.to_string()))?;
        self.inbound_for(&number, from, profile_name, message)
    }

    pub(super) fn inbound_for(
        &self,
        number: &SimNumber,
        from: &str,
        profile_name: &str,
        message: Value,
    ) -> Result<String, SimError> {
        let from = normalise_number(from).ok_or_else(|| {
            SimError::InvalidMessage(format!("from \"{from}\" is not a phone number"))
        })?;
        let Value::Object(mut fields) = message else {
            return Err(SimError::InvalidMessage(
                "the message must be a JSON object".into(),
            ));
        };
        let kind = fields
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        if !TYPES.contains(&kind.as_str()) {
            return Err(SimError::InvalidMessage(format!(
                "type \"{kind}\" must be one of {}",
                TYPES.join(", ")
            )));
        }
        check_shape(&kind, &fields)?;
        let now = self.clock.now_ms();
        let wamid = ids::wamid(&from);
        let mut st = self.lock();
        if matches!(
            kind.as_str(),
            "image" | "video" | "audio" | "document" | "sticker"
        ) {
            let obj = fields.entry(kind.clone()).or_insert_with(|| json!({}));
            if !obj.is_object() {
                return Err(SimError::InvalidMessage(format!(
                    "{kind} must be an object"
                )));
            }
            if obj.get("id").is_none() {
                let mime = obj
                    .get("mime_type")
                    .and_then(Value::as_str)
                    .unwrap_or(default_mime(&kind))
                    .to_string();
                let media = super::media::Media::new(
                    &number.phone_number_id,
                    &mime,
                    placeholder(&kind, &wamid),
                    now,
                );
                obj["id"] = json!(media.id);
                obj["mime_type"] = json!(media.mime_type);
                obj["sha256"] = json!(media.sha256);
                st.media.insert(media.id.clone(), media);
            }
            match kind.as_str() {
                "audio" if obj.get("voice").is_none() => obj["voice"] = json!(false),
                "sticker" if obj.get("animated").is_none() => obj["animated"] = json!(false),
                "document" if obj.get("filename").is_none() => {
                    obj["filename"] = json!("document.pdf")
                }
                _ => {}
            }
        }
        if matches!(kind.as_str(), "unsupported" | "unknown") && !fields.contains_key("errors") {
            let mut e = webhook_error(131051, "Message type is currently not supported.");
            e["message"] = json!("Message type unknown");
            fields.insert("errors".into(), json!([e]));
        }
        let mut msg = Map::new();
        msg.insert("from".into(), json!(from));
        msg.insert("id".into(), json!(wamid));
        msg.insert("timestamp".into(), json!(secs(now)));
        for (k, v) in fields {
            if !matches!(k.as_str(), "from" | "id" | "timestamp") {
                msg.insert(k, v);
            }
        }
        let mut value = Map::new();
        // System notices (number changes) come without a contacts block.
        if kind != "system" {
            value.insert(
                "contacts".into(),
                json!([ { "profile": { "name": profile_name }, "wa_id": from, "user_id": super::ids::bsuid(&from) } ]),
            );
            st.windows
                .insert((number.phone_number_id.clone(), from.clone()), now);
        }
        value.insert("messages".into(), json!([Value::Object(msg)]));
        st.inbound_ids.insert(wamid.clone());
        st.enqueue_webhook(
            messages_envelope(number, Value::Object(value)),
            now,
            self.cfg.history_limit,
        );
        drop(st);
        self.wake.notify_one();
        Ok(wamid)
    }
}

/// Light checks so a typo in a test fails loudly instead of producing a webhook Meta never sends.
fn check_shape(kind: &str, f: &Map<String, Value>) -> Result<(), SimError> {
    let has = |path: &[&str]| {
        let mut v = f.get(path[0]);
        for k in &path[1..] {
            v = v.and_then(|x| x.get(k));
        }
        v.is_some()
    };
    let need: &[&[&str]] = match kind {
        "text" => &[&["text", "body"]],
        "location" => &[&["location", "latitude"], &["location", "longitude"]],
        "contacts" => &[&["contacts"]],
        "reaction" => &[&["reaction", "message_id"]],
        "button" => &[&["button", "payload"], &["button", "text"]],
        "interactive" => &[&["interactive", "type"]],
        "order" => &[&["order", "product_items"]],
        "system" => &[&["system", "type"]],
        _ => &[],
    };
    match need.iter().find(|p| !has(p)) {
        Some(p) => Err(SimError::InvalidMessage(format!(
            "{kind} message needs {}",
            p.join(".")
        ))),
        None => Ok(()),
    }
}

fn default_mime(kind: &str) -> &'static str {
    match kind {
        "image" => "image/jpeg",
        "video" => "video/mp4",
        "audio" => "audio/ogg; codecs=opus",
        "document" => "application/pdf",
        _ => "image/webp",
    }
}

/// Stand-in content for media a simulated user sends.
fn placeholder(kind: &str, wamid: &str) -> Vec<u8> {
    format!("simulated {kind} content for {wamid}").into_bytes()
}
