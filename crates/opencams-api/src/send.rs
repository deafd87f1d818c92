//! What SendChatappMessage and SendChatappMassMessage share (cams-api.md §3.1.1 validation
//! order): the envelope checks, the sender number, resolving an approved template, and the
//! `FallBackRule=sentFailed` rule that turns a type-specific failure into a failed message that
//! falls back instead of a rejected call.

use std::collections::BTreeMap;
use std::sync::Arc;

use opencams_domain::PhoneNumber;
use opencams_domain::message::{
    FallBackRule, FlowAction, ProductAction, parse_fallback_duration, parse_fallback_rule,
};
use opencams_domain::template::{self, Category, Component};
use opencams_protocol::{CamsError, Code};
use opencams_store::{MessageRow, Number, Space, TemplateRow};
use serde_json::json;

use crate::context::{Ctx, internal};

/// The customer-service window.
pub const WINDOW_MS: i64 = 24 * 3600 * 1000;

#[derive(Debug, Clone)]
pub struct Fallback {
    pub id: String,
    pub content: Option<String>,
    pub duration: Option<u32>,
    pub rule: FallBackRule,
}

/// The checked parameters every recipient of a send shares.
#[derive(Debug, Clone)]
pub struct Envelope {
    pub space: Space,
    pub from: Number,
    pub fallback: Option<Fallback>,
    pub task_id: Option<String>,
    pub tag: Option<String>,
    pub tracking_data: Option<String>,
    pub label: Option<String>,
    pub ttl: Option<i64>,
}

impl Envelope {
    /// With `FallBackRule=sentFailed` and a policy, a type-specific failure does not reject the
    /// call: the message is recorded as failed and falls back (`Ok(err)`); otherwise `Err(err)`.
    pub fn keep_as_failed(&self, err: CamsError) -> Result<CamsError, CamsError> {
        match &self.fallback {
            Some(f) if f.rule == FallBackRule::SentFailed => Ok(err),
            _ => Err(err),
        }
    }
}

fn bounded(ctx: &Ctx<'_>, name: &str, max: usize) -> Result<Option<String>, CamsError> {
    match ctx.params.get(name) {
        Some(v) if v.chars().count() > max => Err(CamsError::invalid(
            name,
            format_args!("it is longer than {max} characters"),
        )),
        v => Ok(v.map(String::from)),
    }
}

/// Step 1 (the shared part: fallback, tracking fields, TTL) and step 2 (the sender) of §3.1.1.
pub async fn envelope(ctx: &Ctx<'_>, from_raw: &str) -> Result<Envelope, CamsError> {
    let p = ctx.params;
    let from = PhoneNumber::parse_sender("From", from_raw)?;
    let rule = parse_fallback_rule(p.get("FallBackRule"))?;
    let duration = p
        .get("FallBackDuration")
        .map(parse_fallback_duration)
        .transpose()?;
    let content = bounded(ctx, "FallBackContent", 2000)?;
    let label = match p.get("Label") {
        None => None,
        Some(l) if ["promotion", "transaction", "pormotion"].contains(&l) => Some(l.to_string()),
        Some(l) => {
            return Err(CamsError::invalid(
                "Label",
                format_args!("{l:?} is not a label; use promotion or transaction"),
            ));
        }
    };
    let ttl = p
        .get("Ttl")
        .map(opencams_domain::message::parse_ttl)
        .transpose()?
        .map(i64::from);
    let task_id = bounded(ctx, "TaskId", 256)?;
    let tag = bounded(ctx, "Tag", 256)?;
    let tracking_data = bounded(ctx, "TrackingData", 2048)?;
    let space = ctx.space().await?;

    // the policy named by FallBackId must exist
    let fallback = match p.get("FallBackId") {
        None => {
            if duration.is_some() || content.is_some() || p.get("FallBackRule").is_some() {
                return Err(CamsError::missing("FallBackId"));
            }
            None
        }
        Some(id) => {
            let policy = ctx
                .state
                .store
                .policy(ctx.account_id(), id)
                .await
                .map_err(internal)?;
            if policy.is_none() {
                return Err(CamsError::invalid(
                    "FallBackId",
                    format_args!(
                        "{id:?} is not a fallback policy of this account (see `opencams policy list`)"
                    ),
                ));
            }
            Some(Fallback {
                id: id.to_string(),
                content,
                duration,
                rule,
            })
        }
    };

    let number = sender(ctx, &space, from.as_str()).await?;
    Ok(Envelope {
        space,
        from: number,
        fallback,
        task_id,
        tag,
        tracking_data,
        label,
        ttl,
    })
}

/// The sender number: registered in the space, connected.
async fn sender(ctx: &Ctx<'_>, space: &Space, phone: &str) -> Result<Number, CamsError> {
    let key = phone.to_string();
    let number = match ctx.state.numbers.get(&key) {
        Some(n) => n,
        None => {
            let n = ctx.state.store.number(phone).await.map_err(internal)?;
            ctx.state.numbers.put(key, n.clone());
            n
        }
    };
    match number {
        Some(n) if n.account_id == ctx.account_id() && n.space_id == space.id => {
            if n.status != "CONNECTED" {
                return Err(CamsError::new(
                    Code::PhoneNumberError,
                    format!("From {phone} cannot send: its status is {}.", n.status),
                ));
            }
            Ok(n)
        }
        _ => Err(CamsError::new(
            Code::PhoneNumberError,
            format!(
                "From {phone} is not a sender number of space {}; see QueryChatappPhoneNumbers.",
                space.id
            ),
        )),
    }
}

