//! Validation of `type: "interactive"` messages (whatsapp-cloud-api.md §1.8): reply buttons,
//! lists, CTA URL, single and multi product, catalog, flow and location request.

use serde_json::Value;

use super::errors::GraphError;
use super::fields::*;
use super::validate::{MediaRef, media_object, unique};

const KINDS: &[&str] = &[
    "button",
    "list",
    "cta_url",
    "product",
    "product_list",
    "catalog_message",
    "flow",
    "location_request_message",
];

pub fn validate(o: &Obj, media: &mut Vec<MediaRef>) -> Result<(), GraphError> {
    let kind = req_str(o, "type", "interactive")?;
    if !KINDS.contains(&kind) {
        return Err(GraphError::invalid(format!(
            "Param interactive.type \"{kind}\" must be one of {}.",
            KINDS.join(", ")
        )));
    }
    header(o, kind, media)?;
    if kind == "product" {
        if let Some(body) = opt_obj(o, "body", "interactive")? {
            req_str_max(body, "text", 1024, "interactive.body")?;
        }
    } else {
        let body = req_obj(o, "body", "interactive")?;
        req_str_max(body, "text", 1024, "interactive.body")?;
    }
    if let Some(footer) = opt_obj(o, "footer", "interactive")? {
        req_str_max(footer, "text", 60, "interactive.footer")?;
    }
    let action = req_obj(o, "action", "interactive")?;
    match kind {
        "button" => buttons(action),
        "list" => list(action),
        "cta_url" => cta_url(action),
        "product" => {
            req_str(action, "catalog_id", "interactive.action")?;
            req_str(action, "product_retailer_id", "interactive.action").map(|_| ())
        }
        "product_list" => product_sections(action, "interactive.action", true),
        "catalog_message" => {
            named(action, "catalog_message")?;
            if let Some(p) = opt_obj(action, "parameters", "interactive.action")? {
                opt_str(
                    p,
                    "thumbnail_product_retailer_id",
                    "interactive.action.parameters",
                )?;
            }
            Ok(())
        }
        "flow" => flow(action),
        _ => named(action, "send_location"),
    }
}

fn header(o: &Obj, kind: &str, media: &mut Vec<MediaRef>) -> Result<(), GraphError> {
    let Some(h) = opt_obj(o, "header", "interactive")? else {
        if kind == "product_list" {
            return Err(GraphError::missing("interactive.header"));
        }
        return Ok(());
    };
    if matches!(
        kind,
        "product" | "catalog_message" | "location_request_message"
    ) {
        return Err(GraphError::invalid(format!(
            "Param interactive.header is not allowed for {kind} messages."
        )));
    }
    let htype = req_str(h, "type", "interactive.header")?;
    match htype {
        "text" => {
            req_str_max(h, "text", 60, "interactive.header")?;
        }
        "image" | "video" | "document" if !matches!(kind, "list" | "product_list") => {
            let m = req_obj(h, htype, "interactive.header")?;
            media.push(media_object(m, htype, false)?);
        }
        "image" | "video" | "document" => {
            return Err(GraphError::invalid(format!(
                "Param interactive.header.type must be text for {kind} messages."
            )));
        }
        other => {
            return Err(GraphError::invalid(format!(
                "Param interactive.header.type \"{other}\" must be one of text, image, video, document."
            )));
        }
    }
    Ok(())
}

fn buttons(action: &Obj) -> Result<(), GraphError> {
    let list = req_array(action, "buttons", "interactive.action")?;
    if list.is_empty() || list.len() > 3 {
        return Err(GraphError::invalid(format!(
            "Param interactive.action.buttons has {} buttons; between 1 and 3 are allowed.",
            list.len()
        )));
    }
    let mut ids = Vec::new();
    let mut titles = Vec::new();
    for (i, b) in list.iter().enumerate() {
        let path = format!("interactive.action.buttons[{i}]");
        let b = item_obj(b, &path)?;
        if req_str(b, "type", &path)? != "reply" {
            return Err(GraphError::invalid(format!(
                "Param {path}.type must be \"reply\"."
            )));
        }
        let reply = req_obj(b, "reply", &path)?;
        let rpath = format!("{path}.reply");
        let id = req_str_max(reply, "id", 256, &rpath)?;
        if id.trim() != id {
            return Err(GraphError::invalid(format!(
                "Param {rpath}.id must not start or end with spaces."
            )));
        }
        let title = req_str_max(reply, "title", 20, &rpath)?;
        ids.push(id);
        titles.push(title);
    }
    unique(ids, "button id")?;
    unique(titles, "button title")
}

