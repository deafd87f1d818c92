//! Decoding the `Components` and `Example` request parameters (cams-api.md §1.4): shrink JSON
//! with PascalCase keys, matched exactly and then case-insensitively; `[]`, `null` and `""` mean
//! absent; scalars arrive as strings, numbers or booleans and are coerced. Unknown keys are
//! ignored (the SDKs send Viber-only and read-only fields too).

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::model::{
    Button, ButtonType, Card, Component, ComponentType, FlowAction, HeaderFormat, SupportedApp,
    UrlType,
};
use crate::{CamsError, Code};

/// Parses `Components`. An empty parameter (`""`, `null`, `[]`) gives no components; the linter
/// then reports the missing BODY.
pub fn parse_components(json: &str) -> Result<Vec<Component>, CamsError> {
    let Some(value) = parse_json("Components", json)? else {
        return Ok(Vec::new());
    };
    let Value::Array(items) = value else {
        return Err(CamsError::invalid(
            "Components",
            "expected a JSON array of component objects.",
        ));
    };
    items
        .iter()
        .enumerate()
        .map(|(i, v)| component(v, &format!("Components[{i}]")))
        .collect()
}

/// Parses `Example`: an object of variable name to sample value.
pub fn parse_example(json: &str) -> Result<BTreeMap<String, String>, CamsError> {
    let Some(value) = parse_json("Example", json)? else {
        return Ok(BTreeMap::new());
    };
    let Value::Object(map) = value else {
        return Err(CamsError::invalid(
            "Example",
            "expected a JSON object of variable name to sample value.",
        ));
    };
    let mut out = BTreeMap::new();
    for (k, v) in map {
        match scalar(&v) {
            Some(s) => {
                out.insert(k, s);
            }
            None if v.is_null() => {}
            None => {
                return Err(CamsError::invalid(
                    "Example",
                    format!("the value of {k:?} must be a string."),
                ));
            }
        }
    }
    Ok(out)
}

/// `None` for an absent value (`""`, `null`, `[]`, `{}`).
fn parse_json(param: &str, json: &str) -> Result<Option<Value>, CamsError> {
    if json.trim().is_empty() {
        return Ok(None);
    }
    let value: Value = serde_json::from_str(json).map_err(|e| {
        CamsError::invalid(
            param,
            format!(
                "malformed JSON at line {} column {}: {e}.",
                e.line(),
                e.column()
            ),
        )
    })?;
    Ok(if is_absent(&value) { None } else { Some(value) })
}

fn is_absent(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        _ => false,
    }
}

/// The string form of a scalar; `None` for null, arrays and objects.
fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// One JSON object being read, with the path used in error messages.
struct Obj<'a> {
    map: &'a Map<String, Value>,
    ctx: &'a str,
}

impl<'a> Obj<'a> {
    fn new(v: &'a Value, ctx: &'a str) -> Result<Self, CamsError> {
        match v {
            Value::Object(map) => Ok(Self { map, ctx }),
            _ => Err(CamsError::invalid(
                "Components",
                format!("{ctx} must be a JSON object."),
            )),
        }
    }

    /// Exact key first, then case-insensitive; absent values are `None`.
    fn get(&self, key: &str) -> Option<&'a Value> {
        let v = self.map.get(key).or_else(|| {
            self.map
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(key))
                .map(|(_, v)| v)
        })?;
        if is_absent(v) { None } else { Some(v) }
    }

    fn bad(&self, key: &str, expected: &str) -> CamsError {
        CamsError::invalid(
            "Components",
            format!("{} {key} must be {expected}.", self.ctx),
        )
    }

    fn string(&self, key: &str) -> Result<Option<String>, CamsError> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => scalar(v).map(Some).ok_or_else(|| self.bad(key, "a string")),
        }
    }

    fn int(&self, key: &str) -> Result<Option<i64>, CamsError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Number(n)) => n
                .as_i64()
                .map(Some)
                .ok_or_else(|| self.bad(key, "an integer")),
            Some(Value::String(s)) => s
                .trim()
                .parse()
                .map(Some)
                .map_err(|_| self.bad(key, "an integer")),
            Some(_) => Err(self.bad(key, "an integer")),
        }
    }

    /// Booleans arrive as `true`, `"True"` (Python SDK) or `"false"`.
    fn boolean(&self, key: &str) -> Result<Option<bool>, CamsError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(Value::String(s)) if s.eq_ignore_ascii_case("true") => Ok(Some(true)),
            Some(Value::String(s)) if s.eq_ignore_ascii_case("false") => Ok(Some(false)),
            Some(_) => Err(self.bad(key, "true or false")),
        }
    }

    fn array(&self, key: &str) -> Result<&'a [Value], CamsError> {
        match self.get(key) {
            None => Ok(&[]),
            Some(Value::Array(a)) => Ok(a),
            Some(_) => Err(self.bad(key, "a JSON array")),
        }
    }
}

