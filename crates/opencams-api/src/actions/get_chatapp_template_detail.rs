//! GetChatappTemplateDetail (cams-api.md §3.6).

use opencams_domain::template;
use opencams_protocol::{CamsError, Code};
use serde_json::{Map, Value};

use crate::context::Ctx;
use crate::templates::{check_template_type, detail_json, pick_language, select};

pub async fn run(ctx: &Ctx<'_>) -> Result<Map<String, Value>, CamsError> {
    let p = ctx.params;
    check_template_type(p, false)?;
    let language = template::parse_language(p.require("Language")?)?;
    let space = ctx.space().await?;
    let rows = select(ctx, &space, Code::DetailTemplateNotExist).await?;
    let row = pick_language(rows, &language, Code::DetailTemplateNotExist)?;
    let mut out = Map::new();
    out.insert("Success".into(), Value::Bool(true));
    out.insert("Data".into(), detail_json(&row));
    Ok(out)
}
