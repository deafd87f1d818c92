//! CreateChatappTemplate (cams-api.md §3.3): lint the draft as Meta would review it, store it
//! `auditing`, and schedule its review. A name that exists in another language joins that code.

use opencams_domain::template::{self, AuditStatus, Category};
use opencams_protocol::{CamsError, Code};
use opencams_store::StoreError;
use serde_json::{Map, Value, json};

use crate::context::{Ctx, internal};
use crate::templates::{audit_event, check_template_type, draft, new_code, write_of};

pub async fn run(ctx: &Ctx<'_>) -> Result<Map<String, Value>, CamsError> {
    let p = ctx.params;
    check_template_type(p, true)?;
    let name = p.require("Name")?;
    let language = template::parse_language(p.require("Language")?)?;
    let category = Category::parse(p.require("Category")?)?;
    let space = ctx.space().await?;
    let draft = draft(p, name, &language, category)?;

    let siblings = ctx
        .state
        .store
        .templates_by_name(&space.id, name)
        .await
        .map_err(internal)?;
    if siblings.iter().any(|t| t.language == language) {
        return Err(CamsError::new(
            Code::TemplateNameExist,
            format!(
                "A template named {name:?} already exists in language {language}; modify it or choose another name."
            ),
        ));
    }
    let code = siblings
        .first()
        .map(|t| t.code.clone())
        .unwrap_or_else(new_code);
    let now = ctx.now_ms();
    let mut write = write_of(&draft, ctx, &space, &code, None)?;
    crate::templates::submit(ctx, &draft, &mut write, None).await?;
    // the ChatAppAudit event of the new `auditing` version, written in the same transaction
    let event = audit_event(&write, AuditStatus::Auditing, "");
    let row = match ctx
        .state
        .store
        .insert_template(write, Some(event), now)
        .await
    {
        Ok(r) => r,
        Err(StoreError::Conflict(_)) => {
            return Err(CamsError::new(
                Code::TemplateNameExist,
                format!("A template named {name:?} already exists in language {language}."),
            ));
        }
        Err(e) => return Err(internal(e)),
    };
    let mut out = Map::new();
    out.insert("Success".into(), Value::Bool(true));
    out.insert(
        "Data".into(),
        json!({"TemplateCode": row.code, "TemplateName": row.name}),
    );
    Ok(out)
}
