//! The parameters of one call: the union of the URL query and, for a form body, the form
//! parameters (cams-api.md §1.3). Values are form-decoded; unknown names are kept (they take part
//! in signatures) and ignored by the actions.

use std::collections::BTreeMap;

use serde::de::DeserializeOwned;

use crate::encode::form_pairs;
use crate::{CamsError, Code};

/// Decoded request parameters, each name at most once.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Params(BTreeMap<String, String>);

impl Params {
    /// Merges the query and the form body. A name given twice (in one source or across both) is
    /// ambiguous and rejected, naming it.
    pub fn from_parts(raw_query: &str, form_body: Option<&[u8]>) -> Result<Self, CamsError> {
        let mut map = BTreeMap::new();
        let body_pairs = form_body.map(form_pairs).unwrap_or_default();
        for (k, v) in form_pairs(raw_query.as_bytes())
            .into_iter()
            .chain(body_pairs)
        {
            if map.contains_key(&k) {
                return Err(CamsError::invalid(
                    &k,
                    "the parameter is given more than once; send it once",
                ));
            }
            map.insert(k, v);
        }
        Ok(Self(map))
    }

    /// Builds parameters from pairs (JSON bodies, tests).
    pub fn from_map(map: BTreeMap<String, String>) -> Self {
        Self(map)
    }

    /// Adds a parameter that must not be present yet.
    pub fn insert_new(&mut self, name: String, value: String) -> Result<(), CamsError> {
        if self.0.contains_key(&name) {
            return Err(CamsError::invalid(
                &name,
                "the parameter is given more than once; send it once",
            ));
        }
        self.0.insert(name, value);
        Ok(())
    }

    pub fn as_map(&self) -> &BTreeMap<String, String> {
        &self.0
    }

    /// The raw value, empty strings included.
    pub fn raw(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    /// The value, with `""` treated as absent (SDKs send empty strings for unset fields).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.raw(name).filter(|v| !v.is_empty())
    }

    /// A JSON-carrying value, with `""`, `[]`, `{}` and `null` treated as absent (the Python SDK
    /// sends empty lists for unset fields, cams-api.md §1.4).
    pub fn get_json_text(&self, name: &str) -> Option<&str> {
        self.get(name)
            .filter(|v| !matches!(v.trim(), "[]" | "{}" | "null"))
    }

    /// A required value: absent or empty → `Missing<Name>`.
    pub fn require(&self, name: &'static str) -> Result<&str, CamsError> {
        self.get(name).ok_or_else(|| CamsError::missing(name))
    }

    /// A boolean as the SDKs send it (`True`/`true`/`false`, case-insensitive).
    pub fn get_bool(&self, name: &str) -> Result<Option<bool>, CamsError> {
        match self.get(name) {
            None => Ok(None),
            Some(v) if v.eq_ignore_ascii_case("true") => Ok(Some(true)),
            Some(v) if v.eq_ignore_ascii_case("false") => Ok(Some(false)),
            Some(v) => Err(CamsError::invalid(
                name,
                format_args!("expected true or false, got {v:?}"),
            )),
        }
    }

    /// An integer within `min..=max`.
    pub fn get_int(&self, name: &str, min: i64, max: i64) -> Result<Option<i64>, CamsError> {
        let Some(v) = self.get(name) else {
            return Ok(None);
        };
        match v.trim().parse::<i64>() {
            Ok(n) if (min..=max).contains(&n) => Ok(Some(n)),
            Ok(n) => Err(CamsError::invalid(
                name,
                format_args!("{n} is out of range; use an integer from {min} to {max}"),
            )),
            Err(_) => Err(CamsError::invalid(
                name,
                format_args!("expected an integer from {min} to {max}, got {v:?}"),
            )),
        }
    }

    /// A "shrink" JSON parameter decoded into `T`; malformed JSON names the parameter.
    pub fn get_json<T: DeserializeOwned>(&self, name: &str) -> Result<Option<T>, CamsError> {
        let Some(v) = self.get(name) else {
            return Ok(None);
        };
        serde_json::from_str(v).map(Some).map_err(|e| {
            CamsError::invalid(
                name,
                format_args!("not valid JSON of the expected shape: {e}"),
            )
        })
    }
}

/// `Page` of the list operations: `{"Index": n ≥ 1, "Size": n}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    pub index: u32,
    pub size: u32,
}

