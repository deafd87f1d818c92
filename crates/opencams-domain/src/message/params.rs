//! The "shrink" JSON parameters of a send (cams-api.md §1.4): `TemplateParams`, `Payload`,
//! `ProductAction`, `FlowAction` and the mass send's `SenderList`. Keys are the SDK's PascalCase,
//! matched exactly first and then case-insensitively; `[]`, `null` and `""` mean absent.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use crate::{CamsError, PhoneNumber};

fn bad(param: &str, problem: impl std::fmt::Display) -> CamsError {
    CamsError::invalid(param, problem)
}

fn parse_json(param: &str, raw: Option<&str>) -> Result<Option<Value>, CamsError> {
    let Some(raw) = raw.map(str::trim).filter(|r| !r.is_empty()) else {
        return Ok(None);
    };
    let v: Value =
        serde_json::from_str(raw).map_err(|e| bad(param, format_args!("not valid JSON: {e}")))?;
    Ok(absent_if_empty(v))
}

fn absent_if_empty(v: Value) -> Option<Value> {
    match &v {
        Value::Null => None,
        Value::Array(a) if a.is_empty() => None,
        Value::Object(o) if o.is_empty() => None,
        Value::String(s) if s.is_empty() => None,
        _ => Some(v),
    }
}

/// A key of a PascalCase object: exact, then case-insensitive.
fn field<'a>(obj: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    obj.get(key)
        .or_else(|| {
            obj.iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(key))
                .map(|(_, v)| v)
        })
        .and_then(|v| {
            if absent_if_empty(v.clone()).is_some() {
                Some(v)
            } else {
                None
            }
        })
}

