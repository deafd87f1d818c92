//! Template management over the Graph API (whatsapp-cloud-api.md §5): create (PENDING, then
//! reviewed after `review_delay_ms`), list with cursor paging, get, edit, delete, unpause, and
//! the `message_template_status_update` / `message_template_quality_update` webhooks (§3.7).

use std::collections::HashMap;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

use super::Simulator;
use super::errors::GraphError;
use super::ids::{object_id, stable_hash};
use super::state::Event;
use super::template_store::{StoredTemplate, review, validate_components, validate_create};
use super::webhooks::waba_envelope;

impl Simulator {
    pub(super) fn create_template(&self, waba_id: &str, body: &Value) -> Result<Value, GraphError> {
        let new = validate_create(body)?;
        let now = self.clock.now_ms();
        let mut st = self.lock();
        if st
            .templates
            .find(waba_id, &new.name, &new.language)
            .is_some()
        {
            return Err(GraphError::param(format!(
                "Content in this language already exists: template {} already has a {} translation.",
                new.name, new.language
            ))
            .with_subcode(2_388_024));
        }
        let id = object_id();
        let category = new.category.clone();
        st.templates.items.push(StoredTemplate {
            id,
            waba_id: waba_id.to_string(),
            name: new.name,
            language: new.language,
            category: new.category,
            status: "PENDING".into(),
            parameter_format: new.parameter_format,
            components: new.components,
            rejected_reason: "NONE".into(),
            quality_score: "UNKNOWN".into(),
        });
        st.schedule(
            now + delay(self.cfg.review_delay_ms),
            Event::Review { template_id: id },
        );
        drop(st);
        self.wake.notify_one();
        Ok(json!({ "id": id.to_string(), "status": "PENDING", "category": category }))
    }

    pub(super) fn list_templates(
        &self,
        waba_id: &str,
        q: &HashMap<String, String>,
        self_url: &str,
    ) -> Value {
        let st = self.lock();
        let fields: Option<Vec<String>> = q
            .get("fields")
            .map(|f| f.split(',').map(|s| s.trim().to_string()).collect());
        let matches = |t: &&StoredTemplate| {
            t.waba_id == waba_id
                && q.get("name").is_none_or(|n| t.name.contains(n.as_str()))
                && q.get("status")
                    .is_none_or(|s| t.status.eq_ignore_ascii_case(s))
                && q.get("language").is_none_or(|l| &t.language == l)
                && q.get("category")
                    .is_none_or(|c| t.category.eq_ignore_ascii_case(c))
        };
        let all: Vec<&StoredTemplate> = st.templates.items.iter().filter(matches).collect();
        let limit = q
            .get("limit")
            .and_then(|l| l.parse::<usize>().ok())
            .unwrap_or(25)
            .clamp(1, 1000);
        let start = q
            .get("after")
            .and_then(|c| decode_cursor(c))
            .map_or(0, |i| i + 1);
        let page: Vec<Value> = all
            .iter()
            .skip(start)
            .take(limit)
            .map(|t| t.to_json(fields.as_deref()))
            .collect();
        let mut out = json!({ "data": page });
        if !page.is_empty() {
            let last = start + page.len() - 1;
            let after = encode_cursor(last);
            out["paging"] =
                json!({ "cursors": { "before": encode_cursor(start), "after": after } });
            if last + 1 < all.len() {
                let mut next = format!("{self_url}?limit={limit}&after={after}");
                for key in ["fields", "name", "status", "language", "category"] {
                    if let Some(v) = q.get(key) {
                        next.push_str(&format!("&{key}={v}"));
                    }
                }
                out["paging"]["next"] = json!(next);
            }
        }
        out
    }

    pub(super) fn delete_templates(
        &self,
        waba_id: &str,
        q: &HashMap<String, String>,
    ) -> Result<Value, GraphError> {
        let name = q.get("name").ok_or_else(|| GraphError::missing("name"))?;
        let hsm_id = match q.get("hsm_id") {
            Some(h) => Some(
                h.parse::<u64>()
                    .map_err(|_| GraphError::param("Param hsm_id must be a template id."))?,
            ),
            None => None,
        };
        let mut st = self.lock();
        let before = st.templates.items.len();
        st.templates.items.retain(|t| {
            !(t.waba_id == waba_id && &t.name == name && hsm_id.is_none_or(|h| h == t.id))
        });
        if st.templates.items.len() == before {
            return Err(
                GraphError::param(format!("Message template \"{name}\" not found."))
                    .with_subcode(2_593_002),
            );
        }
        Ok(json!({ "success": true }))
    }

    pub(super) fn template_waba(&self, id: &str) -> Option<String> {
        let id = id.parse().ok()?;
        self.lock().templates.by_id(id).map(|t| t.waba_id.clone())
    }

    pub(super) fn get_template(&self, id: &str, q: &HashMap<String, String>) -> Option<Value> {
        let id = id.parse().ok()?;
        let fields: Option<Vec<String>> = q
            .get("fields")
            .map(|f| f.split(',').map(|s| s.trim().to_string()).collect());
        self.lock()
            .templates
            .by_id(id)
            .map(|t| t.to_json(fields.as_deref()))
    }

