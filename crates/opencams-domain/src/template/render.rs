//! Rendering a template send: the Cloud API `template` object (whatsapp-cloud-api.md §1.9) with
//! named parameters, and the plain text the user reads (for history and the console).
//!
//! Rendering trusts its input: the server runs `check_send_params` first, so a missing value here
//! renders as an empty string rather than failing.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use super::model::{Button, ButtonType, Category, Component, ComponentType, HeaderFormat};
use super::placeholder::{coupon_var, names, substitute};
use super::vars::{AUTH_CODE_KEY, OFFER_EXPIRATION_KEY, url_var};

/// The per-send values.
#[derive(Debug, Clone)]
pub struct RenderInput<'a> {
    /// `TemplateParams`.
    pub params: &'a BTreeMap<String, String>,
    /// `Payload`: `payload[i]` goes to the i-th QUICK_REPLY button.
    pub payload: &'a [String],
    /// The MPM button action, CAMS `ProductAction` (PascalCase) or Cloud API shape.
    pub mpm_action: Option<Value>,
    /// The FLOW button action, CAMS `FlowAction` (`FlowToken`, `FlowActionData`) or Cloud shape.
    pub flow_action: Option<Value>,
    /// The CATALOG button's thumbnail product retailer id.
    pub catalog_thumbnail: Option<String>,
}

/// Display order of components, which Meta fixes regardless of how the template lists them.
const ORDER: [ComponentType; 6] = [
    ComponentType::Header,
    ComponentType::LimitedTimeOffer,
    ComponentType::Body,
    ComponentType::Footer,
    ComponentType::Buttons,
    ComponentType::Carousel,
];

fn ordered(components: &[Component]) -> impl Iterator<Item = &Component> {
    ORDER
        .iter()
        .flat_map(move |k| components.iter().filter(move |c| c.kind == *k))
}

fn param(params: &BTreeMap<String, String>, name: &str) -> String {
    params.get(name).cloned().unwrap_or_default()
}

fn text_param(params: &BTreeMap<String, String>, name: &str) -> Value {
    json!({"type": "text", "parameter_name": name, "text": param(params, name)})
}

/// The Cloud API `template` object of a send.
pub fn render_cloud(
    name: &str,
    language: &str,
    category: Category,
    components: &[Component],
    input: &RenderInput,
) -> Value {
    let out = if category == Category::Authentication {
        let code = param(input.params, AUTH_CODE_KEY);
        vec![
            json!({"type": "body", "parameters": [{"type": "text", "text": code}]}),
            json!({"type": "button", "sub_type": "url", "index": "0", "parameters": [{"type": "text", "text": code}]}),
        ]
    } else {
        let mut out = Vec::new();
        for c in ordered(components) {
            match c.kind {
                ComponentType::Header => out.extend(header_params(c, input.params)),
                ComponentType::Body => out.extend(body_params(c, input.params)),
                ComponentType::LimitedTimeOffer => out.extend(offer_params(c, input.params)),
                ComponentType::Buttons => out.extend(button_params(&c.buttons, input, true)),
                ComponentType::Carousel => out.push(carousel(c, input)),
                ComponentType::Footer => {}
            }
        }
        out
    };
    let mut template = json!({"name": name, "language": {"code": language}});
    if !out.is_empty() {
        template["components"] = Value::Array(out);
    }
    template
}

