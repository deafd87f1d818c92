//! `Content` of a `Type=message` send (cams-api.md §3.1.2): JSON text with lower-case,
//! WhatsApp-style keys, validated per MessageType against the seed's rules and the Cloud API
//! limits. A `Content` holds the exact Cloud API object it becomes, so an invalid one cannot be
//! constructed.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::contacts::check_contacts;
use super::interactive::check_interactive;
use super::kinds::MessageType;
use crate::{CamsError, Code};

pub const TEXT_MAX: usize = 4096;
pub const CAPTION_MAX: usize = 1024;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Content {
    #[serde(rename = "type")]
    kind: MessageType,
    /// The Cloud API object named after the type (for contacts: the array).
    cloud: Value,
}

pub(crate) fn content_error(msg: impl Into<String>) -> CamsError {
    CamsError::new(Code::ContentError, msg.into())
}

pub(crate) fn chars(s: &str) -> usize {
    s.chars().count()
}

/// A string field, `""` and `null` treated as absent; other non-strings are an error.
pub(crate) fn opt_str<'a>(
    obj: &'a Map<String, Value>,
    key: &str,
    label: &str,
) -> Result<Option<&'a str>, CamsError> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.is_empty() => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(content_error(format!("{label}.{key} must be a string"))),
    }
}

pub(crate) fn max_len(value: &str, max: usize, what: &str) -> Result<(), CamsError> {
    let n = chars(value);
    if n > max {
        return Err(content_error(format!(
            "{what} is {n} characters long; the limit is {max}"
        )));
    }
    Ok(())
}

/// An http(s) URL with a host and no spaces.
pub(crate) fn check_url(url: &str, what: &str) -> Result<(), CamsError> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"));
    let host = rest.map(|r| r.split(['/', '?', '#']).next().unwrap_or(""));
    if host.is_none_or(str::is_empty) || url.chars().any(char::is_whitespace) {
        return Err(content_error(format!(
            "{what} must be an http:// or https:// URL with a host, got {url:?}"
        )));
    }
    Ok(())
}

fn link(obj: &Map<String, Value>, t: MessageType) -> Result<String, CamsError> {
    let Some(link) = opt_str(obj, "link", "Content")? else {
        return Err(CamsError::new(
            Code::LinkNotEmpty,
            format!(
                "Content.link is mandatory for MessageType {}: give the media's http(s) URL.",
                t.as_str()
            ),
        ));
    };
    check_url(link, "Content.link")?;
    Ok(link.to_string())
}

fn forbid(obj: &Map<String, Value>, key: &str, t: MessageType) -> Result<(), CamsError> {
    if opt_str(obj, key, "Content").ok().flatten().is_some()
        || matches!(obj.get(key), Some(v) if !v.is_null() && !v.is_string())
    {
        return Err(content_error(format!(
            "Content.{key} must be empty for MessageType {}",
            t.as_str()
        )));
    }
    Ok(())
}

fn caption(obj: &Map<String, Value>) -> Result<Option<String>, CamsError> {
    let c = opt_str(obj, "caption", "Content")?;
    if let Some(c) = c {
        max_len(c, CAPTION_MAX, "Content.caption")?;
    }
    Ok(c.map(String::from))
}

fn coordinate(obj: &Map<String, Value>, key: &str, limit: f64) -> Result<f64, CamsError> {
    let v = match obj.get(key) {
        Some(Value::Number(n)) => n.as_f64(),
        Some(Value::String(s)) if !s.trim().is_empty() => s.trim().parse::<f64>().ok(),
        None | Some(Value::Null) | Some(Value::String(_)) => {
            return Err(content_error(format!(
                "Content.{key} is mandatory for MessageType location"
            )));
        }
        Some(_) => None,
    };
    match v {
        Some(x) if x.is_finite() && (-limit..=limit).contains(&x) => Ok(x),
        _ => Err(content_error(format!(
            "Content.{key} must be a number from -{limit} to {limit}"
        ))),
    }
}

fn put(obj: &mut Map<String, Value>, key: &str, v: Option<String>) {
    if let Some(v) = v {
        obj.insert(key.into(), Value::String(v));
    }
}

