//! ModifyChatappTemplate (cams-api.md §3.4): replace the components of one language version and
//! send it back to review (also when it was approved). The category cannot change.

use opencams_domain::template::{self, AuditStatus, Category};
use opencams_protocol::{CamsError, Code};
use serde_json::{Map, Value, json};

use crate::context::{Ctx, internal};
use crate::templates::{
    audit_event_for, check_template_type, draft, pick_language, select, write_of,
};

pub async fn run(ctx: &Ctx<'_>) -> Result<Map<String, Value>, CamsError> {
    let p = ctx.params;
    check_template_type(p, false)?;
    let language = template::parse_language(p.require("Language")?)?;
    let space = ctx.space().await?;
    let rows = select(ctx, &space, Code::DetailTemplateNotExist).await?;
    let row = pick_language(rows, &language, Code::DetailTemplateNotExist)?;
    let category = Category::parse(&row.category)?;
    if let Some(c) = p.get("Category")
        && Category::parse(c)? != category
    {
        return Err(CamsError::invalid(
            "Category",
            format_args!(
                "the category cannot be modified (the template is {}); create a new template instead",
                row.category
            ),
        ));
    }
    let draft = draft(p, &row.name, &language, category)?;
    let now = ctx.now_ms();
    let mut write = write_of(&draft, ctx, &space, &row.code, None)?;
    crate::templates::submit(ctx, &draft, &mut write, row.provider_id.as_deref()).await?;
    let event = audit_event_for(&row, AuditStatus::Auditing, "");
    let row = ctx
        .state
        .store
        .modify_template(row.id, write, Some(event), now)
        .await
        .map_err(internal)?;
    let mut out = Map::new();
    out.insert("Success".into(), Value::Bool(true));
    out.insert(
        "Data".into(),
        json!({"TemplateCode": row.code, "TemplateName": row.name}),
    );
    Ok(out)
}
