//! Validation of `POST /{phone_number_id}/messages` bodies (whatsapp-cloud-api.md §1.1–§1.11):
//! the envelope, then the object named by `type`. Interactive and template payloads have their
//! own files. The result is a [`SendRequest`] holding what later stages need.

use std::collections::HashSet;

use serde_json::Value;

use super::errors::GraphError;
use super::fields::*;
use super::{validate_interactive, validate_template};

/// Message types accepted by the send endpoint.
pub const TYPES: &[&str] = &[
    "text",
    "image",
    "video",
    "audio",
    "document",
    "sticker",
    "location",
    "contacts",
    "reaction",
    "interactive",
    "template",
];

const ENVELOPE: &[&str] = &[
    "messaging_product",
    "recipient_type",
    "to",
    "recipient",
    "type",
    "context",
    "biz_opaque_callback_data",
    "recipient_identity_key_hash",
];

/// A media object referenced by a message: uploaded id or public link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MediaRef {
    Id(String),
    Link(String),
}

/// The template part of a send, checked later against the template store.
#[derive(Debug, Clone, PartialEq)]
pub struct TemplateRef {
    pub name: String,
    pub language: String,
    pub components: Vec<Value>,
}

/// A send that passed validation.
#[derive(Debug, Clone, PartialEq)]
pub struct SendRequest {
    /// Digits only (the `wa_id` unless remapped).
    pub to: String,
    /// `to` as the client sent it, echoed as `contacts[].input`.
    pub input: String,
    pub kind: String,
    pub biz_opaque: Option<String>,
    pub media: Vec<MediaRef>,
    pub template: Option<TemplateRef>,
}

/// Validates a send body. `strict` rejects unknown top-level keys (Meta does for most).
pub fn validate_send(body: &Value, strict: bool) -> Result<SendRequest, GraphError> {
    let top = body
        .as_object()
        .ok_or_else(|| GraphError::param("The request body must be a JSON object."))?;
    if strict
        && let Some(key) = top
            .keys()
            .find(|k| !ENVELOPE.contains(&k.as_str()) && !TYPES.contains(&k.as_str()))
    {
        return Err(GraphError::param(format!(
            "Unexpected key \"{key}\" on param \"message\"."
        )));
    }
    match top.get("messaging_product").and_then(Value::as_str) {
        Some("whatsapp") => {}
        Some(other) => {
            return Err(GraphError::param(format!(
                "Param messaging_product must be \"whatsapp\", got \"{other}\"."
            )));
        }
        None => {
            return Err(GraphError::param(
                "The parameter messaging_product is required.",
            ));
        }
    }
    match opt_str(top, "recipient_type", "")? {
        None | Some("individual") => {}
        Some("group") => {
            return Err(GraphError::invalid(
                "Group messaging is not supported by the simulator.",
            ));
        }
        Some(other) => {
            return Err(GraphError::invalid(format!(
                "Param recipient_type \"{other}\" is not valid; use \"individual\"."
            )));
        }
    }
    let input = match top.get("to") {
        Some(Value::String(s)) if !s.is_empty() => s.clone(),
        Some(Value::String(_)) | None | Some(Value::Null) => {
            return Err(GraphError::param("The parameter to is required."));
        }
        Some(_) => return Err(GraphError::param("Param to must be a string.")),
    };
    let to = normalise_number(&input)
        .ok_or_else(|| GraphError::param(format!("Param to \"{input}\" is not a valid phone number (international format, 7 to 15 digits).")))?;
    let kind = match opt_str(top, "type", "")? {
        Some(t) => t.to_string(),
        None if top.contains_key("text") => "text".to_string(),
        None => return Err(GraphError::param("The parameter type is required.")),
    };
    if !TYPES.contains(&kind.as_str()) {
        return Err(GraphError::param(format!(
            "Param type \"{kind}\" must be one of {}.",
            TYPES.join(", ")
        )));
    }
    if let Some(ctx) = opt_obj(top, "context", "")? {
        req_str(ctx, "message_id", "context")?;
    }
    let biz_opaque = opt_str_max(top, "biz_opaque_callback_data", 512, "")?.map(str::to_string);

    let mut media = Vec::new();
    let mut template = None;
    if kind == "contacts" {
        contacts(top)?;
        return Ok(SendRequest {
            to,
            input,
            kind,
            biz_opaque,
            media,
            template,
        });
    }
    let content = req_obj(top, &kind, "")?;
    match kind.as_str() {
        "text" => {
            req_str_max(content, "body", 4096, "text")?;
            opt_bool(content, "preview_url", "text")?;
        }
        "image" | "video" | "audio" | "document" | "sticker" => {
            media.push(media_object(content, &kind, true)?)
        }
        "location" => location(content, "location")?,
        "reaction" => reaction(content)?,
        "interactive" => validate_interactive::validate(content, &mut media)?,
        "template" => template = Some(validate_template::validate(content, &mut media)?),
        _ => {}
    }
    Ok(SendRequest {
        to,
        input,
        kind,
        biz_opaque,
        media,
        template,
    })
}

