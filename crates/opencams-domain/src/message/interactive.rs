//! Validation of an `interactive` Content against the Cloud API's rules for each kind
//! (whatsapp-cloud-api.md §1.8 and the limit table §1.11). The object is sent to Meta as given.

use std::collections::HashSet;

use serde_json::{Map, Value};

use super::content::{CAPTION_MAX, check_url, content_error, max_len};
use crate::CamsError;

const KINDS: &[&str] = &[
    "button",
    "list",
    "product",
    "product_list",
    "cta_url",
    "flow",
    "catalog_message",
    "location_request_message",
];

fn text_of<'a>(obj: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    obj.get(key)
        .and_then(|v| v.get("text"))
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty())
}

fn str_of<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str).filter(|t| !t.is_empty())
}

fn need<'a>(v: &'a Value, key: &str, path: &str) -> Result<&'a str, CamsError> {
    str_of(v, key).ok_or_else(|| content_error(format!("{path}.{key} is mandatory")))
}

fn array<'a>(v: &'a Value, key: &str, path: &str) -> Result<&'a Vec<Value>, CamsError> {
    v.get(key)
        .and_then(Value::as_array)
        .ok_or_else(|| content_error(format!("{path}.{key} must be an array")))
}

fn check_header(obj: &Map<String, Value>, kind: &str) -> Result<(), CamsError> {
    let Some(h) = obj.get("header").filter(|h| !h.is_null()) else {
        return Ok(());
    };
    let t = need(h, "type", "Content.header")?;
    match t {
        "text" => max_len(
            need(h, "text", "Content.header")?,
            60,
            "Content.header.text",
        )?,
        "image" | "video" | "document" => {
            if kind == "list" || kind == "product_list" {
                return Err(content_error(format!(
                    "Content.header of a {kind} message must be of type text"
                )));
            }
            let media = h
                .get(t)
                .ok_or_else(|| content_error(format!("Content.header.{t} is mandatory")))?;
            match (str_of(media, "link"), str_of(media, "id")) {
                (Some(link), None) => check_url(link, &format!("Content.header.{t}.link"))?,
                (None, Some(_)) => {}
                _ => {
                    return Err(content_error(format!(
                        "Content.header.{t} needs exactly one of link or id"
                    )));
                }
            }
        }
        other => {
            return Err(content_error(format!(
                "Content.header.type {other:?} must be text, image, video or document"
            )));
        }
    }
    Ok(())
}

fn unique(seen: &mut HashSet<String>, value: &str, what: &str) -> Result<(), CamsError> {
    if !seen.insert(value.to_string()) {
        return Err(content_error(format!(
            "{what} {value:?} is used twice; each must be unique"
        )));
    }
    Ok(())
}

fn check_buttons(action: &Value) -> Result<(), CamsError> {
    let buttons = array(action, "buttons", "Content.action")?;
    if buttons.is_empty() || buttons.len() > 3 {
        return Err(content_error(format!(
            "Content.action.buttons has {} buttons; reply buttons are 1 to 3",
            buttons.len()
        )));
    }
    let (mut ids, mut titles) = (HashSet::new(), HashSet::new());
    for (i, b) in buttons.iter().enumerate() {
        let path = format!("Content.action.buttons[{i}]");
        if str_of(b, "type") != Some("reply") {
            return Err(content_error(format!("{path}.type must be reply")));
        }
        let reply = b
            .get("reply")
            .ok_or_else(|| content_error(format!("{path}.reply is mandatory")))?;
        let id = need(reply, "id", &format!("{path}.reply"))?;
        let title = need(reply, "title", &format!("{path}.reply"))?;
        max_len(id, 256, &format!("{path}.reply.id"))?;
        max_len(title, 20, &format!("{path}.reply.title"))?;
        if id.trim() != id {
            return Err(content_error(format!(
                "{path}.reply.id must not start or end with spaces"
            )));
        }
        unique(&mut ids, id, "button id")?;
        unique(&mut titles, title, "button title")?;
    }
    Ok(())
}

fn check_list(action: &Value) -> Result<(), CamsError> {
    max_len(
        need(action, "button", "Content.action")?,
        20,
        "Content.action.button",
    )?;
    let sections = array(action, "sections", "Content.action")?;
    if sections.is_empty() || sections.len() > 10 {
        return Err(content_error(format!(
            "Content.action.sections has {} sections; use 1 to 10",
            sections.len()
        )));
    }
    let (mut rows_total, mut ids) = (0, HashSet::new());
    for (i, s) in sections.iter().enumerate() {
        let path = format!("Content.action.sections[{i}]");
        match str_of(s, "title") {
            Some(t) => max_len(t, 24, &format!("{path}.title"))?,
            None if sections.len() > 1 => {
                return Err(content_error(format!(
                    "{path}.title is mandatory when there are several sections"
                )));
            }
            None => {}
        }
        let rows = array(s, "rows", &path)?;
        if rows.is_empty() {
            return Err(content_error(format!("{path}.rows needs at least one row")));
        }
        for (j, r) in rows.iter().enumerate() {
            let rp = format!("{path}.rows[{j}]");
            let id = need(r, "id", &rp)?;
            max_len(id, 200, &format!("{rp}.id"))?;
            max_len(need(r, "title", &rp)?, 24, &format!("{rp}.title"))?;
            if let Some(d) = str_of(r, "description") {
                max_len(d, 72, &format!("{rp}.description"))?;
            }
            unique(&mut ids, id, "row id")?;
        }
        rows_total += rows.len();
    }
    if rows_total > 10 {
        return Err(content_error(format!(
            "the list has {rows_total} rows; at most 10 rows in all sections together"
        )));
    }
    Ok(())
}