/// Parses and validates `Content` for `t`.
pub fn parse_content(t: MessageType, raw: Option<&str>) -> Result<Content, CamsError> {
    let Some(raw) = raw.map(str::trim).filter(|r| !r.is_empty()) else {
        return Err(CamsError::new(
            Code::ContentNotEmpty,
            format!(
                "Content is mandatory when Type is message: give the {} message as JSON.",
                t.as_str()
            ),
        ));
    };
    let v: Value = serde_json::from_str(raw)
        .map_err(|e| content_error(format!("Content is not valid JSON: {e}")))?;
    if t == MessageType::Contacts {
        let Value::Array(list) = v else {
            return Err(content_error(
                "Content must be a JSON array of contacts for MessageType contacts",
            ));
        };
        check_contacts(&list)?;
        return Ok(Content {
            kind: t,
            cloud: Value::Array(list),
        });
    }
    let Value::Object(obj) = v else {
        return Err(content_error(format!(
            "Content must be a JSON object for MessageType {}",
            t.as_str()
        )));
    };
    let mut out = Map::new();
    match t {
        MessageType::Text => {
            let Some(text) = opt_str(&obj, "text", "Content")? else {
                return Err(CamsError::new(
                    Code::TextNotEmpty,
                    "Content.text is mandatory for MessageType text.",
                ));
            };
            max_len(text, TEXT_MAX, "Content.text")?;
            forbid(&obj, "caption", t)?;
            out.insert("body".into(), Value::String(text.into()));
            match obj.get("preview_url").or_else(|| obj.get("previewUrl")) {
                None | Some(Value::Null) => {}
                Some(Value::Bool(b)) => {
                    out.insert("preview_url".into(), Value::Bool(*b));
                }
                Some(Value::String(s))
                    if s.eq_ignore_ascii_case("true") || s.eq_ignore_ascii_case("false") =>
                {
                    out.insert(
                        "preview_url".into(),
                        Value::Bool(s.eq_ignore_ascii_case("true")),
                    );
                }
                Some(Value::String(s)) if s.is_empty() => {}
                Some(_) => return Err(content_error("Content.preview_url must be true or false")),
            }
        }
        MessageType::Image | MessageType::Video => {
            out.insert("link".into(), Value::String(link(&obj, t)?));
            put(&mut out, "caption", caption(&obj)?);
        }
        MessageType::Audio => {
            // WhatsApp audio has no caption; CAMS ignores one
            out.insert("link".into(), Value::String(link(&obj, t)?));
        }
        MessageType::Document => {
            out.insert("link".into(), Value::String(link(&obj, t)?));
            let name =
                opt_str(&obj, "fileName", "Content")?.or(opt_str(&obj, "filename", "Content")?);
            let Some(name) = name else {
                return Err(content_error(
                    "Content.fileName is mandatory for MessageType document",
                ));
            };
            max_len(name, 240, "Content.fileName")?;
            out.insert("filename".into(), Value::String(name.into()));
            put(&mut out, "caption", caption(&obj)?);
        }
        MessageType::Sticker => {
            out.insert("link".into(), Value::String(link(&obj, t)?));
            forbid(&obj, "caption", t)?;
            forbid(&obj, "fileName", t)?;
            forbid(&obj, "filename", t)?;
        }
        MessageType::Location => {
            out.insert(
                "latitude".into(),
                json!(coordinate(&obj, "latitude", 90.0)?),
            );
            out.insert(
                "longitude".into(),
                json!(coordinate(&obj, "longitude", 180.0)?),
            );
            for key in ["name", "address"] {
                if let Some(v) = opt_str(&obj, key, "Content")? {
                    max_len(v, 1000, &format!("Content.{key}"))?;
                    out.insert(key.into(), Value::String(v.into()));
                }
            }
        }
        MessageType::Reaction => {
            let id =
                opt_str(&obj, "messageId", "Content")?.or(opt_str(&obj, "message_id", "Content")?);
            let Some(id) = id else {
                return Err(content_error(
                    "Content.messageId is mandatory for MessageType reaction: the message reacted to",
                ));
            };
            let Some(emoji) = opt_str(&obj, "emoji", "Content")? else {
                return Err(content_error(
                    "Content.emoji is mandatory for MessageType reaction",
                ));
            };
            if chars(emoji) > 10 {
                return Err(content_error("Content.emoji must be a single emoji"));
            }
            out.insert("message_id".into(), Value::String(id.into()));
            out.insert("emoji".into(), Value::String(emoji.into()));
        }
        MessageType::Interactive => {
            check_interactive(&obj)?;
            out = obj;
        }
        MessageType::Contacts => unreachable_contacts()?,
    }
    Ok(Content {
        kind: t,
        cloud: Value::Object(out),
    })
}