/// Strips `+`, spaces, dashes and brackets; the rest must be 7–15 digits.
pub fn normalise_number(s: &str) -> Option<String> {
    let digits: String = s
        .chars()
        .filter(|c| !matches!(c, '+' | ' ' | '-' | '(' | ')'))
        .collect();
    let ok = (7..=15).contains(&digits.len()) && digits.chars().all(|c| c.is_ascii_digit());
    ok.then_some(digits)
}

/// `{id}` xor `{link}`, plus `caption`/`filename` only where Meta allows them. `in_message` is
/// false for template header parameters, which take no caption.
pub fn media_object(o: &Obj, kind: &str, in_message: bool) -> Result<MediaRef, GraphError> {
    let id = opt_str(o, "id", kind)?.filter(|s| !s.is_empty());
    let link = opt_str(o, "link", kind)?.filter(|s| !s.is_empty());
    let media = match (id, link) {
        (Some(_), Some(_)) => {
            return Err(GraphError::invalid(format!(
                "Param {kind} must contain either id or link, not both."
            )));
        }
        (None, None) => return Err(GraphError::missing(&format!("{kind}.id or {kind}.link"))),
        (Some(id), None) => MediaRef::Id(id.to_string()),
        (None, Some(link)) if is_http_url(link) => MediaRef::Link(link.to_string()),
        (None, Some(link)) => {
            return Err(GraphError::invalid(format!(
                "Param {kind}.link \"{link}\" is not a valid http(s) URL."
            )));
        }
    };
    let captioned = matches!(kind, "image" | "video" | "document");
    if o.contains_key("caption") {
        if !captioned || !in_message {
            return Err(GraphError::invalid(format!(
                "Param {kind}.caption is not allowed for this media."
            )));
        }
        opt_str_max(o, "caption", 1024, kind)?;
    }
    if o.contains_key("filename") {
        if kind != "document" {
            return Err(GraphError::invalid(format!(
                "Param {kind}.filename is only allowed for documents."
            )));
        }
        opt_str_max(o, "filename", 240, kind)?;
    }
    Ok(media)
}

pub fn location(o: &Obj, path: &str) -> Result<(), GraphError> {
    for (key, limit) in [("latitude", 90.0), ("longitude", 180.0)] {
        let v = o
            .get(key)
            .ok_or_else(|| GraphError::missing(&join(path, key)))?;
        let n = number_like(v)
            .ok_or_else(|| GraphError::param(format!("Param {path}.{key} must be a number.")))?;
        if !n.is_finite() || n.abs() > limit {
            return Err(GraphError::invalid(format!(
                "Param {path}.{key} must be between -{limit} and {limit}."
            )));
        }
    }
    opt_str_max(o, "name", 1000, path)?;
    opt_str_max(o, "address", 1000, path)?;
    Ok(())
}

fn contacts(top: &Obj) -> Result<(), GraphError> {
    let list = req_array(top, "contacts", "")?;
    if list.is_empty() {
        return Err(GraphError::missing("contacts[0]"));
    }
    if list.len() > 5 {
        return Err(GraphError::invalid(format!(
            "Param contacts has {} entries; the maximum is 5.",
            list.len()
        )));
    }
    for (i, c) in list.iter().enumerate() {
        let path = format!("contacts[{i}]");
        let c = item_obj(c, &path)?;
        let name = req_obj(c, "name", &path)?;
        req_str(name, "formatted_name", &format!("{path}.name"))?;
        for key in ["phones", "emails", "addresses", "urls"] {
            for (j, item) in opt_array(c, key, &path)?.iter().enumerate() {
                item_obj(item, &format!("{path}.{key}[{j}]"))?;
            }
        }
        if let Some(b) = opt_str(c, "birthday", &path)?
            && !is_date(b)
        {
            return Err(GraphError::invalid(format!(
                "Param {path}.birthday must be YYYY-MM-DD."
            )));
        }
    }
    Ok(())
}

fn reaction(o: &Obj) -> Result<(), GraphError> {
    req_str(o, "message_id", "reaction")?;
    let emoji = match o.get("emoji") {
        Some(Value::String(s)) => s,
        None | Some(Value::Null) => return Err(GraphError::missing("reaction.emoji")),
        Some(_) => return Err(GraphError::param("Param reaction.emoji must be a string.")),
    };
    // An empty emoji removes the reaction; otherwise it must be one emoji, not text.
    if !emoji.is_empty()
        && (emoji.chars().count() > 10 || emoji.chars().any(|c| c.is_ascii_alphanumeric()))
    {
        return Err(GraphError::invalid(
            "Param reaction.emoji must be a single emoji.",
        ));
    }
    Ok(())
}

fn is_date(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit())
}

/// Fails with 131009 when two entries share a value (button ids, titles, row ids).
pub fn unique<'a>(values: impl IntoIterator<Item = &'a str>, what: &str) -> Result<(), GraphError> {
    let mut seen = HashSet::new();
    for v in values {
        if !seen.insert(v) {
            return Err(GraphError::invalid(format!(
                "Duplicate {what} \"{v}\"; {what}s must be unique."
            )));
        }
    }
    Ok(())
}
