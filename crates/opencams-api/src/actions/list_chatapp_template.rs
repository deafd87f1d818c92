//! ListChatappTemplate (cams-api.md §3.7): filters and `Page` as the SDK sends them, newest first.

use opencams_domain::template::{self, AuditStatus, Category};
use opencams_protocol::{CamsError, Page};
use opencams_store::TemplateFilter;
use serde_json::{Map, Value};

use crate::context::{Ctx, internal};
use crate::templates::{check_template_type, list_json};

pub async fn run(ctx: &Ctx<'_>) -> Result<Map<String, Value>, CamsError> {
    let p = ctx.params;
    check_template_type(p, false)?;
    let page = Page::parse(p, 10, 100)?;
    let filter = TemplateFilter {
        space_id: ctx.space().await?.id,
        name: p.get("Name").map(String::from),
        code: p.get("Code").or(p.get("TemplateCode")).map(String::from),
        language: p
            .get("Language")
            .map(template::parse_language)
            .transpose()?,
        audit_status: p.get("AuditStatus").map(AuditStatus::parse).transpose()?,
        category: p
            .get("Category")
            .map(|c| Category::parse(c).map(|c| c.as_str().to_string()))
            .transpose()?,
        offset: page.offset(),
        limit: page.size,
    };
    let (total, rows) = ctx
        .state
        .store
        .list_templates(filter)
        .await
        .map_err(internal)?;
    let mut out = Map::new();
    out.insert("Success".into(), Value::Bool(true));
    out.insert("Total".into(), Value::from(total));
    out.insert(
        "ListTemplate".into(),
        Value::Array(rows.iter().map(list_json).collect()),
    );
    Ok(out)
}