/// An approved template with its parsed components.
#[derive(Debug, Clone)]
pub struct Resolved {
    pub row: TemplateRow,
    pub components: Vec<Component>,
    pub category: Category,
}

/// One stored version of a template as the template cache keeps it: parsed once when the cache
/// is filled, not on every send (parsing the components was about a tenth of a template send's
/// own work).
#[derive(Debug)]
pub struct TemplateVersion {
    row: TemplateRow,
    /// The parsed template, or why the stored components do not parse.
    parsed: Result<Arc<Resolved>, String>,
}

impl TemplateVersion {
    fn new(row: TemplateRow) -> Self {
        let parsed = template::parse_components(&row.components)
            .map_err(|e| e.to_string())
            .and_then(|components| {
                let category = Category::parse(&row.category).map_err(|e| e.to_string())?;
                Ok(Arc::new(Resolved {
                    row: row.clone(),
                    components,
                    category,
                }))
            });
        Self { row, parsed }
    }
}

/// Finds the template by code (or name) and language; it must be approved.
pub async fn resolve_template(
    ctx: &Ctx<'_>,
    space: &Space,
    language: &str,
) -> Result<Arc<Resolved>, CamsError> {
    let p = ctx.params;
    let (by_code, key) = match (p.get("TemplateCode"), p.get("TemplateName")) {
        (Some(c), _) => (true, c),
        (None, Some(n)) => (false, n),
        (None, None) => {
            return Err(CamsError::new(
                Code::TemplateCodeNotEmpty,
                "TemplateCode (or TemplateName) is mandatory when Type is template.",
            ));
        }
    };
    let cache_key = (
        space.id.clone(),
        format!("{}:{key}", if by_code { "c" } else { "n" }),
    );
    let versions = match ctx.state.templates.get(&cache_key) {
        Some(v) => v,
        None => {
            let store = &ctx.state.store;
            let rows = if by_code {
                store.templates_by_code(&space.id, key).await
            } else {
                store.templates_by_name(&space.id, key).await
            }
            .map_err(internal)?;
            let versions: Arc<[TemplateVersion]> =
                rows.into_iter().map(TemplateVersion::new).collect();
            ctx.state.templates.put(cache_key, versions.clone());
            versions
        }
    };
    let Some(version) = versions.iter().find(|v| v.row.language == language) else {
        let langs: Vec<&str> = versions.iter().map(|v| v.row.language.as_str()).collect();
        let why = if langs.is_empty() {
            format!("The template {key:?} does not exist in space {}.", space.id)
        } else {
            format!(
                "The template {key:?} has no {language:?} version; it exists in: {}.",
                langs.join(", ")
            )
        };
        return Err(CamsError::new(Code::DetailTemplateNotExist, why));
    };
    let row = &version.row;
    if row.audit_status != "pass" {
        return Err(CamsError::invalid(
            "TemplateCode",
            format_args!(
                "the template {} ({}) cannot be sent: its status is {}, only approved (pass) templates can",
                row.code, row.language, row.audit_status
            ),
        ));
    }
    version.parsed.clone().map_err(internal)
}

/// The stored body of a template send:
/// `{"templateParams":…,"payload":…,"productAction":…,"flowAction":…}`, written straight from
/// the parts rather than through a `serde_json::Value` tree.
pub fn template_body(
    params: &BTreeMap<String, String>,
    payload: &[String],
    product: Option<&ProductAction>,
    flow: Option<&FlowAction>,
) -> String {
    #[derive(serde::Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Body<'a> {
        template_params: &'a BTreeMap<String, String>,
        payload: &'a [String],
        product_action: Option<serde_json::Value>,
        flow_action: Option<serde_json::Value>,
    }
    let body = Body {
        template_params: params,
        payload,
        product_action: product.map(ProductAction::to_cloud_action),
        flow_action: flow.map(FlowAction::to_cloud_action),
    };
    // a map of strings and a list of strings always serialize
    serde_json::to_string(&body).unwrap_or_default()
}