fn list(action: &Obj) -> Result<(), GraphError> {
    req_str_max(action, "button", 20, "interactive.action")?;
    let sections = req_array(action, "sections", "interactive.action")?;
    if sections.is_empty() || sections.len() > 10 {
        return Err(GraphError::invalid(format!(
            "Param interactive.action.sections has {} sections; between 1 and 10 are allowed.",
            sections.len()
        )));
    }
    let mut row_ids = Vec::new();
    for (i, s) in sections.iter().enumerate() {
        let path = format!("interactive.action.sections[{i}]");
        let s = item_obj(s, &path)?;
        if sections.len() > 1 {
            req_str_max(s, "title", 24, &path)?;
        } else {
            opt_str_max(s, "title", 24, &path)?;
        }
        let rows = req_array(s, "rows", &path)?;
        if rows.is_empty() {
            return Err(GraphError::missing(&format!("{path}.rows[0]")));
        }
        for (j, r) in rows.iter().enumerate() {
            let rpath = format!("{path}.rows[{j}]");
            let r = item_obj(r, &rpath)?;
            row_ids.push(req_str_max(r, "id", 200, &rpath)?);
            req_str_max(r, "title", 24, &rpath)?;
            opt_str_max(r, "description", 72, &rpath)?;
        }
    }
    if row_ids.len() > 10 {
        return Err(GraphError::invalid(format!(
            "The list has {} rows in total; the maximum across all sections is 10.",
            row_ids.len()
        )));
    }
    unique(row_ids, "row id")
}

fn cta_url(action: &Obj) -> Result<(), GraphError> {
    named(action, "cta_url")?;
    let p = req_obj(action, "parameters", "interactive.action")?;
    req_str_max(p, "display_text", 20, "interactive.action.parameters")?;
    let url = req_str(p, "url", "interactive.action.parameters")?;
    if !is_http_url(url) {
        return Err(GraphError::invalid(format!(
            "Param interactive.action.parameters.url \"{url}\" is not a valid http(s) URL."
        )));
    }
    Ok(())
}

/// Sections of product items (multi-product messages and MPM template buttons).
pub fn product_sections(action: &Obj, path: &str, need_catalog: bool) -> Result<(), GraphError> {
    if need_catalog {
        req_str(action, "catalog_id", path)?;
    }
    let sections = req_array(action, "sections", path)?;
    if sections.is_empty() || sections.len() > 10 {
        return Err(GraphError::invalid(format!(
            "Param {path}.sections has {} sections; between 1 and 10 are allowed.",
            sections.len()
        )));
    }
    let mut total = 0;
    for (i, s) in sections.iter().enumerate() {
        let spath = format!("{path}.sections[{i}]");
        let s = item_obj(s, &spath)?;
        req_str_max(s, "title", 24, &spath)?;
        let items = req_array(s, "product_items", &spath)?;
        if items.is_empty() {
            return Err(GraphError::missing(&format!("{spath}.product_items[0]")));
        }
        for (j, item) in items.iter().enumerate() {
            let ipath = format!("{spath}.product_items[{j}]");
            req_str(item_obj(item, &ipath)?, "product_retailer_id", &ipath)?;
        }
        total += items.len();
    }
    if total > 30 {
        return Err(GraphError::invalid(format!(
            "The message lists {total} products; the maximum is 30."
        )));
    }
    Ok(())
}

fn flow(action: &Obj) -> Result<(), GraphError> {
    named(action, "flow")?;
    let path = "interactive.action.parameters";
    let p = req_obj(action, "parameters", "interactive.action")?;
    if req_str(p, "flow_message_version", path)? != "3" {
        return Err(GraphError::invalid(
            "Param flow_message_version must be \"3\".",
        ));
    }
    let id = opt_str(p, "flow_id", path)?;
    let name = opt_str(p, "flow_name", path)?;
    match (id, name) {
        (Some(_), Some(_)) => {
            return Err(GraphError::invalid(
                "Use either flow_id or flow_name, not both.",
            ));
        }
        (None, None) => return Err(GraphError::missing("interactive.action.parameters.flow_id")),
        _ => {}
    }
    let cta = req_str_max(p, "flow_cta", 30, path)?;
    if cta.chars().any(is_emoji) {
        return Err(GraphError::invalid(
            "Param flow_cta must not contain emoji.",
        ));
    }
    opt_str(p, "flow_token", path)?;
    if let Some(mode) = opt_str(p, "mode", path)?
        && !matches!(mode, "draft" | "published")
    {
        return Err(GraphError::invalid(
            "Param mode must be \"draft\" or \"published\".",
        ));
    }
    let action_kind = opt_str(p, "flow_action", path)?.unwrap_or("navigate");
    if !matches!(action_kind, "navigate" | "data_exchange") {
        return Err(GraphError::invalid(
            "Param flow_action must be \"navigate\" or \"data_exchange\".",
        ));
    }
    if let Some(payload) = opt_obj(p, "flow_action_payload", path)?
        && action_kind == "navigate"
    {
        req_str(payload, "screen", &format!("{path}.flow_action_payload"))?;
        if let Some(data) = payload.get("data")
            && !matches!(data, Value::Object(m) if !m.is_empty())
        {
            return Err(GraphError::invalid(
                "Param flow_action_payload.data must be a non-empty object.",
            ));
        }
    }
    Ok(())
}

fn named(action: &Obj, expected: &str) -> Result<(), GraphError> {
    let name = req_str(action, "name", "interactive.action")?;
    if name != expected {
        return Err(GraphError::invalid(format!(
            "Param interactive.action.name must be \"{expected}\"."
        )));
    }
    Ok(())
}

fn is_emoji(c: char) -> bool {
    matches!(u32::from(c), 0x1F000..=0x1FAFF | 0x2600..=0x27BF | 0x2B00..=0x2BFF | 0xFE0F)
}
