//! What the template actions share: finding a template by code or name, its CAMS JSON shapes,
//! the ChatAppAudit event of each status change, and the draft the linter checks.

use opencams_domain::template::{self, AuditStatus, Category, TemplateDraft};
use opencams_protocol::{CamsError, Code, Params};
use opencams_store::{NewEvent, Space, TemplateRow, TemplateWrite, events};
use serde_json::{Value, json};

use crate::context::{Ctx, internal};

/// The ChatAppAudit record (cams-api.md §4.4) of a template language version's status.
pub fn audit_event(w: &TemplateWrite, status: AuditStatus, reason: &str) -> NewEvent {
    events::audit_event(
        w.account_id,
        &w.space_id,
        &w.code,
        &w.name,
        &w.language,
        status,
        reason,
    )
}

/// The event for a status an existing row is about to get.
pub fn audit_event_for(row: &TemplateRow, status: AuditStatus, reason: &str) -> NewEvent {
    let w = TemplateWrite {
        account_id: row.account_id,
        space_id: row.space_id.clone(),
        code: row.code.clone(),
        name: row.name.clone(),
        language: row.language.clone(),
        ..Default::default()
    };
    audit_event(&w, status, reason)
}

/// `TemplateType`: only WHATSAPP templates exist here.
pub fn check_template_type(params: &Params, required: bool) -> Result<(), CamsError> {
    match params.get("TemplateType") {
        None if required => Err(CamsError::missing("TemplateType")),
        None => Ok(()),
        Some(t) if t.eq_ignore_ascii_case("WHATSAPP") => Ok(()),
        Some(t) => Err(CamsError::new(
            Code::TemplateTypeNotSupport,
            format!("TemplateType {t:?} is not supported; opencams serves WHATSAPP templates."),
        )),
    }
}

/// The live language versions selected by `TemplateCode` or `TemplateName` (one is required).
pub async fn select(
    ctx: &Ctx<'_>,
    space: &Space,
    not_found: Code,
) -> Result<Vec<TemplateRow>, CamsError> {
    let store = &ctx.state.store;
    let rows = if let Some(code) = ctx.params.get("TemplateCode") {
        store
            .templates_by_code(&space.id, code)
            .await
            .map_err(internal)?
    } else if let Some(name) = ctx.params.get("TemplateName") {
        store
            .templates_by_name(&space.id, name)
            .await
            .map_err(internal)?
    } else {
        return Err(CamsError::new(
            Code::TemplateCodeNotEmpty,
            "TemplateCode (or TemplateName) is mandatory for this action: name the template.",
        ));
    };
    if rows.is_empty() {
        let which = ctx
            .params
            .get("TemplateCode")
            .or(ctx.params.get("TemplateName"))
            .unwrap_or_default();
        return Err(CamsError::new(
            not_found,
            format!(
                "The template {which:?} does not exist in space {}.",
                space.id
            ),
        ));
    }
    Ok(rows)
}

/// The one language version asked for.
pub fn pick_language(
    rows: Vec<TemplateRow>,
    language: &str,
    not_found: Code,
) -> Result<TemplateRow, CamsError> {
    let available: Vec<String> = rows.iter().map(|r| r.language.clone()).collect();
    rows.into_iter()
        .find(|r| r.language == language)
        .ok_or_else(|| {
            CamsError::new(
                not_found,
                format!(
                    "The template has no {language:?} version; it exists in: {}.",
                    available.join(", ")
                ),
            )
        })
}

/// Parses Components/Example/TTL/flags of a create or modify into a linted draft.
pub fn draft(
    params: &Params,
    name: &str,
    language: &str,
    category: Category,
) -> Result<TemplateDraft, CamsError> {
    let raw = params
        .get_json_text("Components")
        .ok_or_else(|| CamsError::missing("Components"))?;
    let components = template::parse_components(raw)?;
    let example = match params.get_json_text("Example") {
        Some(raw) => template::parse_example(raw)?,
        None => Default::default(),
    };
    let draft = TemplateDraft {
        name: name.to_string(),
        language: language.to_string(),
        category,
        components,
        example,
        message_send_ttl_seconds: params.get_int("MessageSendTtlSeconds", i64::MIN, i64::MAX)?,
        category_change_paused: params.get_bool("CategoryChangePaused")?.unwrap_or(false),
        product_set_id: params.get("ProductSetId").map(String::from),
    };
    template::lint(&draft)?;
    Ok(draft)
}

/// What the store keeps of a draft.
pub fn write_of(
    draft: &TemplateDraft,
    ctx: &Ctx<'_>,
    space: &Space,
    code: &str,
    review_due_at: Option<i64>,
) -> Result<TemplateWrite, CamsError> {
    Ok(TemplateWrite {
        account_id: ctx.account_id(),
        space_id: space.id.clone(),
        code: code.to_string(),
        name: draft.name.clone(),
        language: draft.language.clone(),
        category: draft.category.as_str().into(),
        components: serde_json::to_string(&draft.components).map_err(internal)?,
        example: serde_json::to_string(&draft.example).map_err(internal)?,
        message_send_ttl: draft.message_send_ttl_seconds,
        category_change_paused: draft.category_change_paused,
        product_set_id: draft.product_set_id.clone(),
        review_due_at,
        provider_id: None,
    })
}

/// `Data` of GetChatappTemplateDetail.
pub fn detail_json(row: &TemplateRow) -> Value {
    let components: Value = serde_json::from_str(&row.components).unwrap_or(Value::Array(vec![]));
    let example: Value = serde_json::from_str(&row.example).unwrap_or_else(|_| json!({}));
    let sendable = row.audit_status == AuditStatus::Pass;
    json!({
        "TemplateCode": row.code,
        "Name": row.name,
        "Language": row.language,
        "Category": row.category,
        "TemplateType": row.template_type,
        "AuditStatus": row.audit_status,
        "Reason": row.reason,
        "QualityScore": row.quality_score,
        "AllowSend": sendable,
        "CategoryChangePaused": row.category_change_paused,
        "MessageSendTtlSeconds": row.message_send_ttl,
        "Example": example,
        "ProductSetId": row.product_set_id,
        "Components": components,
    })
}

/// A row of ListChatappTemplate.
pub fn list_json(row: &TemplateRow) -> Value {
    json!({
        "TemplateCode": row.code,
        "TemplateName": row.name,
        "Language": row.language,
        "Category": row.category,
        "TemplateType": row.template_type,
        "AuditStatus": row.audit_status,
        "Reason": row.reason,
        "LastUpdateTime": row.updated_at,
    })
}

/// A fresh template code: 32 lower-case hex characters, never reused (deleted rows keep theirs).
pub fn new_code() -> String {
    opencams_protocol::envelope::nonce()
}

/// Submits the draft to its reviewer and sets who decides: the provider (its id) or the built-in
/// simulator (a review time).
pub async fn submit(
    ctx: &Ctx<'_>,
    draft: &TemplateDraft,
    write: &mut TemplateWrite,
    existing: Option<&str>,
) -> Result<(), CamsError> {
    match ctx
        .state
        .submitter
        .submit(&write.space_id, draft, existing)
        .await?
    {
        crate::review::Submitted::BySimulator => {
            write.review_due_at = Some(ctx.now_ms() + ctx.state.config.template_review_delay_ms);
        }
        crate::review::Submitted::ToProvider(id) => {
            write.review_due_at = None;
            write.provider_id = Some(id);
        }
    }
    Ok(())
}
