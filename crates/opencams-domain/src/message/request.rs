//! A stored message → the exact Cloud API request body, for the dispatcher that sends it and
//! the console that shows it. Free-form messages carry their validated Content object; template
//! messages are rendered by the template module from the stored variables, payloads and
//! actions. `biz_opaque_callback_data` carries our MessageId so every status webhook names the
//! message even before we know its wamid.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use super::Content;
use crate::SendType;
use crate::template::{self, Category, Component, RenderInput};

/// What the renderer reads of a stored message.
pub struct Stored<'a> {
    /// Our MessageId.
    pub id: &'a str,
    pub recipient: &'a str,
    pub send_type: SendType,
    /// The validated request as stored: content, template params, payload, actions (JSON).
    pub body: &'a str,
}

/// Why a stored message cannot be rendered (its template vanished or the row is damaged).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderError {
    pub code: String,
    pub description: String,
}

fn damaged(what: &str) -> RenderError {
    RenderError {
        code: "131009".into(),
        description: format!("Parameter value is not valid({what})"),
    }
}

/// A template version as the renderer needs it.
pub struct TemplateView<'a> {
    pub name: &'a str,
    pub language: &'a str,
    pub category: Category,
    pub components: &'a [Component],
}

/// Renders `m`; `context_wamid` is the provider id of the message replied to.
pub fn cloud_request(
    m: &Stored<'_>,
    template: Option<&TemplateView<'_>>,
    context_wamid: Option<&str>,
) -> Result<Value, RenderError> {
    let body: Value =
        serde_json::from_str(m.body).map_err(|_| damaged("stored body is not JSON"))?;
    let mut out = Map::new();
    out.insert("messaging_product".into(), json!("whatsapp"));
    out.insert("recipient_type".into(), json!("individual"));
    out.insert("to".into(), json!(m.recipient));
    if let Some(w) = context_wamid {
        out.insert("context".into(), json!({"message_id": w}));
    }
    if m.send_type == SendType::Template {
        let Some(t) = template else {
            return Err(RenderError {
                code: "132001".into(),
                description:
                    "Template name does not exist in the translation(the template was deleted)"
                        .into(),
            });
        };
        let params: BTreeMap<String, String> =
            serde_json::from_value(body["templateParams"].clone()).unwrap_or_default();
        let payload: Vec<String> =
            serde_json::from_value(body["payload"].clone()).unwrap_or_default();
        let mpm = body.get("productAction").filter(|v| !v.is_null()).cloned();
        let thumb = mpm
            .as_ref()
            .and_then(|a| a.get("thumbnail_product_retailer_id"))
            .and_then(Value::as_str)
            .map(String::from);
        let input = RenderInput {
            params: &params,
            payload: &payload,
            mpm_action: mpm,
            flow_action: body.get("flowAction").filter(|v| !v.is_null()).cloned(),
            catalog_thumbnail: thumb,
        };
        out.insert("type".into(), json!("template"));
        out.insert(
            "template".into(),
            template::render_cloud(t.name, t.language, t.category, t.components, &input),
        );
    } else {
        let content: Content = serde_json::from_value(body["content"].clone())
            .map_err(|_| damaged("stored content is not valid"))?;
        let (kind, obj) = content.to_cloud();
        out.insert("type".into(), json!(kind));
        out.insert(kind.into(), obj.clone());
    }
    out.insert("biz_opaque_callback_data".into(), json!(m.id));
    Ok(Value::Object(out))
}