fn scalar_string(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn params_from(param: &str, v: Option<Value>) -> Result<BTreeMap<String, String>, CamsError> {
    let Some(v) = v else {
        return Ok(BTreeMap::new());
    };
    let Value::Object(obj) = v else {
        return Err(bad(
            param,
            "must be a JSON object of variable name to value",
        ));
    };
    obj.into_iter()
        .map(|(k, v)| match scalar_string(&v) {
            Some(s) => Ok((k, s)),
            None if v.is_null() => Ok((k, String::new())),
            None => Err(bad(
                param,
                format_args!("the value of {k:?} must be a string"),
            )),
        })
        .collect()
}

/// `TemplateParams`: variable name → value (numbers and booleans become their text).
pub fn parse_template_params(raw: Option<&str>) -> Result<BTreeMap<String, String>, CamsError> {
    params_from("TemplateParams", parse_json("TemplateParams", raw)?)
}

fn payload_from(param: &str, v: Option<Value>) -> Result<Vec<String>, CamsError> {
    let Some(v) = v else { return Ok(Vec::new()) };
    let Value::Array(items) = v else {
        return Err(bad(param, "must be a JSON array of strings"));
    };
    if items.len() > 10 {
        return Err(bad(
            param,
            format_args!(
                "has {} entries; a template has at most 10 quick-reply buttons",
                items.len()
            ),
        ));
    }
    items
        .iter()
        .enumerate()
        .map(|(i, v)| {
            scalar_string(v).ok_or_else(|| bad(param, format_args!("entry {i} must be a string")))
        })
        .collect()
}

/// `Payload`: one entry per quick-reply button, in order.
pub fn parse_payload(raw: Option<&str>) -> Result<Vec<String>, CamsError> {
    payload_from("Payload", parse_json("Payload", raw)?)
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProductSection {
    pub title: Option<String>,
    pub product_retailer_ids: Vec<String>,
}

/// `ProductAction`: the products of a catalog / multi-product send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProductAction {
    pub thumbnail_product_retailer_id: Option<String>,
    pub sections: Vec<ProductSection>,
}

impl ProductAction {
    /// The Cloud API `action` of an MPM/catalog template button.
    pub fn to_cloud_action(&self) -> Value {
        let mut a = Map::new();
        if let Some(t) = &self.thumbnail_product_retailer_id {
            a.insert("thumbnail_product_retailer_id".into(), json!(t));
        }
        if !self.sections.is_empty() {
            let sections: Vec<Value> = self
                .sections
                .iter()
                .map(|s| {
                    let items: Vec<Value> = s
                        .product_retailer_ids
                        .iter()
                        .map(|id| json!({"product_retailer_id": id}))
                        .collect();
                    let mut o = Map::new();
                    if let Some(t) = &s.title {
                        o.insert("title".into(), json!(t));
                    }
                    o.insert("product_items".into(), Value::Array(items));
                    Value::Object(o)
                })
                .collect();
            a.insert("sections".into(), Value::Array(sections));
        }
        Value::Object(a)
    }
}

fn product_action_from(param: &str, v: Option<Value>) -> Result<Option<ProductAction>, CamsError> {
    let Some(v) = v else { return Ok(None) };
    let Value::Object(obj) = v else {
        return Err(bad(param, "must be a JSON object"));
    };
    let thumb = field(&obj, "ThumbnailProductRetailerId").and_then(scalar_string);
    let mut sections = Vec::new();
    if let Some(list) = field(&obj, "Sections") {
        let Value::Array(list) = list else {
            return Err(bad(param, "Sections must be an array"));
        };
        if list.len() > 10 {
            return Err(bad(
                param,
                format_args!("has {} sections; at most 10", list.len()),
            ));
        }
        for (i, s) in list.iter().enumerate() {
            let Value::Object(so) = s else {
                return Err(bad(param, format_args!("Sections[{i}] must be an object")));
            };
            let title = field(so, "Title").and_then(scalar_string);
            if let Some(t) = &title {
                if t.chars().count() > 24 {
                    return Err(bad(
                        param,
                        format_args!("Sections[{i}].Title is longer than 24 characters"),
                    ));
                }
            } else if list.len() > 1 {
                return Err(bad(
                    param,
                    format_args!(
                        "Sections[{i}].Title is mandatory when there are several sections"
                    ),
                ));
            }
            let mut ids = Vec::new();
            if let Some(Value::Array(items)) = field(so, "ProductItems") {
                for (j, it) in items.iter().enumerate() {
                    let id = it
                        .as_object()
                        .and_then(|o| field(o, "ProductRetailerId"))
                        .and_then(scalar_string);
                    match id {
                        Some(id) if !id.is_empty() => ids.push(id),
                        _ => {
                            return Err(bad(
                                param,
                                format_args!(
                                    "Sections[{i}].ProductItems[{j}].ProductRetailerId is mandatory"
                                ),
                            ));
                        }
                    }
                }
            }
            if ids.is_empty() {
                return Err(bad(
                    param,
                    format_args!("Sections[{i}] needs at least one product"),
                ));
            }
            sections.push(ProductSection {
                title,
                product_retailer_ids: ids,
            });
        }
    }
    let total: usize = sections.iter().map(|s| s.product_retailer_ids.len()).sum();
    if total > 30 {
        return Err(bad(
            param,
            format_args!("has {total} products; at most 30 in all sections"),
        ));
    }
    if thumb.is_none() && sections.is_empty() {
        return Err(bad(param, "needs ThumbnailProductRetailerId or Sections"));
    }
    Ok(Some(ProductAction {
        thumbnail_product_retailer_id: thumb,
        sections,
    }))
}

pub fn parse_product_action(raw: Option<&str>) -> Result<Option<ProductAction>, CamsError> {
    product_action_from("ProductAction", parse_json("ProductAction", raw)?)
}

/// `FlowAction`: the flow token and initial data of a FLOW button.
#[derive(Debug, Clone, PartialEq)]
pub struct FlowAction {
    pub flow_token: String,
    pub flow_action_data: Option<Map<String, Value>>,
}

impl FlowAction {
    pub fn to_cloud_action(&self) -> Value {
        let mut a = Map::new();
        a.insert("flow_token".into(), json!(self.flow_token));
        if let Some(d) = &self.flow_action_data {
            a.insert("flow_action_data".into(), Value::Object(d.clone()));
        }
        Value::Object(a)
    }
}

fn flow_action_from(param: &str, v: Option<Value>) -> Result<Option<FlowAction>, CamsError> {
    let Some(v) = v else { return Ok(None) };
    let Value::Object(obj) = v else {
        return Err(bad(param, "must be a JSON object"));
    };
    let Some(token) = field(&obj, "FlowToken")
        .and_then(scalar_string)
        .filter(|t| !t.is_empty())
    else {
        return Err(bad(param, "FlowToken is mandatory"));
    };
    let data = match field(&obj, "FlowActionData") {
        None => None,
        Some(Value::Object(d)) => Some(d.clone()),
        Some(_) => return Err(bad(param, "FlowActionData must be a JSON object")),
    };
    Ok(Some(FlowAction {
        flow_token: token,
        flow_action_data: data,
    }))
}

pub fn parse_flow_action(raw: Option<&str>) -> Result<Option<FlowAction>, CamsError> {
    flow_action_from("FlowAction", parse_json("FlowAction", raw)?)
}

/// One recipient of a mass send.
#[derive(Debug, Clone, PartialEq)]
pub struct Recipient {
    pub to: PhoneNumber,
    pub template_params: BTreeMap<String, String>,
    pub payload: Vec<String>,
    pub product_action: Option<ProductAction>,
    pub flow_action: Option<FlowAction>,
}

/// The most recipients one mass send may name.
pub const MAX_RECIPIENTS: usize = 1000;

/// `SenderList` of SendChatappMassMessage; every error names the entry's index.
pub fn parse_sender_list(raw: Option<&str>) -> Result<Vec<Recipient>, CamsError> {
    let Some(v) = parse_json("SenderList", raw)? else {
        return Err(CamsError::missing("SenderList"));
    };
    let Value::Array(items) = v else {
        return Err(bad("SenderList", "must be a JSON array of recipients"));
    };
    if items.len() > MAX_RECIPIENTS {
        return Err(bad(
            "SenderList",
            format_args!(
                "has {} recipients; at most {MAX_RECIPIENTS} per call",
                items.len()
            ),
        ));
    }
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.into_iter().enumerate() {
        let at = |e: CamsError| CamsError {
            message: format!("SenderList[{i}]: {}", e.message),
            ..e
        };
        let Value::Object(obj) = item else {
            return Err(at(bad("SenderList", "each recipient must be an object")));
        };
        let to = field(&obj, "To")
            .and_then(scalar_string)
            .ok_or_else(|| at(CamsError::missing("To")))?;
        let to = PhoneNumber::parse("To", &to).map_err(at)?;
        if let Some(rt) = field(&obj, "RecipientType").and_then(scalar_string) {
            super::kinds::parse_recipient_type(Some(&rt)).map_err(at)?;
        }
        out.push(Recipient {
            to,
            template_params: params_from("TemplateParams", field(&obj, "TemplateParams").cloned())
                .map_err(at)?,
            payload: payload_from("Payload", field(&obj, "Payload").cloned()).map_err(at)?,
            product_action: product_action_from(
                "ProductAction",
                field(&obj, "ProductAction").cloned(),
            )
            .map_err(at)?,
            flow_action: flow_action_from("FlowAction", field(&obj, "FlowAction").cloned())
                .map_err(at)?,
        });
    }
    if out.is_empty() {
        return Err(CamsError::missing("SenderList"));
    }
    Ok(out)
}