fn header_params(c: &Component, params: &BTreeMap<String, String>) -> Option<Value> {
    let parameter = match c.format.unwrap_or(HeaderFormat::Text) {
        HeaderFormat::Text => {
            let var = names(c.text_or_empty()).into_iter().next()?;
            text_param(params, &var)
        }
        HeaderFormat::Location => {
            let pick = |key: &str, stored: &Option<String>| {
                params
                    .get(key)
                    .cloned()
                    .or_else(|| stored.clone())
                    .unwrap_or_default()
            };
            let mut loc = Map::new();
            loc.insert("latitude".into(), pick("latitude", &c.latitude).into());
            loc.insert("longitude".into(), pick("longitude", &c.longitude).into());
            for (key, stored, field) in [
                ("locationName", &c.location_name, "name"),
                ("locationAddress", &c.location_address, "address"),
            ] {
                let v = pick(key, stored);
                if !v.is_empty() {
                    loc.insert(field.into(), v.into());
                }
            }
            json!({"type": "location", "location": loc})
        }
        media => {
            let kind = media.as_str().to_ascii_lowercase();
            let mut obj = Map::new();
            obj.insert("link".into(), c.url.clone().unwrap_or_default().into());
            if let (HeaderFormat::Document, Some(f)) = (media, &c.file_name) {
                obj.insert("filename".into(), f.clone().into());
            }
            json!({"type": kind, kind.clone(): obj})
        }
    };
    Some(json!({"type": "header", "parameters": [parameter]}))
}

fn body_params(c: &Component, params: &BTreeMap<String, String>) -> Option<Value> {
    let vars = names(c.text_or_empty());
    if vars.is_empty() {
        return None;
    }
    let parameters: Vec<Value> = vars.iter().map(|v| text_param(params, v)).collect();
    Some(json!({"type": "body", "parameters": parameters}))
}

fn offer_params(c: &Component, params: &BTreeMap<String, String>) -> Option<Value> {
    if c.has_expiration != Some(true) {
        return None;
    }
    let ms: i64 = params.get(OFFER_EXPIRATION_KEY)?.trim().parse().ok()?;
    Some(json!({"type": "limited_time_offer", "parameters": [
        {"type": "limited_time_offer", "limited_time_offer": {"expiration_time_ms": ms}}
    ]}))
}

/// One component per button that needs a value. `with_payload`: top-level quick replies take
/// `Payload[i]`; carousel card quick replies do not (CAMS has no per-card payload).
fn button_params(buttons: &[Button], input: &RenderInput, with_payload: bool) -> Vec<Value> {
    let mut out = Vec::new();
    let mut quick = 0;
    for (i, b) in buttons.iter().enumerate() {
        let index = i.to_string();
        let (sub_type, parameter) = match b.kind {
            ButtonType::Url => match url_var(b.url.as_deref()) {
                Some(var) => (
                    "url",
                    json!({"type": "text", "text": param(input.params, &var)}),
                ),
                None => continue,
            },
            ButtonType::QuickReply => {
                let p = if with_payload {
                    input.payload.get(quick)
                } else {
                    None
                };
                quick += 1;
                match p {
                    Some(p) if !p.is_empty() => {
                        ("quick_reply", json!({"type": "payload", "payload": p}))
                    }
                    _ => continue,
                }
            }
            ButtonType::CopyCode => {
                let raw = b.coupon_code.as_deref().unwrap_or("");
                let code = match coupon_var(raw) {
                    Some(var) => param(input.params, var),
                    None => raw.to_string(),
                };
                (
                    "copy_code",
                    json!({"type": "coupon_code", "coupon_code": code}),
                )
            }
            ButtonType::Flow => match &input.flow_action {
                Some(action) => (
                    "flow",
                    json!({"type": "action", "action": snake_keys(action, false)}),
                ),
                None => continue,
            },
            ButtonType::Catalog => {
                let mut action = Map::new();
                if let Some(t) = &input.catalog_thumbnail {
                    action.insert("thumbnail_product_retailer_id".into(), t.clone().into());
                }
                ("catalog", json!({"type": "action", "action": action}))
            }
            ButtonType::Mpm => match &input.mpm_action {
                Some(action) => (
                    "mpm",
                    json!({"type": "action", "action": snake_keys(action, true)}),
                ),
                None => continue,
            },
            ButtonType::PhoneNumber | ButtonType::OneTap | ButtonType::ZeroTap => continue,
        };
        out.push(json!({"type": "button", "sub_type": sub_type, "index": index, "parameters": [parameter]}));
    }
    out
}

