//! Checks a template send against the template it names (whatsapp-cloud-api.md §1.9, §7 item 7):
//! status (132001/132015/132016), parameter counts per component (132000), parameter types
//! (132012), named parameters, and the hydrated body length (132005).

use std::collections::HashSet;

use serde_json::Value;

use super::config::SimTemplate;
use super::errors::GraphError;
use super::fields::Obj;
use super::validate::TemplateRef;
use super::validate_template::button_index;

/// Fails unless `t` may be sent with the components of `r`.
pub fn check_send(t: Option<&SimTemplate>, r: &TemplateRef) -> Result<(), GraphError> {
    let missing = || {
        GraphError::new(
            132001,
            format!(
                "template name ({}) does not exist in {}",
                r.name, r.language
            ),
        )
    };
    let t = t.ok_or_else(missing)?;
    match t.status.to_ascii_uppercase().as_str() {
        "APPROVED" => {}
        "PAUSED" => {
            return Err(GraphError::new(
                132015,
                format!("Template {} is paused due to low quality.", r.name),
            ));
        }
        "DISABLED" => {
            return Err(GraphError::new(
                132016,
                format!("Template {} has been disabled.", r.name),
            ));
        }
        _ => return Err(missing()),
    }
    let comps: Vec<&Obj> = r.components.iter().filter_map(Value::as_object).collect();
    let of = |kind: &str| -> Vec<&Obj> {
        comps
            .iter()
            .copied()
            .filter(|c| c.get("type").and_then(Value::as_str) == Some(kind))
            .collect()
    };
    check_header(t, &of("header"))?;
    let body_values = check_body(t, &of("body"))?;
    check_buttons(t, &of("button"))?;
    if let Some(text) = &t.body_text {
        let hydrated = hydrate(text, &t.body_params, &body_values);
        let n = hydrated.chars().count();
        if n > 1024 {
            return Err(GraphError::new(
                132005,
                format!("The hydrated body is {n} characters; the maximum is 1024."),
            ));
        }
    }
    Ok(())
}

fn params(c: &Obj) -> Vec<&Obj> {
    c.get("parameters")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_object).collect())
        .unwrap_or_default()
}

fn ptype(p: &Obj) -> &str {
    p.get("type").and_then(Value::as_str).unwrap_or("")
}

fn count_error(component: &str, expected: usize, got: usize) -> GraphError {
    GraphError::new(
        132000,
        format!(
            "{component}: number of localizable_params ({got}) does not match the expected number of params ({expected})"
        ),
    )
}

fn check_header(t: &SimTemplate, sent: &[&Obj]) -> Result<(), GraphError> {
    if sent.len() > 1 {
        return Err(GraphError::param("Only one header component is allowed."));
    }
    let got = sent.first().map(|c| params(c)).unwrap_or_default();
    let format = t.header_format.as_deref().map(str::to_ascii_uppercase);
    let expected = match format.as_deref() {
        None => 0,
        Some("TEXT") => usize::from(t.header_param.is_some()),
        Some(_) => 1,
    };
    if got.len() != expected {
        return Err(count_error("header", expected, got.len()));
    }
    let Some(p) = got.first() else { return Ok(()) };
    let want = match format.as_deref() {
        Some("TEXT") => "text",
        Some("IMAGE") => "image",
        Some("VIDEO") => "video",
        Some("DOCUMENT") => "document",
        Some("LOCATION") => "location",
        _ => "",
    };
    if ptype(p) != want {
        return Err(GraphError::new(
            132012,
            format!(
                "header: parameter type {} does not match the template's {want} header",
                ptype(p)
            ),
        ));
    }
    if want == "text" {
        check_text_param(p)?;
        check_name(t.header_param.as_deref(), p, "header")?;
    }
    Ok(())
}