fn check_product_list(action: &Value) -> Result<(), CamsError> {
    need(action, "catalog_id", "Content.action")?;
    let sections = array(action, "sections", "Content.action")?;
    if sections.is_empty() || sections.len() > 10 {
        return Err(content_error(format!(
            "Content.action.sections has {} sections; use 1 to 10",
            sections.len()
        )));
    }
    let mut total = 0;
    for (i, s) in sections.iter().enumerate() {
        let path = format!("Content.action.sections[{i}]");
        if sections.len() > 1 {
            max_len(need(s, "title", &path)?, 24, &format!("{path}.title"))?;
        }
        let items = array(s, "product_items", &path)?;
        if items.is_empty() {
            return Err(content_error(format!(
                "{path}.product_items needs at least one product"
            )));
        }
        for (j, it) in items.iter().enumerate() {
            need(
                it,
                "product_retailer_id",
                &format!("{path}.product_items[{j}]"),
            )?;
        }
        total += items.len();
    }
    if total > 30 {
        return Err(content_error(format!(
            "the message has {total} products; at most 30"
        )));
    }
    Ok(())
}

fn check_flow(action: &Value) -> Result<(), CamsError> {
    if str_of(action, "name") != Some("flow") {
        return Err(content_error("Content.action.name must be flow"));
    }
    let p = action
        .get("parameters")
        .ok_or_else(|| content_error("Content.action.parameters is mandatory"))?;
    let path = "Content.action.parameters";
    if str_of(p, "flow_message_version") != Some("3") {
        return Err(content_error(format!(
            "{path}.flow_message_version must be \"3\""
        )));
    }
    match (str_of(p, "flow_id"), str_of(p, "flow_name")) {
        (Some(_), None) | (None, Some(_)) => {}
        _ => {
            return Err(content_error(format!(
                "{path} needs exactly one of flow_id or flow_name"
            )));
        }
    }
    max_len(need(p, "flow_cta", path)?, 30, &format!("{path}.flow_cta"))?;
    if let Some(mode) = str_of(p, "mode")
        && mode != "draft"
        && mode != "published"
    {
        return Err(content_error(format!(
            "{path}.mode must be draft or published"
        )));
    }
    if let Some(fa) = str_of(p, "flow_action")
        && fa != "navigate"
        && fa != "data_exchange"
    {
        return Err(content_error(format!(
            "{path}.flow_action must be navigate or data_exchange"
        )));
    }
    Ok(())
}

/// Checks an interactive object; errors name the field and the limit.
pub fn check_interactive(obj: &Map<String, Value>) -> Result<(), CamsError> {
    let Some(kind) = obj
        .get("type")
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty())
    else {
        return Err(content_error(
            "Content.type is mandatory for MessageType interactive",
        ));
    };
    if !KINDS.contains(&kind) {
        return Err(content_error(format!(
            "Content.type {kind:?} is not an interactive type; use one of {}",
            KINDS.join(", ")
        )));
    }
    let Some(action) = obj.get("action").filter(|a| a.is_object()) else {
        return Err(content_error(
            "Content.action is mandatory for MessageType interactive",
        ));
    };
    check_header(obj, kind)?;
    let body = text_of(obj, "body");
    if let Some(b) = body {
        max_len(b, CAPTION_MAX, "Content.body.text")?;
    }
    if let Some(f) = text_of(obj, "footer") {
        max_len(f, 60, "Content.footer.text")?;
    }
    if body.is_none() && kind != "product" {
        return Err(content_error(format!(
            "Content.body.text is mandatory for interactive {kind}"
        )));
    }
    match kind {
        "button" => check_buttons(action)?,
        "list" => check_list(action)?,
        "cta_url" => {
            if str_of(action, "name") != Some("cta_url") {
                return Err(content_error("Content.action.name must be cta_url"));
            }
            let p = action
                .get("parameters")
                .ok_or_else(|| content_error("Content.action.parameters is mandatory"))?;
            max_len(
                need(p, "display_text", "Content.action.parameters")?,
                20,
                "Content.action.parameters.display_text",
            )?;
            check_url(
                need(p, "url", "Content.action.parameters")?,
                "Content.action.parameters.url",
            )?;
        }
        "product" => {
            if obj.get("header").is_some_and(|h| !h.is_null()) {
                return Err(content_error(
                    "a single-product message cannot have a header",
                ));
            }
            need(action, "catalog_id", "Content.action")?;
            need(action, "product_retailer_id", "Content.action")?;
        }
        "product_list" => {
            if obj.get("header").and_then(|h| str_of(h, "type")) != Some("text") {
                return Err(content_error(
                    "Content.header of type text is mandatory for product_list",
                ));
            }
            check_product_list(action)?;
        }
        "catalog_message" if str_of(action, "name") != Some("catalog_message") => {
            return Err(content_error("Content.action.name must be catalog_message"));
        }
        "flow" => check_flow(action)?,
        "location_request_message" if str_of(action, "name") != Some("send_location") => {
            return Err(content_error("Content.action.name must be send_location"));
        }
        _ => {}
    }
    Ok(())
}