fn component(v: &Value, ctx: &str) -> Result<Component, CamsError> {
    let o = Obj::new(v, ctx)?;
    let Some(raw_type) = o.string("Type")? else {
        return Err(CamsError::new(
            Code::MessageInvalid,
            format!("{ctx}: type missing; every component needs a Type."),
        ));
    };
    let kind = ComponentType::parse(&raw_type).ok_or_else(|| {
        CamsError::new(
            Code::MessageInvalid,
            format!(
                "{ctx}: component Type {raw_type:?} is not supported; use one of {}.",
                ComponentType::valid()
            ),
        )
    })?;
    let label = format!("{ctx} ({})", kind.as_str());
    let format = match o.string("Format")? {
        None => None,
        Some(f) => Some(HeaderFormat::parse(&f).ok_or_else(|| {
            CamsError::new(
                Code::HeaderTypeNotSupport,
                format!(
                    "{label}: header Format {f:?} is not supported; use one of {}.",
                    HeaderFormat::valid()
                ),
            )
        })?),
    };
    let buttons = o
        .array("Buttons")?
        .iter()
        .enumerate()
        .map(|(i, b)| button(b, &format!("{label} button {i}")))
        .collect::<Result<Vec<_>, _>>()?;
    let cards = o
        .array("Cards")?
        .iter()
        .enumerate()
        .map(|(i, c)| card(c, &format!("{label} card {i}")))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Component {
        kind,
        format,
        text: o.string("Text")?,
        url: o.string("Url")?,
        caption: o.string("Caption")?,
        file_name: o.string("FileName")?,
        buttons,
        cards,
        code_expiration_minutes: o.int("CodeExpirationMinutes")?,
        add_secret_recommendation: o.boolean("AddSecretRecommendation")?,
        has_expiration: o.boolean("HasExpiration")?,
        latitude: o.string("Latitude")?,
        longitude: o.string("Longitude")?,
        location_name: o.string("LocationName")?,
        location_address: o.string("LocationAddress")?,
    })
}

fn card(v: &Value, ctx: &str) -> Result<Card, CamsError> {
    let o = Obj::new(v, ctx)?;
    let components = o
        .array("CardComponents")?
        .iter()
        .enumerate()
        .map(|(i, c)| component(c, &format!("{ctx} CardComponents[{i}]")))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Card { components })
}

fn button(v: &Value, ctx: &str) -> Result<Button, CamsError> {
    let o = Obj::new(v, ctx)?;
    let Some(raw_type) = o.string("Type")? else {
        return Err(CamsError::new(
            Code::MessageInvalid,
            format!("{ctx}: type missing; every button needs a Type."),
        ));
    };
    let kind = ButtonType::parse(&raw_type).ok_or_else(|| {
        CamsError::new(
            Code::MessageInvalid,
            format!(
                "{ctx}: button Type {raw_type:?} is not supported; use one of {}.",
                ButtonType::valid()
            ),
        )
    })?;
    let url_type = match o.string("UrlType")? {
        None => None,
        Some(u) => Some(UrlType::parse(&u).ok_or_else(|| o.bad("UrlType", "static or dynamic"))?),
    };
    let flow_action = match o.string("FlowAction")? {
        None => None,
        Some(f) => Some(
            FlowAction::parse(&f)
                .ok_or_else(|| o.bad("FlowAction", "NAVIGATE or DATA_EXCHANGE"))?,
        ),
    };
    let supported_apps = o
        .array("SupportedApps")?
        .iter()
        .enumerate()
        .map(|(i, a)| {
            let ctx = format!("{ctx} SupportedApps[{i}]");
            let app = Obj::new(a, &ctx)?;
            Ok(SupportedApp {
                package_name: app.string("PackageName")?,
                signature_hash: app.string("SignatureHash")?,
            })
        })
        .collect::<Result<Vec<_>, CamsError>>()?;
    Ok(Button {
        kind,
        text: o.string("Text")?,
        phone_number: o.string("PhoneNumber")?,
        url: o.string("Url")?,
        url_type,
        is_opt_out: o.boolean("IsOptOut")?,
        coupon_code: o.string("CouponCode")?,
        autofill_text: o.string("AutofillText")?,
        supported_apps,
        package_name: o.string("PackageName")?,
        signature_hash: o.string("SignatureHash")?,
        flow_id: o.string("FlowId")?,
        flow_action,
        navigate_screen: o.string("NavigateScreen")?,
    })
}
