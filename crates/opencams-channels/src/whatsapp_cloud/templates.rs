//! Template submission to Meta: a new template goes to the WABA's template API
//! (`POST /{version}/{waba-id}/message_templates`), an edit to the template itself
//! (`POST /{version}/{template-id}`, which sends it back to review). Meta's answer is its
//! template id or an error classified like a send's; the outcome of the review arrives later by
//! the `message_template_status_update` webhook.

use std::time::Instant;

use opencams_domain::template::{self, TemplateDraft};
use serde_json::Value;

use super::{DEFAULT_API_BASE, DEFAULT_API_VERSION, WhatsAppCloud, classify};
use crate::channel::SendError;

/// Where a WhatsApp Business Account's templates are submitted, and with which token.
#[derive(Clone)]
pub struct WabaConfig {
    pub waba_id: String,
    pub access_token: String,
    pub api_base: String,
    pub api_version: String,
}

impl WabaConfig {
    /// A WABA reached at `api_base`/`api_version`, Meta's Graph API and
    /// [`DEFAULT_API_VERSION`] when not given.
    pub fn new(
        waba_id: &str,
        access_token: &str,
        api_base: Option<&str>,
        api_version: Option<&str>,
    ) -> Self {
        Self {
            waba_id: waba_id.to_string(),
            access_token: access_token.to_string(),
            api_base: api_base.unwrap_or(DEFAULT_API_BASE).to_string(),
            api_version: api_version.unwrap_or(DEFAULT_API_VERSION).to_string(),
        }
    }
}

impl std::fmt::Debug for WabaConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WabaConfig")
            .field("waba_id", &self.waba_id)
            .field("api_base", &self.api_base)
            .field("api_version", &self.api_version)
            .field("access_token", &"***")
            .finish()
    }
}

/// Meta did not take the template (or could not be reached).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Meta refused the template ({}): {}", .0.code, .0.description)]
pub struct TemplateRefused(pub SendError);

impl WhatsAppCloud {
    /// Submits a template for review: a new one (`existing` is `None`), or an edit of the
    /// template Meta knows by `existing`. Returns Meta's id of the template.
    pub async fn submit_template(
        &self,
        waba: &WabaConfig,
        draft: &TemplateDraft,
        existing: Option<&str>,
    ) -> Result<String, TemplateRefused> {
        let body = template::to_meta_create(draft);
        match existing {
            Some(id) => {
                self.edit_template(waba, id, &body).await?;
                Ok(id.to_string())
            }
            None => Ok(self.create_template(waba, &body).await?),
        }
    }

    /// Submits a template (Meta's create body) to the WABA's template API; returns Meta's
    /// template id.
    pub async fn create_template(
        &self,
        waba: &WabaConfig,
        body: &Value,
    ) -> Result<String, TemplateRefused> {
        let path = format!("{}/message_templates", waba.waba_id);
        let answer = self.graph_post(waba, &path, body).await?;
        Ok(created_id(&answer)?)
    }

    /// Edits a submitted template (it goes back to review): only its components change.
    pub async fn edit_template(
        &self,
        waba: &WabaConfig,
        template_id: &str,
        body: &Value,
    ) -> Result<(), TemplateRefused> {
        self.graph_post(waba, template_id, &edit_body(body))
            .await
            .map(|_| ())
            .map_err(TemplateRefused)
    }

    async fn graph_post(
        &self,
        waba: &WabaConfig,
        path: &str,
        body: &Value,
    ) -> Result<Value, SendError> {
        let url = format!(
            "{}/{}/{}",
            waba.api_base.trim_end_matches('/'),
            waba.api_version,
            path
        );
        let started = Instant::now();
        let resp = self
            .http
            .post(&url)
            .bearer_auth(&waba.access_token)
            .json(body)
            .send()
            .await
            .map_err(|e| {
                tracing::warn!(%url, elapsed_ms = started.elapsed().as_millis() as u64, error = %e, "Graph template request failed");
                SendError {
                    code: if e.is_timeout() {
                        "timeout".into()
                    } else {
                        "network".into()
                    },
                    description: e.to_string(),
                    retryable: true,
                    throttled: false,
                }
            })?;
        let status = resp.status().as_u16();
        let answer: Value = resp.json().await.unwrap_or(Value::Null);
        tracing::debug!(%url, status, elapsed_ms = started.elapsed().as_millis() as u64, response = %answer, "Graph template exchange");
        if (200..300).contains(&status) {
            Ok(answer)
        } else {
            Err(classify(status, &answer))
        }
    }
}

/// The template id in Meta's answer to a create (a string, or a number in older answers).
pub fn created_id(answer: &Value) -> Result<String, SendError> {
    let id = answer["id"]
        .as_str()
        .map(String::from)
        .or_else(|| answer["id"].as_i64().map(|n| n.to_string()));
    id.ok_or_else(|| SendError {
        code: "http_200".into(),
        description: "no template id in the answer".into(),
        retryable: false,
        throttled: false,
    })
}

