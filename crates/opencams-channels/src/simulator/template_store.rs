//! The simulator's own template store, fed by the Graph template management API: records,
//! validation of create/edit bodies (whatsapp-cloud-api.md §5 rules), the review outcome, and
//! the conversion to [`SimTemplate`] used by sends.

use serde_json::{Value, json};

use super::config::SimTemplate;
use super::errors::GraphError;
use super::fields::*;

#[derive(Debug, Clone, PartialEq)]
pub struct StoredTemplate {
    pub id: u64,
    pub waba_id: String,
    pub name: String,
    pub language: String,
    pub category: String,
    pub status: String,
    pub parameter_format: String,
    pub components: Value,
    pub rejected_reason: String,
    pub quality_score: String,
}

#[derive(Debug, Default)]
pub struct TemplateStore {
    /// In creation order, which is also the listing order.
    pub items: Vec<StoredTemplate>,
}

impl TemplateStore {
    pub fn find(&self, waba_id: &str, name: &str, language: &str) -> Option<&StoredTemplate> {
        self.items
            .iter()
            .find(|t| t.waba_id == waba_id && t.name == name && t.language == language)
    }

    pub fn find_mut(
        &mut self,
        waba_id: &str,
        name: &str,
        language: &str,
    ) -> Option<&mut StoredTemplate> {
        self.items
            .iter_mut()
            .find(|t| t.waba_id == waba_id && t.name == name && t.language == language)
    }

    pub fn by_id(&self, id: u64) -> Option<&StoredTemplate> {
        self.items.iter().find(|t| t.id == id)
    }

    pub fn by_id_mut(&mut self, id: u64) -> Option<&mut StoredTemplate> {
        self.items.iter_mut().find(|t| t.id == id)
    }
}

impl StoredTemplate {
    pub fn to_sim(&self) -> SimTemplate {
        let comps = self
            .components
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default();
        let of = |kind: &str| {
            comps.iter().find(|c| {
                c["type"]
                    .as_str()
                    .is_some_and(|t| t.eq_ignore_ascii_case(kind))
            })
        };
        let body_text = of("BODY")
            .and_then(|b| b["text"].as_str())
            .map(str::to_string);
        let header = of("HEADER");
        let header_format =
            header.map(|h| h["format"].as_str().unwrap_or("TEXT").to_ascii_uppercase());
        let header_param = header
            .and_then(|h| h["text"].as_str())
            .and_then(|t| variables(t).into_iter().next());
        let mut button_params = Vec::new();
        let buttons = of("BUTTONS")
            .and_then(|b| b["buttons"].as_array())
            .map(Vec::as_slice)
            .unwrap_or_default();
        for (i, b) in buttons.iter().enumerate() {
            let kind = b["type"].as_str().unwrap_or("").to_ascii_uppercase();
            let sub = match kind.as_str() {
                "URL" if b["url"].as_str().is_some_and(|u| u.contains("{{")) => "url",
                "OTP" if b["otp_type"].as_str() != Some("ZERO_TAP") => "url",
                "COPY_CODE" => "copy_code",
                "MPM" => "mpm",
                "CATALOG" => "catalog",
                _ => continue,
            };
            button_params.push((i, sub.to_string()));
        }
        let mut body_params = body_text.as_deref().map(variables).unwrap_or_default();
        if self.category == "AUTHENTICATION" && body_params.is_empty() {
            // Authentication bodies are fixed text with one code variable.
            body_params.push("1".into());
        }
        SimTemplate {
            name: self.name.clone(),
            language: self.language.clone(),
            status: self.status.clone(),
            category: self.category.clone(),
            body_params,
            header_param,
            header_format,
            button_params,
            body_text,
        }
    }

    /// The Graph template object, restricted to `fields` when given (`id` is always present).
    pub fn to_json(&self, fields: Option<&[String]>) -> Value {
        let full = json!({
            "name": self.name,
            "parameter_format": self.parameter_format,
            "components": self.components,
            "language": self.language,
            "status": self.status,
            "category": self.category,
            "id": self.id.to_string(),
            "quality_score": { "score": self.quality_score },
            "rejected_reason": self.rejected_reason,
        });
        let keep_default = [
            "name",
            "parameter_format",
            "components",
            "language",
            "status",
            "category",
            "id",
        ];
        let mut out = serde_json::Map::new();
        if let Value::Object(m) = full {
            for (k, v) in m {
                let wanted = match fields {
                    Some(f) => k == "id" || f.iter().any(|x| x == &k),
                    None => keep_default.contains(&k.as_str()),
                };
                if wanted {
                    out.insert(k, v);
                }
            }
        }
        Value::Object(out)
    }
}

/// Variables of a template text, in order of first appearance, without duplicates.
pub fn variables(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else { break };
        let name = after[..end].trim().to_string();
        if !out.contains(&name) {
            out.push(name);
        }
        rest = &after[end + 2..];
    }
    out
}