/// Returns the body values in template order (for hydration).
fn check_body(t: &SimTemplate, sent: &[&Obj]) -> Result<Vec<String>, GraphError> {
    if sent.len() > 1 {
        return Err(GraphError::param("Only one body component is allowed."));
    }
    let got = sent.first().map(|c| params(c)).unwrap_or_default();
    if got.len() != t.body_params.len() {
        return Err(count_error("body", t.body_params.len(), got.len()));
    }
    let named = t
        .body_params
        .iter()
        .any(|n| !n.chars().all(|c| c.is_ascii_digit()));
    let mut values = vec![String::new(); got.len()];
    let mut seen = HashSet::new();
    for (i, p) in got.iter().enumerate() {
        let value = match ptype(p) {
            "text" => {
                check_text_param(p)?;
                str_at(p, &["text"])
            }
            "currency" => str_at(p, &["currency", "fallback_value"]),
            "date_time" => str_at(p, &["date_time", "fallback_value"]),
            other => {
                return Err(GraphError::new(
                    132012,
                    format!("body: parameter type {other} is not allowed in a body"),
                ));
            }
        };
        let slot = if named {
            let name = p
                .get("parameter_name")
                .and_then(Value::as_str)
                .ok_or_else(|| {
                    GraphError::new(
                        132000,
                        "body: this template uses named parameters; each needs parameter_name",
                    )
                })?;
            let pos = t
                .body_params
                .iter()
                .position(|n| n == name)
                .ok_or_else(|| {
                    GraphError::new(
                        132000,
                        format!(
                            "body: parameter_name \"{name}\" is not a variable of this template"
                        ),
                    )
                })?;
            if !seen.insert(pos) {
                return Err(GraphError::new(
                    132000,
                    format!("body: parameter_name \"{name}\" is given twice"),
                ));
            }
            pos
        } else {
            if p.contains_key("parameter_name") {
                return Err(GraphError::new(
                    132000,
                    "body: this template uses positional parameters; remove parameter_name",
                ));
            }
            i
        };
        values[slot] = value;
    }
    Ok(values)
}

fn check_buttons(t: &SimTemplate, sent: &[&Obj]) -> Result<(), GraphError> {
    let mut covered = HashSet::new();
    for c in sent {
        let index = button_index(c, "button")?;
        let sub = c
            .get("sub_type")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_ascii_lowercase();
        let got = params(c);
        let declared = t.button_params.iter().find(|(i, _)| *i == index);
        match declared {
            Some((_, want)) if !want.eq_ignore_ascii_case(&sub) => {
                return Err(GraphError::new(
                    132012,
                    format!(
                        "button {index}: sub_type {sub} does not match the template's {want} button"
                    ),
                ));
            }
            Some(_) => {}
            // Quick replies and flow buttons take optional parameters the template need not declare.
            None if sub == "quick_reply" || sub == "flow" => {}
            None => return Err(count_error(&format!("button {index}"), 0, got.len())),
        }
        if got.len() != 1 {
            return Err(count_error(&format!("button {index}"), 1, got.len()));
        }
        let want_type = match sub.as_str() {
            "url" => "text",
            "quick_reply" => "payload",
            "copy_code" => "coupon_code",
            _ => "action",
        };
        if ptype(got[0]) != want_type {
            return Err(GraphError::new(
                132012,
                format!(
                    "button {index}: a {sub} button takes a {want_type} parameter, not {}",
                    ptype(got[0])
                ),
            ));
        }
        if want_type == "text" {
            check_text_param(got[0])?;
        }
        if !covered.insert(index) {
            return Err(GraphError::param(format!("button {index} is given twice")));
        }
    }
    for (index, sub) in &t.button_params {
        if !covered.contains(index) && !sub.eq_ignore_ascii_case("quick_reply") {
            return Err(count_error(&format!("button {index}"), 1, 0));
        }
    }
    Ok(())
}

fn check_name(expected: Option<&str>, p: &Obj, component: &str) -> Result<(), GraphError> {
    let named = expected.is_some_and(|n| !n.chars().all(|c| c.is_ascii_digit()));
    match (named, p.get("parameter_name").and_then(Value::as_str)) {
        (true, Some(n)) if Some(n) == expected => Ok(()),
        (false, None) => Ok(()),
        _ => Err(GraphError::new(
            132000,
            format!("{component}: parameter_name does not match the template's variable"),
        )),
    }
}

/// Meta refuses text parameters with new lines, tabs or more than four spaces in a row.
fn check_text_param(p: &Obj) -> Result<(), GraphError> {
    let text = p.get("text").and_then(Value::as_str).unwrap_or("");
    if text.contains(['\n', '\t']) || text.contains("     ") {
        return Err(GraphError::new(
            132018,
            "Param text cannot have new-line/tab characters or more than 4 consecutive spaces",
        ));
    }
    Ok(())
}

fn str_at(p: &Obj, path: &[&str]) -> String {
    let mut v = p.get(path[0]);
    for key in &path[1..] {
        v = v.and_then(|x| x.get(key));
    }
    v.and_then(Value::as_str).unwrap_or("").to_string()
}

/// Replaces `{{name}}` markers with their values.
pub fn hydrate(text: &str, names: &[String], values: &[String]) -> String {
    let mut out = text.to_string();
    for (name, value) in names.iter().zip(values) {
        out = out.replace(&format!("{{{{{name}}}}}"), value);
    }
    out
}