/// The body of an edit: Meta takes only the components of a submitted template.
pub fn edit_body(create: &Value) -> Value {
    serde_json::json!({"components": create["components"]})
}

impl From<SendError> for TemplateRefused {
    fn from(e: SendError) -> Self {
        Self(e)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "test code: a panic is a failed test")]

    use std::sync::{Arc, Mutex};

    use opencams_domain::template::{Category, parse_components};
    use serde_json::json;

    use super::*;

    #[test]
    fn created_ids_are_strings_or_numbers() {
        let cases = [
            (
                json!({"id": "594425479261596", "status": "PENDING"}),
                Some("594425479261596"),
            ),
            (json!({"id": 594425479261596_i64}), Some("594425479261596")),
            (json!({"status": "PENDING"}), None),
            (Value::Null, None),
        ];
        for (answer, want) in cases {
            match (created_id(&answer), want) {
                (Ok(id), Some(want)) => assert_eq!(id, want),
                (Err(e), None) => assert_eq!((e.code.as_str(), e.retryable), ("http_200", false)),
                (got, want) => panic!("{answer}: {got:?}, want {want:?}"),
            }
        }
    }

    #[test]
    fn waba_defaults_to_metas_graph_api() {
        let w = WabaConfig::new("waba", "token", None, None);
        assert_eq!(
            (w.api_base.as_str(), w.api_version.as_str()),
            (DEFAULT_API_BASE, DEFAULT_API_VERSION)
        );
        let w = WabaConfig::new("waba", "EAAsecret", Some("http://x"), Some("v99.0"));
        assert_eq!(
            (w.api_base.as_str(), w.api_version.as_str()),
            ("http://x", "v99.0")
        );
        assert!(!format!("{w:?}").contains("EAAsecret"));
    }

    type Seen = Arc<Mutex<Vec<(String, Option<String>, Value)>>>;

    /// A fake Graph API that records each request and answers with `answer`.
    async fn graph(status: u16, answer: Value) -> (String, Seen) {
        use axum::http::{HeaderMap, StatusCode, Uri};
        let seen: Seen = Arc::default();
        let log = seen.clone();
        let app = axum::Router::new().fallback(
            move |uri: Uri, headers: HeaderMap, axum::Json(body): axum::Json<Value>| {
                let (log, answer) = (log.clone(), answer.clone());
                async move {
                    let auth = headers
                        .get("authorization")
                        .and_then(|v| v.to_str().ok())
                        .map(String::from);
                    log.lock()
                        .unwrap()
                        .push((uri.path().to_string(), auth, body));
                    (StatusCode::from_u16(status).unwrap(), axum::Json(answer))
                }
            },
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        (format!("http://{addr}"), seen)
    }

    fn draft() -> TemplateDraft {
        TemplateDraft {
            name: "order_shipped".into(),
            language: "en_US".into(),
            category: Category::Utility,
            components: parse_components(
                &json!([{"Type": "BODY", "Text": "Your order has shipped."}]).to_string(),
            )
            .unwrap(),
            example: Default::default(),
            message_send_ttl_seconds: None,
            category_change_paused: false,
            product_set_id: None,
        }
    }

    #[tokio::test]
    async fn submissions_create_then_edit_and_map_refusals() {
        let cloud = WhatsAppCloud::new(std::time::Duration::from_secs(5)).unwrap();
        let d = draft();
        let create = template::to_meta_create(&d);

        let (base, seen) = graph(200, json!({"id": "1234", "status": "PENDING"})).await;
        let waba = WabaConfig::new("5550001", "EAAtoken", Some(&base), None);
        assert_eq!(
            cloud.submit_template(&waba, &d, None).await.unwrap(),
            "1234"
        );
        assert_eq!(
            cloud
                .submit_template(&waba, &d, Some("1234"))
                .await
                .unwrap(),
            "1234"
        );
        let seen = seen.lock().unwrap().clone();
        let bearer = Some("Bearer EAAtoken".to_string());
        assert_eq!(
            seen,
            vec![
                (
                    format!("/{DEFAULT_API_VERSION}/5550001/message_templates"),
                    bearer.clone(),
                    create.clone()
                ),
                (
                    format!("/{DEFAULT_API_VERSION}/1234"),
                    bearer,
                    json!({"components": create["components"]})
                ),
            ]
        );

        let refusal = json!({"error": {"message": "(#100) Invalid parameter", "code": 100,
                                       "error_data": {"details": "name taken"}}});
        let (base, _) = graph(400, refusal).await;
        let waba = WabaConfig::new("5550001", "EAAtoken", Some(&base), None);
        let e = cloud.submit_template(&waba, &d, None).await.unwrap_err();
        assert_eq!(
            e.to_string(),
            "Meta refused the template (100): Invalid parameter(name taken)"
        );
        assert!(!e.0.retryable);
    }
}