impl Page {
    /// Parses `Page` (defaults Index 1, Size `default_size`; Size capped at `max_size`).
    pub fn parse(params: &Params, default_size: u32, max_size: u32) -> Result<Self, CamsError> {
        let Some(raw) = params.get("Page") else {
            return Ok(Self {
                index: 1,
                size: default_size,
            });
        };
        let bad = |why: &str| {
            CamsError::new(
                Code::PageInvalid,
                format!(
                    "Page is not valid: {why}; send {{\"Index\":1,\"Size\":{default_size}}} with Index ≥ 1 and Size 1–{max_size}."
                ),
            )
        };
        let v: serde_json::Value = serde_json::from_str(raw).map_err(|_| bad("not JSON"))?;
        let obj = v.as_object().ok_or_else(|| bad("not a JSON object"))?;
        let field = |key: &str| -> Result<Option<i64>, CamsError> {
            let val = obj.get(key).or_else(|| {
                obj.iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(key))
                    .map(|(_, v)| v)
            });
            match val {
                None | Some(serde_json::Value::Null) => Ok(None),
                Some(serde_json::Value::Number(n)) => {
                    n.as_i64().map(Some).ok_or_else(|| bad("not an integer"))
                }
                Some(serde_json::Value::String(s)) => {
                    s.parse().map(Some).map_err(|_| bad("not an integer"))
                }
                Some(_) => Err(bad("not an integer")),
            }
        };
        let index = field("Index")?.unwrap_or(1);
        let size = field("Size")?.unwrap_or(default_size as i64);
        if index < 1 || index > i64::from(u32::MAX) {
            return Err(bad("Index must be 1 or more"));
        }
        if size < 1 || size > i64::from(max_size) {
            return Err(bad("Size is out of range"));
        }
        Ok(Self {
            index: index as u32,
            size: size as u32,
        })
    }

    pub fn offset(&self) -> u64 {
        u64::from(self.index - 1) * u64::from(self.size)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merges_query_and_form_and_rejects_duplicates() {
        let p = Params::from_parts("Content=%7B%7D&A=1", Some(b"TaskId=a+b%2Bc&B=")).unwrap();
        assert_eq!(p.get("TaskId"), Some("a b+c"));
        assert_eq!(p.raw("B"), Some(""));
        assert_eq!(p.get("B"), None);
        let e = Params::from_parts("A=1", Some(b"A=2")).unwrap_err();
        assert_eq!(e.code, Code::InvalidParameter);
        assert!(e.message.contains("A"));
        assert!(Params::from_parts("A=1&A=1", None).is_err());
    }

    #[test]
    fn typed_getters() {
        let p = Params::from_parts("B=True&N=120&X=abc&J=%7B%22a%22%3A1%7D", None).unwrap();
        assert_eq!(p.get_bool("B").unwrap(), Some(true));
        assert_eq!(p.get_int("N", 60, 43200).unwrap(), Some(120));
        assert!(
            p.get_int("N", 200, 300)
                .unwrap_err()
                .message
                .contains("200 to 300")
        );
        assert!(p.get_int("X", 0, 1).is_err());
        assert_eq!(p.require("Z").unwrap_err().code.as_str(), "MissingZ");
        let e = Params::from_parts("L=%5B%5D&N=null&O=%7B%7D&J2=%5B1%5D", None).unwrap();
        assert_eq!(
            (
                e.get_json_text("L"),
                e.get_json_text("N"),
                e.get_json_text("O")
            ),
            (None, None, None)
        );
        assert_eq!(e.get_json_text("J2"), Some("[1]"));
        let j: serde_json::Value = p.get_json("J").unwrap().unwrap();
        assert_eq!(j["a"], 1);
    }

    #[test]
    fn pages() {
        let p = Params::from_parts("Page=%7B%22Index%22%3A3%2C%22Size%22%3A50%7D", None).unwrap();
        assert_eq!(
            Page::parse(&p, 10, 100).unwrap(),
            Page { index: 3, size: 50 }
        );
        assert_eq!(
            Page::parse(&Params::default(), 10, 100).unwrap(),
            Page { index: 1, size: 10 }
        );
        let bad = Params::from_parts("Page=%7B%22Index%22%3A0%7D", None).unwrap();
        assert_eq!(
            Page::parse(&bad, 10, 100).unwrap_err().code,
            Code::PageInvalid
        );
        let bad = Params::from_parts("Page=nope", None).unwrap();
        assert_eq!(
            Page::parse(&bad, 10, 100).unwrap_err().code,
            Code::PageInvalid
        );
    }
}
