//! Shape checks of `type: "template"` sends (whatsapp-cloud-api.md §1.9) that need no template
//! store: name, language, component and parameter objects. Matching against the stored
//! template (status, counts, types) is in `templates.rs`.

use super::errors::GraphError;
use super::fields::*;
use super::validate::{MediaRef, TemplateRef, location, media_object};
use super::validate_interactive::product_sections;

pub fn validate(o: &Obj, media: &mut Vec<MediaRef>) -> Result<TemplateRef, GraphError> {
    let name = req_str(o, "name", "template")?.to_string();
    let lang = req_obj(o, "language", "template")?;
    let language = req_str(lang, "code", "template.language")?.to_string();
    if let Some(policy) = opt_str(lang, "policy", "template.language")?
        && policy != "deterministic"
    {
        return Err(GraphError::invalid(
            "Param template.language.policy must be \"deterministic\".",
        ));
    }
    let components = opt_array(o, "components", "template")?.to_vec();
    for (i, c) in components.iter().enumerate() {
        let path = format!("template.components[{i}]");
        let c = item_obj(c, &path)?;
        let ctype = req_str(c, "type", &path)?;
        match ctype {
            "header" | "body" | "button" | "limited_time_offer" => {}
            "carousel" => {
                req_array(c, "cards", &path)?;
                continue;
            }
            other => {
                return Err(GraphError::invalid(format!(
                    "Param {path}.type \"{other}\" must be one of header, body, button, carousel, limited_time_offer."
                )));
            }
        }
        if ctype == "button" {
            req_str(c, "sub_type", &path)?;
            button_index(c, &path)?;
        }
        for (j, p) in opt_array(c, "parameters", &path)?.iter().enumerate() {
            parameter(
                item_obj(p, &format!("{path}.parameters[{j}]"))?,
                &format!("{path}.parameters[{j}]"),
                media,
            )?;
        }
    }
    Ok(TemplateRef {
        name,
        language,
        components,
    })
}

/// `index` of a button component: a string or an integer, 0-based.
pub fn button_index(c: &Obj, path: &str) -> Result<usize, GraphError> {
    let v = c
        .get("index")
        .ok_or_else(|| GraphError::missing(&format!("{path}.index")))?;
    let n = match v {
        serde_json::Value::String(s) => s.trim().parse().ok(),
        serde_json::Value::Number(n) => n.as_u64().and_then(|n| usize::try_from(n).ok()),
        _ => None,
    };
    n.filter(|n| *n < 10).ok_or_else(|| {
        GraphError::invalid(format!(
            "Param {path}.index must be a button position from 0 to 9."
        ))
    })
}

fn parameter(p: &Obj, path: &str, media: &mut Vec<MediaRef>) -> Result<(), GraphError> {
    let ptype = req_str(p, "type", path)?;
    match ptype {
        "text" => {
            let text = req_str(p, "text", path)?;
            max_len(text, 32768, &format!("{path}.text"))?;
        }
        "currency" => {
            let c = req_obj(p, "currency", path)?;
            let cpath = format!("{path}.currency");
            req_str(c, "fallback_value", &cpath)?;
            let code = req_str(c, "code", &cpath)?;
            if code.len() != 3 || !code.chars().all(|ch| ch.is_ascii_uppercase()) {
                return Err(GraphError::invalid(format!(
                    "Param {cpath}.code must be an ISO 4217 code."
                )));
            }
            if !c
                .get("amount_1000")
                .is_some_and(|v| v.is_i64() || v.is_u64())
            {
                return Err(GraphError::missing(&format!("{cpath}.amount_1000")));
            }
        }
        "date_time" => {
            req_str(
                req_obj(p, "date_time", path)?,
                "fallback_value",
                &format!("{path}.date_time"),
            )?;
        }
        "image" | "video" | "document" => {
            media.push(media_object(req_obj(p, ptype, path)?, ptype, false)?);
        }
        "location" => location(req_obj(p, "location", path)?, &format!("{path}.location"))?,
        "payload" => {
            req_str_max(p, "payload", 256, path)?;
        }
        "coupon_code" => {
            req_str_max(p, "coupon_code", 15, path)?;
        }
        "action" => {
            let a = req_obj(p, "action", path)?;
            if a.contains_key("sections") {
                product_sections(a, &format!("{path}.action"), false)?;
            }
        }
        "product" | "limited_time_offer" => {
            req_obj(p, ptype, path)?;
        }
        other => {
            return Err(GraphError::invalid(format!(
                "Param {path}.type \"{other}\" is not a valid parameter type."
            )));
        }
    }
    Ok(())
}