    pub(super) fn edit_template(&self, id: &str, body: &Value) -> Result<Value, GraphError> {
        let o = body
            .as_object()
            .ok_or_else(|| GraphError::param("The request body must be a JSON object."))?;
        let id: u64 = id.parse().map_err(|_| super::media::unknown_object(id))?;
        let now = self.clock.now_ms();
        let mut st = self.lock();
        let t = st
            .templates
            .by_id_mut(id)
            .ok_or_else(|| super::media::unknown_object(&id.to_string()))?;
        if let Some(cat) = o.get("category").and_then(Value::as_str) {
            if t.status == "APPROVED" && !cat.eq_ignore_ascii_case(&t.category) {
                return Err(GraphError::param(
                    "The category of an approved template cannot be changed.",
                ));
            }
            t.category = cat.to_ascii_uppercase();
        }
        t.components = validate_components(o, &t.category, t.parameter_format == "NAMED")?;
        t.status = "PENDING".into();
        st.schedule(
            now + delay(self.cfg.review_delay_ms),
            Event::Review { template_id: id },
        );
        drop(st);
        self.wake.notify_one();
        Ok(json!({ "success": true }))
    }

    pub(super) fn unpause_template(&self, id: &str) -> Result<Value, GraphError> {
        let id: u64 = id.parse().map_err(|_| super::media::unknown_object(id))?;
        let (waba, name, lang) = {
            let st = self.lock();
            let t = st
                .templates
                .by_id(id)
                .ok_or_else(|| super::media::unknown_object(&id.to_string()))?;
            if t.status != "PAUSED" {
                return Err(GraphError::param("Only a paused template can be unpaused."));
            }
            (t.waba_id.clone(), t.name.clone(), t.language.clone())
        };
        self.set_template_status(&waba, &name, &lang, "APPROVED", None);
        Ok(json!({ "success": true }))
    }

    /// Called by the worker when a review is due.
    pub(super) fn finish_review(&self, template_id: u64) {
        let outcome = {
            let mut st = self.lock();
            match st.templates.by_id_mut(template_id) {
                Some(t) if t.status == "PENDING" => {
                    let (status, reason) = review(t);
                    t.status = status.into();
                    t.rejected_reason = reason.into();
                    Some((
                        t.waba_id.clone(),
                        t.name.clone(),
                        t.language.clone(),
                        status,
                        reason,
                    ))
                }
                _ => None,
            }
        };
        if let Some((waba, name, lang, status, reason)) = outcome {
            self.set_template_status(&waba, &name, &lang, status, Some(reason));
        }
    }

    /// Sets a template's status (in the simulator's store, if it holds it) and announces it
    /// with a `message_template_status_update` webhook — also for templates of an external
    /// directory, whose owner applies the change when the webhook arrives.
    pub fn set_template_status(
        &self,
        waba_id: &str,
        name: &str,
        language: &str,
        status: &str,
        reason: Option<&str>,
    ) {
        let now = self.clock.now_ms();
        let mut st = self.lock();
        let (id, category) = match st.templates.find_mut(waba_id, name, language) {
            Some(t) => {
                t.status = status.to_string();
                (t.id, Some(t.category.clone()))
            }
            None => (synthetic_id(waba_id, name, language), None),
        };
        let mut value = json!({
            "event": status,
            "message_template_id": id,
            "message_template_name": name,
            "message_template_language": language,
        });
        if let Some(c) = category {
            value["message_template_category"] = json!(c);
        }
        value["reason"] = json!(reason.unwrap_or("NONE"));
        match status {
            "REJECTED" => {
                value["rejection_info"] = json!({ "reason": reason.unwrap_or("NONE"), "recommendation": "Review the template guidelines and resubmit." });
            }
            "PAUSED" => {
                value["other_info"] = json!({ "title": "FIRST_PAUSE", "description": "Your message template has been paused for 3 hours due to low quality." });
            }
            "DISABLED" => {
                value["disable_info"] = json!({ "disable_date": now.div_euclid(1000) });
            }
            _ => {}
        }
        st.enqueue_webhook(
            waba_envelope(waba_id, now, "message_template_status_update", value),
            now,
            self.cfg.history_limit,
        );
        drop(st);
        self.wake.notify_one();
    }

    /// Sets a template's quality score and sends `message_template_quality_update`.
    pub fn set_template_quality(&self, waba_id: &str, name: &str, language: &str, score: &str) {
        let now = self.clock.now_ms();
        let mut st = self.lock();
        let (id, previous) = match st.templates.find_mut(waba_id, name, language) {
            Some(t) => (
                t.id,
                std::mem::replace(&mut t.quality_score, score.to_string()),
            ),
            None => (synthetic_id(waba_id, name, language), "UNKNOWN".to_string()),
        };
        let value = json!({
            "previous_quality_score": previous,
            "new_quality_score": score,
            "message_template_id": id,
            "message_template_name": name,
            "message_template_language": language,
        });
        st.enqueue_webhook(
            waba_envelope(waba_id, now, "message_template_quality_update", value),
            now,
            self.cfg.history_limit,
        );
        drop(st);
        self.wake.notify_one();
    }
}

/// A stable numeric id for templates the simulator does not hold itself.
fn synthetic_id(waba_id: &str, name: &str, language: &str) -> u64 {
    1_000_000_000_000_000 + stable_hash(&[waba_id, name, language]) % 1_000_000_000_000_000
}

fn delay(ms: u64) -> i64 {
    i64::try_from(ms).unwrap_or(i64::MAX / 4)
}

fn encode_cursor(i: usize) -> String {
    URL_SAFE_NO_PAD.encode(format!("idx:{i}"))
}

fn decode_cursor(c: &str) -> Option<usize> {
    let raw = URL_SAFE_NO_PAD.decode(c.trim_end_matches('=')).ok()?;
    String::from_utf8(raw)
        .ok()?
        .strip_prefix("idx:")?
        .parse()
        .ok()
}
