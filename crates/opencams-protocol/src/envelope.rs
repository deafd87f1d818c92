//! Response envelopes (cams-api.md §1.5, §1.6): success `{RequestId, Code:"OK", Message, …}` and
//! errors `{RequestId, HostId, Code, Message, Recommend}` — always JSON, never XML.

use rand::Rng;
use serde_json::{Map, Value};

use crate::CamsError;

/// A request id in Alibaba's shape: upper-case hex UUID.
pub fn request_id() -> String {
    let b: [u8; 16] = rand::thread_rng().r#gen();
    let h = hex::encode_upper(b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// A 32-hex-character signature nonce, as the SDKs make them.
pub fn nonce() -> String {
    let b: [u8; 16] = rand::thread_rng().r#gen();
    hex::encode(b)
}

/// The success body: `RequestId`, `Code`, `Message` first, then the action's fields.
pub fn success(request_id: &str, fields: Map<String, Value>) -> Value {
    let mut m = Map::with_capacity(fields.len() + 3);
    m.insert("RequestId".into(), Value::String(request_id.into()));
    m.insert("Code".into(), Value::String("OK".into()));
    m.insert("Message".into(), Value::String("OK".into()));
    m.extend(fields);
    Value::Object(m)
}

/// The error body. `host` becomes `HostId`; `auth_action` adds `AccessDeniedDetail` for RAM-style
/// denials.
pub fn error(request_id: &str, host: &str, err: &CamsError, auth_action: Option<&str>) -> Value {
    let code = err.code.as_str();
    let mut m = Map::new();
    m.insert("RequestId".into(), Value::String(request_id.into()));
    m.insert("HostId".into(), Value::String(host.into()));
    m.insert("Code".into(), Value::String(code.to_string()));
    m.insert("Message".into(), Value::String(err.message.clone()));
    m.insert(
        "Recommend".into(),
        Value::String(format!("https://opencams.invalid/errors/{code}")),
    );
    if let Some(action) = auth_action {
        m.insert(
            "AccessDeniedDetail".into(),
            serde_json::json!({
                "AuthAction": format!("cams:{action}"),
                "NoPermissionType": "ImplicitDeny",
                "PolicyType": "AccessKeyPolicy",
            }),
        );
    }
    Value::Object(m)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Code;

    #[test]
    fn ids_have_the_gateway_shape() {
        let id = request_id();
        assert_eq!(id.len(), 36);
        assert!(
            id.chars()
                .all(|c| c == '-' || c.is_ascii_digit() || c.is_ascii_uppercase())
        );
        assert_eq!(nonce().len(), 32);
    }

    #[test]
    fn envelopes() {
        let ok = success(
            "R",
            Map::from_iter([("MessageId".to_string(), Value::from("m"))]),
        );
        assert_eq!(
            ok.to_string(),
            r#"{"RequestId":"R","Code":"OK","Message":"OK","MessageId":"m"}"#
        );
        let e = error(
            "R",
            "h",
            &CamsError::of(Code::RamPermissionDeny),
            Some("SendChatappMessage"),
        );
        assert_eq!(e["Code"], "Ram.PermissionDeny");
        assert_eq!(
            e["AccessDeniedDetail"]["AuthAction"],
            "cams:SendChatappMessage"
        );
    }
}
