//! DeleteChatappTemplate (cams-api.md §3.5): one language version (Language with TemplateType)
//! or every language of the template. Deleted templates can no longer be sent and their code is
//! never handed out again.

use opencams_domain::template;
use opencams_protocol::{CamsError, Code};
use serde_json::{Map, Value};

use crate::context::{Ctx, internal};
use crate::templates::{check_template_type, pick_language, select};

pub async fn run(ctx: &Ctx<'_>) -> Result<Map<String, Value>, CamsError> {
    let p = ctx.params;
    check_template_type(p, false)?;
    let space = ctx.space().await?;
    let rows = select(ctx, &space, Code::DelTemplateNotExist).await?;
    let ids: Vec<i64> = match p.get("Language") {
        Some(lang) => {
            let lang = template::parse_language(lang)?;
            vec![pick_language(rows, &lang, Code::DelTemplateNotExist)?.id]
        }
        None => rows.iter().map(|r| r.id).collect(),
    };
    ctx.state
        .store
        .delete_templates(ids, ctx.now_ms())
        .await
        .map_err(internal)?;
    let mut out = Map::new();
    out.insert("Success".into(), Value::Bool(true));
    Ok(out)
}