/// A new outbound row; `failed` carries the verification error under `sentFailed`.
#[allow(clippy::too_many_arguments)]
pub fn outbound_row(
    id: String,
    ctx: &Ctx<'_>,
    env: &Envelope,
    to: &str,
    send_type: &str,
    message_type: &str,
    template: Option<&TemplateRow>,
    language: Option<&str>,
    body: String,
    group_id: Option<&str>,
    context_id: Option<&str>,
    failed: Option<&CamsError>,
    now: i64,
) -> MessageRow {
    MessageRow {
        id,
        account_id: ctx.account_id(),
        space_id: env.space.id.clone(),
        direction: "out".into(),
        sender: env.from.phone.clone(),
        recipient: to.to_string(),
        send_type: send_type.into(),
        message_type: message_type.into(),
        template_code: template
            .map(|t| t.code.clone())
            .or_else(|| ctx.params.get("TemplateCode").map(String::from)),
        template_name: template
            .map(|t| t.name.clone())
            .or_else(|| ctx.params.get("TemplateName").map(String::from)),
        language: language.map(String::from),
        body,
        task_id: env.task_id.clone(),
        tag: env.tag.clone(),
        tracking_data: env.tracking_data.clone(),
        label: env.label.clone(),
        ttl_secs: env.ttl,
        fallback_id: env.fallback.as_ref().map(|f| f.id.clone()),
        fallback_content: env.fallback.as_ref().and_then(|f| f.content.clone()),
        fallback_duration: env
            .fallback
            .as_ref()
            .and_then(|f| f.duration.map(i64::from)),
        fallback_rule: env.fallback.as_ref().map(|f| f.rule.as_str().to_string()),
        group_id: group_id.map(String::from),
        context_id: context_id.map(String::from),
        status: if failed.is_some() {
            "failed".into()
        } else {
            "accepted".into()
        },
        error_code: failed.map(|e| e.code.as_str().to_string()),
        error_description: failed.map(|e| e.message.clone()),
        provider_id: None,
        created_at: now,
        updated_at: now,
    }
}

/// The events a freshly accepted row starts with: Failed (refused at verification under
/// `sentFailed`), and FallbackScheduled when a FallBackDuration timer runs.
pub fn accepted_events(row: &MessageRow) -> Vec<opencams_store::NewEvent> {
    let mut out = Vec::new();
    if row.status == "failed" {
        out.push(failed_event(row));
    }
    if let (Some(policy), Some(secs)) = (&row.fallback_id, row.fallback_duration) {
        let desc = format!("SMS fallback by policy {policy} in {secs} s unless delivered");
        out.push(opencams_store::events::fallback_event(
            row,
            "FallbackScheduled",
            desc,
            None,
            row.created_at,
        ));
    }
    out
}

/// The Failed status event of a message refused at verification under `sentFailed`.
pub fn failed_event(row: &MessageRow) -> opencams_store::NewEvent {
    let err = (
        row.error_code.as_deref().unwrap_or(""),
        row.error_description.as_deref().unwrap_or(""),
    );
    let facts = opencams_store::events::StatusFacts::new("Failed", Some(err), row.created_at);
    opencams_store::events::status_event(row, &facts)
}

/// The 24-hour window of (sender, user): open, or the account accepts and lets delivery fail.
pub async fn check_window(ctx: &Ctx<'_>, from: &str, to: &str) -> Result<(), CamsError> {
    let last = ctx
        .state
        .store
        .last_inbound(from, to)
        .await
        .map_err(internal)?;
    if last.is_some_and(|t| ctx.now_ms() - t < WINDOW_MS) {
        return Ok(());
    }
    if ctx
        .principal
        .settings
        .get("session.window")
        .map(String::as_str)
        == Some("cams")
    {
        return Ok(()); // CAMS behaviour: accept; WhatsApp fails it later with 131047
    }
    let since = match last {
        Some(t) => format!(
            "the user last wrote {} minutes ago",
            (ctx.now_ms() - t) / 60_000
        ),
        None => "the user has never written to this number".to_string(),
    };
    Err(CamsError::new(
        Code::SessionExpired,
        format!(
            "Type=message can only be sent within 24 hours of the user's last message to {from}, and {since}; send an approved template instead."
        ),
    ))
}

/// The JSON body of a free-form message.
pub fn message_body(content: &opencams_domain::message::Content) -> String {
    json!({"content": content}).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use opencams_domain::message::{parse_flow_action, parse_product_action};

    /// The stored body is byte for byte what the `json!` form it replaced wrote.
    #[test]
    fn template_body_keeps_its_shape() {
        let params = BTreeMap::from([("a".to_string(), "1\"é".to_string())]);
        let payload = vec!["x".to_string()];
        assert_eq!(
            template_body(&params, &payload, None, None),
            r#"{"templateParams":{"a":"1\"é"},"payload":["x"],"productAction":null,"flowAction":null}"#
        );
        let product = parse_product_action(Some(
            r#"{"ThumbnailProductRetailerId":"t","Sections":[{"Title":"s","ProductItems":[{"ProductRetailerId":"p"}]}]}"#,
        ))
        .unwrap();
        let flow =
            parse_flow_action(Some(r#"{"FlowActionData":{"a":1},"FlowToken":"tok"}"#)).unwrap();
        let expected = json!({
            "templateParams": params,
            "payload": payload,
            "productAction": product.as_ref().map(ProductAction::to_cloud_action),
            "flowAction": flow.as_ref().map(FlowAction::to_cloud_action),
        })
        .to_string();
        assert_eq!(
            template_body(&params, &payload, product.as_ref(), flow.as_ref()),
            expected
        );
        assert!(expected.contains(r#""productAction":{"#) && expected.contains("tok"));
    }
}
