//! Small readers over request JSON that turn a missing or mistyped field into the Graph error
//! Meta would give (131008 missing, 100 wrong type, 131009 bad value), with the field's path
//! in `details` so a developer sees at once what to fix.

use serde_json::{Map, Value};

use super::errors::GraphError;

pub type Obj = Map<String, Value>;

/// `parent.key` must be an object.
pub fn req_obj<'a>(parent: &'a Obj, key: &str, path: &str) -> Result<&'a Obj, GraphError> {
    match parent.get(key) {
        None | Some(Value::Null) => Err(GraphError::missing(&join(path, key))),
        Some(Value::Object(o)) => Ok(o),
        Some(_) => Err(wrong_type(path, key, "an object")),
    }
}

pub fn opt_obj<'a>(parent: &'a Obj, key: &str, path: &str) -> Result<Option<&'a Obj>, GraphError> {
    match parent.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(o)) => Ok(Some(o)),
        Some(_) => Err(wrong_type(path, key, "an object")),
    }
}

pub fn req_array<'a>(parent: &'a Obj, key: &str, path: &str) -> Result<&'a [Value], GraphError> {
    match parent.get(key) {
        None | Some(Value::Null) => Err(GraphError::missing(&join(path, key))),
        Some(Value::Array(a)) => Ok(a),
        Some(_) => Err(wrong_type(path, key, "an array")),
    }
}

pub fn opt_array<'a>(parent: &'a Obj, key: &str, path: &str) -> Result<&'a [Value], GraphError> {
    match parent.get(key) {
        None | Some(Value::Null) => Ok(&[]),
        Some(Value::Array(a)) => Ok(a),
        Some(_) => Err(wrong_type(path, key, "an array")),
    }
}

/// A required, non-empty string.
pub fn req_str<'a>(parent: &'a Obj, key: &str, path: &str) -> Result<&'a str, GraphError> {
    match opt_str(parent, key, path)? {
        Some(s) if !s.is_empty() => Ok(s),
        _ => Err(GraphError::missing(&join(path, key))),
    }
}

pub fn opt_str<'a>(parent: &'a Obj, key: &str, path: &str) -> Result<Option<&'a str>, GraphError> {
    match parent.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(wrong_type(path, key, "a string")),
    }
}

pub fn opt_bool(parent: &Obj, key: &str, path: &str) -> Result<Option<bool>, GraphError> {
    match parent.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(_) => Err(wrong_type(path, key, "a boolean")),
    }
}

/// Element `i` of an array must be an object.
pub fn item_obj<'a>(v: &'a Value, path: &str) -> Result<&'a Obj, GraphError> {
    v.as_object()
        .ok_or_else(|| GraphError::param(format!("Param {path} must be an object.")))
}

/// Rejects strings longer than `max` characters (Meta counts characters, not bytes).
pub fn max_len(s: &str, max: usize, path: &str) -> Result<(), GraphError> {
    let n = s.chars().count();
    if n > max {
        return Err(GraphError::invalid(format!(
            "Param {path} is {n} characters long; the maximum is {max}."
        )));
    }
    Ok(())
}

/// A required string of at most `max` characters.
pub fn req_str_max<'a>(
    parent: &'a Obj,
    key: &str,
    max: usize,
    path: &str,
) -> Result<&'a str, GraphError> {
    let s = req_str(parent, key, path)?;
    max_len(s, max, &join(path, key))?;
    Ok(s)
}

/// An optional string of at most `max` characters.
pub fn opt_str_max<'a>(
    parent: &'a Obj,
    key: &str,
    max: usize,
    path: &str,
) -> Result<Option<&'a str>, GraphError> {
    let s = opt_str(parent, key, path)?;
    if let Some(s) = s {
        max_len(s, max, &join(path, key))?;
    }
    Ok(s)
}

pub fn is_http_url(s: &str) -> bool {
    let rest = s
        .strip_prefix("https://")
        .or_else(|| s.strip_prefix("http://"));
    matches!(rest, Some(r) if !r.is_empty() && !r.starts_with('/') && !r.contains(char::is_whitespace))
}

/// A number or a numeric string (the spec types coordinates both ways).
pub fn number_like(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

pub fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

fn wrong_type(path: &str, key: &str, what: &str) -> GraphError {
    GraphError::param(format!("Param {} must be {what}.", join(path, key)))
}
