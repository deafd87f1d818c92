//! The body of Meta's `POST /{waba-id}/message_templates` for a CAMS draft
//! (whatsapp-cloud-api.md §5): `parameter_format: "NAMED"`, named examples from `Example`.
//!
//! A media header's `header_handle` example holds the draft's sample URL; the Cloud channel must
//! upload it with the Resumable Upload API and put the returned handle there before submitting.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use super::model::{
    Button, ButtonType, Category, Component, ComponentType, HeaderFormat, TemplateDraft,
};
use super::placeholder::{coupon_var, names, substitute};
use super::vars::url_var;

/// The create request body for Meta.
pub fn to_meta_create(draft: &TemplateDraft) -> Value {
    let auth = draft.category == Category::Authentication;
    let components: Vec<Value> = draft
        .components
        .iter()
        .map(|c| component(c, &draft.example, auth))
        .collect();
    let mut body = json!({
        "name": draft.name,
        "language": draft.language,
        "category": draft.category.as_str(),
        "parameter_format": "NAMED",
        "components": components,
    });
    if let Some(ttl) = draft.message_send_ttl_seconds {
        body["message_send_ttl_seconds"] = ttl.into();
    }
    body
}

fn named_examples(text: &str, example: &BTreeMap<String, String>) -> Value {
    let list: Vec<Value> = names(text)
        .iter()
        .map(|n| json!({"param_name": n, "example": example.get(n).cloned().unwrap_or_default()}))
        .collect();
    Value::Array(list)
}

fn component(c: &Component, example: &BTreeMap<String, String>, auth: bool) -> Value {
    let mut m = Map::new();
    m.insert("type".into(), c.kind.as_str().into());
    match c.kind {
        ComponentType::Header => {
            let format = c.format.unwrap_or(HeaderFormat::Text);
            m.insert("format".into(), format.as_str().into());
            match format {
                HeaderFormat::Text => {
                    let text = c.text_or_empty();
                    m.insert("text".into(), text.into());
                    if !names(text).is_empty() {
                        m.insert(
                            "example".into(),
                            json!({"header_text_named_params": named_examples(text, example)}),
                        );
                    }
                }
                HeaderFormat::Location => {}
                _ => {
                    let url = c.url.clone().unwrap_or_default();
                    m.insert("example".into(), json!({"header_handle": [url]}));
                }
            }
        }
        ComponentType::Body if auth => {
            m.insert(
                "add_security_recommendation".into(),
                (c.add_secret_recommendation == Some(true)).into(),
            );
        }
        ComponentType::Body => {
            let text = c.text_or_empty();
            m.insert("text".into(), text.into());
            if !names(text).is_empty() {
                m.insert(
                    "example".into(),
                    json!({"body_text_named_params": named_examples(text, example)}),
                );
            }
        }
        ComponentType::Footer if auth => {
            if let Some(minutes) = c.code_expiration_minutes {
                m.insert("code_expiration_minutes".into(), minutes.into());
            }
        }
        ComponentType::Footer => {
            m.insert("text".into(), c.text_or_empty().into());
        }
        ComponentType::Buttons => {
            let buttons: Vec<Value> = c.buttons.iter().map(|b| button(b, example, auth)).collect();
            m.insert("buttons".into(), buttons.into());
        }
        ComponentType::Carousel => {
            let cards: Vec<Value> = c
                .cards
                .iter()
                .map(|card| {
                    let comps: Vec<Value> = card
                        .components
                        .iter()
                        .map(|cc| component(cc, example, false))
                        .collect();
                    json!({"components": comps})
                })
                .collect();
            m.insert("cards".into(), cards.into());
        }
        ComponentType::LimitedTimeOffer => {
            m.insert(
                "limited_time_offer".into(),
                json!({"text": c.text_or_empty(), "has_expiration": c.has_expiration == Some(true)}),
            );
        }
    }
    Value::Object(m)
}

fn button(b: &Button, example: &BTreeMap<String, String>, auth: bool) -> Value {
    let text = b.text.clone().unwrap_or_default();
    match b.kind {
        ButtonType::QuickReply => json!({"type": "QUICK_REPLY", "text": text}),
        ButtonType::PhoneNumber => {
            json!({"type": "PHONE_NUMBER", "text": text, "phone_number": b.phone_number.clone().unwrap_or_default()})
        }
        ButtonType::Url => {
            let url = b.url.clone().unwrap_or_default();
            match url_var(Some(&url)) {
                // Meta numbers URL variables even in NAMED templates: the suffix is `{{1}}`.
                Some(var) => {
                    let sample = substitute(&url, |_| example.get(&var).cloned());
                    json!({"type": "URL", "text": text, "url": substitute(&url, |_| Some("{{1}}".into())), "example": [sample]})
                }
                None => json!({"type": "URL", "text": text, "url": url}),
            }
        }
        ButtonType::CopyCode if auth => {
            json!({"type": "OTP", "otp_type": "COPY_CODE", "text": text})
        }
        ButtonType::CopyCode => {
            let raw = b.coupon_code.clone().unwrap_or_default();
            let sample = match coupon_var(&raw) {
                Some(var) => example.get(var).cloned().unwrap_or_default(),
                None => raw,
            };
            json!({"type": "COPY_CODE", "example": sample})
        }
        ButtonType::OneTap | ButtonType::ZeroTap => {
            let mut apps: Vec<Value> = b
                .supported_apps
                .iter()
                .map(
                    |a| json!({"package_name": a.package_name, "signature_hash": a.signature_hash}),
                )
                .collect();
            if apps.is_empty() && b.package_name.is_some() {
                apps.push(
                    json!({"package_name": b.package_name, "signature_hash": b.signature_hash}),
                );
            }
            let mut v = json!({
                "type": "OTP",
                "otp_type": b.kind.as_str(),
                "text": text,
                "autofill_text": b.autofill_text,
                "supported_apps": apps,
            });
            if b.kind == ButtonType::ZeroTap {
                v["zero_tap_terms_accepted"] = true.into();
            }
            v
        }
        ButtonType::Flow => {
            let mut v = json!({"type": "FLOW", "text": text, "flow_id": b.flow_id});
            if let Some(action) = b.flow_action {
                v["flow_action"] = action.as_str().into();
            }
            if let Some(screen) = &b.navigate_screen {
                v["navigate_screen"] = screen.clone().into();
            }
            v
        }
        ButtonType::Mpm | ButtonType::Catalog => json!({"type": b.kind.as_str(), "text": text}),
    }
}