/// Contacts return early above; this keeps the match exhaustive without a panic.
fn unreachable_contacts() -> Result<(), CamsError> {
    Err(content_error(
        "Content must be a JSON array of contacts for MessageType contacts",
    ))
}

fn s<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or("")
}

impl Content {
    pub fn message_type(&self) -> MessageType {
        self.kind
    }

    /// The Cloud API `type` and the object named after it.
    pub fn to_cloud(&self) -> (&'static str, &Value) {
        (self.kind.as_str(), &self.cloud)
    }

    /// The message a reaction reacts to.
    pub fn referenced_message_id(&self) -> Option<&str> {
        (self.kind == MessageType::Reaction).then(|| s(&self.cloud, "message_id"))
    }

    /// The plain text a user would read (the SMS fallback text).
    pub fn render_text(&self) -> String {
        let c = &self.cloud;
        let with_caption = |link: &str, caption: &str| {
            if caption.is_empty() {
                link.to_string()
            } else {
                format!("{caption} {link}")
            }
        };
        match self.kind {
            MessageType::Text => s(c, "body").to_string(),
            MessageType::Image | MessageType::Video | MessageType::Audio | MessageType::Sticker => {
                with_caption(s(c, "link"), s(c, "caption"))
            }
            MessageType::Document => with_caption(
                &format!("{}: {}", s(c, "filename"), s(c, "link")),
                s(c, "caption"),
            ),
            MessageType::Location => {
                let place = [s(c, "name"), s(c, "address")]
                    .iter()
                    .filter(|p| !p.is_empty())
                    .copied()
                    .collect::<Vec<_>>()
                    .join(", ");
                let lat = c
                    .get("latitude")
                    .and_then(Value::as_f64)
                    .unwrap_or_default();
                let lon = c
                    .get("longitude")
                    .and_then(Value::as_f64)
                    .unwrap_or_default();
                if place.is_empty() {
                    format!("({lat}, {lon})")
                } else {
                    format!("{place} ({lat}, {lon})")
                }
            }
            MessageType::Contacts => c
                .as_array()
                .map(|list| {
                    list.iter()
                        .map(|ct| {
                            let name = ct.get("name").map(|n| s(n, "formatted_name")).unwrap_or("");
                            let phones: Vec<&str> = ct
                                .get("phones")
                                .and_then(Value::as_array)
                                .map(|p| {
                                    p.iter()
                                        .map(|ph| s(ph, "phone"))
                                        .filter(|p| !p.is_empty())
                                        .collect()
                                })
                                .unwrap_or_default();
                            if phones.is_empty() {
                                name.to_string()
                            } else {
                                format!("{name} {}", phones.join(" "))
                            }
                        })
                        .collect::<Vec<_>>()
                        .join("\n")
                })
                .unwrap_or_default(),
            MessageType::Reaction => s(c, "emoji").to_string(),
            MessageType::Interactive => {
                let mut parts = Vec::new();
                if let Some(h) = c.get("header").filter(|h| s(h, "type") == "text") {
                    parts.push(s(h, "text").to_string());
                }
                if let Some(b) = c.get("body") {
                    parts.push(s(b, "text").to_string());
                }
                if let Some(f) = c.get("footer") {
                    parts.push(s(f, "text").to_string());
                }
                let action = c.get("action");
                if let Some(buttons) = action
                    .and_then(|a| a.get("buttons"))
                    .and_then(Value::as_array)
                {
                    for b in buttons {
                        parts.push(format!(
                            "[{}]",
                            b.get("reply").map(|r| s(r, "title")).unwrap_or("")
                        ));
                    }
                }
                if let Some(p) = action
                    .and_then(|a| a.get("parameters"))
                    .filter(|_| s(c, "type") == "cta_url")
                {
                    parts.push(format!("{}: {}", s(p, "display_text"), s(p, "url")));
                }
                parts
                    .into_iter()
                    .filter(|p| !p.is_empty())
                    .collect::<Vec<_>>()
                    .join("\n")
            }
        }
    }
}