/// A validated create body.
#[derive(Debug, Clone, PartialEq)]
pub struct NewTemplate {
    pub name: String,
    pub language: String,
    pub category: String,
    pub parameter_format: String,
    pub components: Value,
}

pub fn validate_create(body: &Value) -> Result<NewTemplate, GraphError> {
    let o = body
        .as_object()
        .ok_or_else(|| GraphError::param("The request body must be a JSON object."))?;
    let name = req_str(o, "name", "")?;
    if name.len() > 512
        || !name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    {
        return Err(GraphError::param(format!(
            "Template name \"{name}\" may only contain lowercase letters, digits and underscores (max 512)."
        )));
    }
    let language = req_str(o, "language", "")?;
    let category = req_str(o, "category", "")?.to_ascii_uppercase();
    if !matches!(
        category.as_str(),
        "MARKETING" | "UTILITY" | "AUTHENTICATION"
    ) {
        return Err(GraphError::param(
            "Param category must be one of MARKETING, UTILITY, AUTHENTICATION.",
        ));
    }
    let parameter_format = opt_str(o, "parameter_format", "")?
        .unwrap_or("POSITIONAL")
        .to_ascii_uppercase();
    if !matches!(parameter_format.as_str(), "POSITIONAL" | "NAMED") {
        return Err(GraphError::param(
            "Param parameter_format must be POSITIONAL or NAMED.",
        ));
    }
    let components = validate_components(o, &category, parameter_format == "NAMED")?;
    Ok(NewTemplate {
        name: name.into(),
        language: language.into(),
        category,
        parameter_format,
        components,
    })
}

pub fn validate_components(o: &Obj, category: &str, named: bool) -> Result<Value, GraphError> {
    let comps = req_array(o, "components", "")?;
    let mut has_body = false;
    for (i, c) in comps.iter().enumerate() {
        let path = format!("components[{i}]");
        let c = item_obj(c, &path)?;
        match req_str(c, "type", &path)?.to_ascii_uppercase().as_str() {
            "HEADER" => header(c, &path, named)?,
            "BODY" => {
                has_body = true;
                if category == "AUTHENTICATION" && c.get("text").is_none() {
                    continue;
                }
                let text = req_str_max(c, "text", 1024, &path)?;
                check_vars(text, c, &path, named, "body")?;
            }
            "FOOTER" => {
                if category == "AUTHENTICATION" && c.get("text").is_none() {
                    continue;
                }
                let text = req_str_max(c, "text", 60, &path)?;
                if text.contains("{{") {
                    return Err(GraphError::param("A footer cannot contain variables."));
                }
            }
            "BUTTONS" => buttons(c, &path)?,
            "LIMITED_TIME_OFFER" | "CAROUSEL" => {}
            other => {
                return Err(GraphError::param(format!(
                    "Param {path}.type \"{other}\" is not a template component type."
                )));
            }
        }
    }
    if !has_body {
        return Err(GraphError::missing("components[BODY]"));
    }
    Ok(Value::Array(comps.to_vec()))
}

fn header(c: &Obj, path: &str, named: bool) -> Result<(), GraphError> {
    let format = req_str(c, "format", path)?.to_ascii_uppercase();
    match format.as_str() {
        "TEXT" => {
            let text = req_str_max(c, "text", 60, path)?;
            if variables(text).len() > 1 {
                return Err(GraphError::param(
                    "A text header may contain at most one variable.",
                ));
            }
            check_vars(text, c, path, named, "header")
        }
        "IMAGE" | "VIDEO" | "DOCUMENT" | "LOCATION" => Ok(()),
        other => Err(GraphError::param(format!(
            "Param {path}.format \"{other}\" must be TEXT, IMAGE, VIDEO, DOCUMENT or LOCATION."
        ))),
    }
}

/// Numbering (positional 1..n) or naming rules, and examples for every variable.
fn check_vars(text: &str, c: &Obj, path: &str, named: bool, part: &str) -> Result<(), GraphError> {
    let vars = variables(text);
    if vars.is_empty() {
        return Ok(());
    }
    let example = c.get("example");
    if named {
        if let Some(v) = vars.iter().find(|v| {
            !v.chars()
                .all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '_')
                || v.chars().all(|ch| ch.is_ascii_digit())
        }) {
            return Err(GraphError::param(format!(
                "{path}: variable {{{{{v}}}}} is not a valid name for a NAMED template."
            )));
        }
        let key = format!("{part}_text_named_params");
        let given = example
            .and_then(|e| e.get(&key))
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        for v in &vars {
            if !given.iter().any(|g| g["param_name"].as_str() == Some(v)) {
                return Err(GraphError::param(format!(
                    "{path}: example.{key} has no example for {{{{{v}}}}}."
                )));
            }
        }
        return Ok(());
    }
    let mut numbers = Vec::new();
    for v in &vars {
        let n: usize = v.parse().map_err(|_| {
            GraphError::param(format!(
                "{path}: variable {{{{{v}}}}} must be a number in a POSITIONAL template."
            ))
        })?;
        numbers.push(n);
    }
    numbers.sort_unstable();
    if numbers.iter().enumerate().any(|(i, n)| *n != i + 1) {
        return Err(GraphError::param(format!(
            "{path}: variables must be numbered {{{{1}}}} to {{{{{}}}}} without gaps.",
            numbers.len()
        )));
    }
    let count = match part {
        "header" => example
            .and_then(|e| e["header_text"].as_array())
            .map(Vec::len),
        _ => example
            .and_then(|e| e["body_text"].as_array())
            .and_then(|a| a.first())
            .and_then(Value::as_array)
            .map(Vec::len),
    };
    if count != Some(numbers.len()) {
        return Err(GraphError::param(format!(
            "{path}: provide one example value per variable ({} expected).",
            numbers.len()
        )));
    }
    Ok(())
}

