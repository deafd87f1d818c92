//! What SendChatappMessage and SendChatappMassMessage share (cams-api.md §3.1.1 validation
//! order), as the HTTP edge of the domain's send rules (`opencams_domain::send`): it parses the
//! envelope's parameters, reads what the rules need (the space, the policy, the sender number,
//! the template versions, the user's last message) and hands them to the rules.

use std::collections::BTreeMap;
use std::sync::Arc;

use opencams_domain::PhoneNumber;
use opencams_domain::message::{
    FlowAction, ProductAction, parse_fallback_duration, parse_fallback_rule,
};
use opencams_domain::send::{self, SendEnvelope, SenderFacts, TemplateKey, WindowPolicy};
use opencams_protocol::CamsError;
use opencams_store::cache::ParsedTemplate;
use opencams_store::{Number, Space, TemplateRow};
use serde_json::json;

use crate::context::{Ctx, internal};

/// The checked parameters every recipient of a send shares: the domain's envelope, with the
/// sender number as the store has it (its channel settings are read by the dispatcher, not here).
#[derive(Debug, Clone)]
pub struct Envelope {
    pub space: Space,
    pub from: Number,
    pub send: SendEnvelope,
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
    let label = send::parse_label(p.get("Label"))?;
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
    let fallback_id = p.get("FallBackId");
    let policy_exists = match fallback_id {
        Some(id) => ctx
            .state
            .store
            .policy(ctx.account_id(), id)
            .await
            .map_err(internal)?
            .is_some(),
        None => false,
    };
    let fallback = send::fallback(
        fallback_id,
        policy_exists,
        content,
        duration,
        rule,
        p.get("FallBackRule").is_some(),
    )?;

    let number = ctx
        .state
        .cache
        .number(from.as_str())
        .await
        .map_err(internal)?;
    send::check_sender(
        from.as_str(),
        ctx.account_id(),
        &space.id,
        number.as_ref().map(|n| SenderFacts {
            account_id: n.account_id,
            space_id: &n.space_id,
            status: &n.status,
        }),
    )?;
    let Some(number) = number else {
        return Err(internal("a checked sender number is missing"));
    };
    Ok(Envelope {
        send: SendEnvelope {
            account_id: ctx.account_id(),
            space_id: space.id.clone(),
            sender: number.phone.clone(),
            fallback,
            task_id,
            tag,
            tracking_data,
            label,
            ttl,
        },
        space,
        from: number,
    })
}

/// Finds the template by code (or name) and language; it must be approved.
pub async fn resolve_template(
    ctx: &Ctx<'_>,
    space: &Space,
    language: &str,
) -> Result<Arc<ParsedTemplate>, CamsError> {
    let p = ctx.params;
    let key = TemplateKey::from_params(p.get("TemplateCode"), p.get("TemplateName"))?;
    let cache = &ctx.state.cache;
    let versions = match key {
        TemplateKey::Code(c) => cache.templates_by_code(&space.id, c).await,
        TemplateKey::Name(n) => cache.templates_by_name(&space.id, n).await,
    }
    .map_err(internal)?;
    let languages: Vec<&str> = versions.iter().map(|v| v.row.language.as_str()).collect();
    let version = &versions[send::select_language(key, &space.id, &languages, language)?];
    send::check_sendable(&version.row.code, language, version.row.audit_status)?;
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

/// The 24-hour window of (sender, user): open, or the account accepts and lets delivery fail.
pub async fn check_window(ctx: &Ctx<'_>, from: &str, to: &str) -> Result<(), CamsError> {
    let last = ctx
        .state
        .store
        .last_inbound(from, to)
        .await
        .map_err(internal)?;
    let policy = WindowPolicy::from_setting(
        ctx.principal
            .settings
            .get("session.window")
            .map(String::as_str),
    );
    send::check_window(from, last, ctx.now_ms(), policy)
}

/// The template's code and name for the stored message: the template's when it was found,
/// else what the call named.
pub fn template_names<'a>(
    ctx: &'a Ctx<'_>,
    template: Option<&'a TemplateRow>,
) -> (Option<&'a str>, Option<&'a str>) {
    (
        template
            .map(|t| t.code.as_str())
            .or(ctx.params.get("TemplateCode")),
        template
            .map(|t| t.name.as_str())
            .or(ctx.params.get("TemplateName")),
    )
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