fn carousel(c: &Component, input: &RenderInput) -> Value {
    let cards: Vec<Value> = c
        .cards
        .iter()
        .enumerate()
        .map(|(i, card)| {
            let mut comps = Vec::new();
            for cc in ordered(&card.components) {
                match cc.kind {
                    ComponentType::Header => comps.extend(header_params(cc, input.params)),
                    ComponentType::Body => comps.extend(body_params(cc, input.params)),
                    ComponentType::Buttons => {
                        comps.extend(button_params(&cc.buttons, input, false))
                    }
                    _ => {}
                }
            }
            json!({"card_index": i, "components": comps})
        })
        .collect();
    json!({"type": "carousel", "cards": cards})
}

/// `FlowToken` → `flow_token`. `deep` converts nested keys too (MPM sections); a flow's
/// `flow_action_data` is the caller's own data and keeps its keys.
fn snake_keys(v: &Value, deep: bool) -> Value {
    match v {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| {
                    (
                        to_snake(k),
                        if deep { snake_keys(v, true) } else { v.clone() },
                    )
                })
                .collect(),
        ),
        Value::Array(items) if deep => {
            Value::Array(items.iter().map(|v| snake_keys(v, true)).collect())
        }
        other => other.clone(),
    }
}

fn to_snake(key: &str) -> String {
    let mut out = String::with_capacity(key.len() + 4);
    for (i, ch) in key.chars().enumerate() {
        if ch.is_ascii_uppercase() {
            if i > 0 {
                out.push('_');
            }
            out.push(ch.to_ascii_lowercase());
        } else {
            out.push(ch);
        }
    }
    out
}

/// What the user would read: header text, body and footer separated by blank lines, then the
/// button labels as `[label]` lines. Unknown variables stay as `{{name}}`.
pub fn render_text(components: &[Component], params: &BTreeMap<String, String>) -> String {
    let auth = super::vars::is_authentication(components);
    let fill = |text: &str| substitute(text, |n| params.get(n).cloned());
    let labels = |buttons: &[Button]| -> Option<String> {
        let lines: Vec<String> = buttons
            .iter()
            .filter_map(|b| b.text.as_ref())
            .map(|t| format!("[{t}]"))
            .collect();
        (!lines.is_empty()).then(|| lines.join("\n"))
    };
    let mut blocks: Vec<String> = Vec::new();
    for c in ordered(components) {
        let block = match c.kind {
            ComponentType::Body if auth => {
                let mut body = format!(
                    "{} is your verification code.",
                    param(params, AUTH_CODE_KEY)
                );
                if c.add_secret_recommendation == Some(true) {
                    body.push_str(" For your security, do not share this code.");
                }
                Some(body)
            }
            ComponentType::Footer if auth => c
                .code_expiration_minutes
                .map(|m| format!("This code expires in {m} minutes.")),
            ComponentType::Header
                if c.format.unwrap_or(HeaderFormat::Text) != HeaderFormat::Text =>
            {
                None
            }
            ComponentType::Header
            | ComponentType::Body
            | ComponentType::Footer
            | ComponentType::LimitedTimeOffer => c.text.as_deref().map(fill),
            ComponentType::Buttons => labels(&c.buttons),
            ComponentType::Carousel => {
                let cards: Vec<String> = c
                    .cards
                    .iter()
                    .map(|card| {
                        let parts: Vec<String> = card
                            .components
                            .iter()
                            .filter_map(|cc| match cc.kind {
                                ComponentType::Body => cc.text.as_deref().map(fill),
                                ComponentType::Buttons => labels(&cc.buttons),
                                _ => None,
                            })
                            .collect();
                        parts.join("\n")
                    })
                    .collect();
                (!cards.is_empty()).then(|| cards.join("\n\n"))
            }
        };
        if let Some(b) = block.filter(|b| !b.is_empty()) {
            blocks.push(b);
        }
    }
    blocks.join("\n\n")
}