fn buttons(c: &Obj, path: &str) -> Result<(), GraphError> {
    let list = req_array(c, "buttons", path)?;
    if list.is_empty() || list.len() > 10 {
        return Err(GraphError::param(
            "A template has between 1 and 10 buttons.",
        ));
    }
    let kinds: Vec<String> = list
        .iter()
        .map(|b| b["type"].as_str().unwrap_or("").to_ascii_uppercase())
        .collect();
    let count = |k: &str| kinds.iter().filter(|x| *x == k).count();
    if count("URL") > 2 || count("PHONE_NUMBER") > 1 || count("COPY_CODE") > 1 {
        return Err(GraphError::param(
            "At most 2 URL, 1 PHONE_NUMBER and 1 COPY_CODE buttons are allowed.",
        ));
    }
    let qr: Vec<usize> = kinds
        .iter()
        .enumerate()
        .filter(|(_, k)| *k == "QUICK_REPLY")
        .map(|(i, _)| i)
        .collect();
    if qr.windows(2).any(|w| w[1] != w[0] + 1) {
        return Err(GraphError::param(
            "Quick reply buttons must be grouped together.",
        ));
    }
    for (i, b) in list.iter().enumerate() {
        let bpath = format!("{path}.buttons[{i}]");
        let b = item_obj(b, &bpath)?;
        match kinds[i].as_str() {
            "QUICK_REPLY" | "PHONE_NUMBER" | "COPY_CODE" | "FLOW" | "MPM" | "CATALOG" | "SPM"
            | "VOICE_CALL" => {}
            "URL" => {
                let url = req_str(b, "url", &bpath)?;
                if url.matches("{{").count() > 1 || (url.contains("{{") && !url.ends_with("{{1}}"))
                {
                    return Err(GraphError::param(format!(
                        "{bpath}: a URL may only end with one {{{{1}}}} variable."
                    )));
                }
            }
            "OTP" => {
                req_str(b, "otp_type", &bpath)?;
            }
            other => {
                return Err(GraphError::param(format!(
                    "{bpath}: button type \"{other}\" is not valid."
                )));
            }
        }
        if kinds[i] != "OTP" {
            opt_str_max(b, "text", 25, &bpath)?;
        }
    }
    Ok(())
}

/// Meta's review: the simulator rejects names containing "reject" and bodies that start or end
/// with a variable or put two variables side by side.
pub fn review(t: &StoredTemplate) -> (&'static str, &'static str) {
    if t.name.contains("reject") {
        return ("REJECTED", "INVALID_FORMAT");
    }
    let comps = t
        .components
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default();
    for c in comps {
        if !c["type"]
            .as_str()
            .is_some_and(|k| k.eq_ignore_ascii_case("BODY"))
        {
            continue;
        }
        let text = c["text"].as_str().unwrap_or("").trim();
        let squeezed: String = text.chars().filter(|ch| !ch.is_whitespace()).collect();
        if text.starts_with("{{") || text.ends_with("}}") || squeezed.contains("}}{{") {
            return ("REJECTED", "INVALID_FORMAT");
        }
    }
    ("APPROVED", "NONE")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variables_in_order_without_duplicates() {
        assert_eq!(variables("Hi {{1}}, {{2}} and {{1}}"), ["1", "2"]);
        assert_eq!(variables("Hi {{first_name}}"), ["first_name"]);
        assert!(variables("no vars {{").is_empty());
    }

    #[test]
    fn create_rules() {
        let ok = json!({"name": "order_shipped", "language": "en_GB", "category": "UTILITY",
            "components": [{"type": "BODY", "text": "Hi {{1}}, order {{2}} shipped.", "example": {"body_text": [["Ada", "A1"]]}}]});
        assert!(validate_create(&ok).is_ok());
        let mut bad = ok.clone();
        bad["name"] = json!("Order Shipped");
        assert_eq!(validate_create(&bad).map_err(|e| e.code), Err(100));
        let mut gap = ok.clone();
        gap["components"][0]["text"] = json!("Hi {{1}}, order {{3}} shipped.");
        assert!(validate_create(&gap).is_err());
        let mut no_example = ok;
        no_example["components"][0]["example"] = json!({});
        assert!(validate_create(&no_example).is_err());
    }
}
