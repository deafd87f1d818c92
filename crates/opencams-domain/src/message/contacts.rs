//! Validation of a `contacts` Content: 1–5 contact cards as the Cloud API defines them.

use serde_json::Value;

use super::content::content_error;
use crate::CamsError;

const NAME_PARTS: [&str; 5] = ["first_name", "last_name", "middle_name", "suffix", "prefix"];

fn is_date(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit())
        && (1..=12).contains(&s[5..7].parse::<u8>().unwrap_or(0))
        && (1..=31).contains(&s[8..10].parse::<u8>().unwrap_or(0))
}

fn list_of_objects(c: &Value, key: &str, path: &str) -> Result<(), CamsError> {
    match c.get(key) {
        None | Some(Value::Null) => Ok(()),
        Some(Value::Array(items)) if items.iter().all(Value::is_object) => Ok(()),
        Some(_) => Err(content_error(format!(
            "{path}.{key} must be an array of objects"
        ))),
    }
}

pub fn check_contacts(list: &[Value]) -> Result<(), CamsError> {
    if list.is_empty() || list.len() > 5 {
        return Err(content_error(format!(
            "Content has {} contacts; send 1 to 5",
            list.len()
        )));
    }
    for (i, c) in list.iter().enumerate() {
        let path = format!("Content[{i}]");
        if !c.is_object() {
            return Err(content_error(format!("{path} must be a contact object")));
        }
        let Some(name) = c.get("name").filter(|n| n.is_object()) else {
            return Err(content_error(format!("{path}.name is mandatory")));
        };
        if name
            .get("formatted_name")
            .and_then(Value::as_str)
            .is_none_or(str::is_empty)
        {
            return Err(content_error(format!(
                "{path}.name.formatted_name is mandatory"
            )));
        }
        if !NAME_PARTS.iter().any(|k| {
            name.get(*k)
                .and_then(Value::as_str)
                .is_some_and(|v| !v.is_empty())
        }) {
            return Err(content_error(format!(
                "{path}.name needs at least one of first_name, last_name, middle_name, suffix or prefix"
            )));
        }
        if let Some(b) = c.get("birthday").filter(|b| !b.is_null())
            && !b.as_str().is_some_and(is_date)
        {
            return Err(content_error(format!(
                "{path}.birthday must be a date YYYY-MM-DD"
            )));
        }
        for key in ["addresses", "emails", "phones", "urls"] {
            list_of_objects(c, key, &path)?;
        }
        if let Some(org) = c.get("org")
            && !org.is_object()
            && !org.is_null()
        {
            return Err(content_error(format!("{path}.org must be an object")));
        }
    }
    Ok(())
}
