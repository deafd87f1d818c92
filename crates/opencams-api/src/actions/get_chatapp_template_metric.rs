//! GetChatappTemplateMetric: how many messages of one template a space sent, had delivered and
//! had read, and which of its quick-reply buttons were tapped, per bucket of a period (`Start`,
//! `End`, `Granularity`: see [`super::metric_period`]), counted from opencams' own records.
//! `TemplateCode` is required and must name a template of the space; `Language` (optional)
//! narrows the answer to one of its language versions, else every version is answered.
//!
//! Each `Data` entry follows the SDK's `GetChatappTemplateMetricResponseBodyData`:
//! `TemplateCode`, `Language` (strings), `Start`, `End` (epoch ms of the bucket, `End`
//! excluded), `SentCount`, `DeliveredCount`, `ReadCount` (integers) and `Cliented`, a list of
//! `{Type, ButtonContent, Count}`; the body has no `Success`. Counts are as in
//! GetChatappPhoneNumberMetric, and a message counts in the bucket it was sent in.
//!
//! `Cliented` holds what opencams can see: a tap on a quick-reply button comes back as the user's
//! reply (a `button` message whose context is the template message), counted per button text in
//! the bucket of the tap, with `Type` `quick_reply_button` (Meta's name, and the example value of
//! CAMS's page; its list of values spells it `quick_relpy_button`). Taps on URL and phone-number
//! buttons never reach the business, so `url_button` and `phone_number_button` are never
//! reported. CAMS documents the metric for MARKETING templates; opencams counts every category.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use opencams_domain::template;
use opencams_protocol::{CamsError, Code};
use serde_json::{Map, Value, json};

use super::metric_period::Period;
use crate::context::{Ctx, internal};
use crate::templates::{check_template_type, pick_language};

pub async fn run(ctx: &Ctx<'_>) -> Result<Map<String, Value>, CamsError> {
    let p = ctx.params;
    check_template_type(p, false)?;
    let code = p.require("TemplateCode")?.trim();
    let language = p
        .get("Language")
        .map(template::parse_language)
        .transpose()?;
    let period = Period::parse(p)?;
    let space = ctx.space().await?;
    let store = &ctx.state.store;
    let rows = store
        .templates_by_code(&space.id, code)
        .await
        .map_err(internal)?;
    if rows.is_empty() {
        return Err(CamsError::new(
            Code::DetailTemplateNotExist,
            format!(
                "The template {code:?} does not exist in space {}; see ListChatappTemplate.",
                space.id
            ),
        ));
    }
    let mut languages: BTreeSet<String> = match &language {
        Some(l) => BTreeSet::from([pick_language(rows, l, Code::DetailTemplateNotExist)?.language]),
        None => rows.into_iter().map(|r| r.language).collect(),
    };
    let metrics = store
        .template_metrics(period.query(&space.id), code.to_string(), language)
        .await
        .map_err(internal)?;
    // a language version deleted since still has its messages
    languages.extend(metrics.counts.iter().map(|c| c.key.clone()));
    languages.extend(metrics.clicks.iter().map(|c| c.language.clone()));
    let counts: HashMap<(&str, i64), _> = metrics
        .counts
        .iter()
        .map(|c| ((c.key.as_str(), c.bucket_ms), c))
        .collect();
    let mut clicks: BTreeMap<(&str, i64), Vec<Value>> = BTreeMap::new();
    for c in &metrics.clicks {
        clicks
            .entry((c.language.as_str(), c.bucket_ms))
            .or_default()
            .push(json!({"Type": "quick_reply_button", "ButtonContent": c.text, "Count": c.count}));
    }
    let mut data = Vec::new();
    for start in period.buckets() {
        for language in &languages {
            let key = (language.as_str(), start);
            let c = counts.get(&key);
            data.push(json!({
                "TemplateCode": code,
                "Language": language,
                "Start": start,
                "End": start + period.bucket_ms(),
                "SentCount": c.map_or(0, |c| c.sent),
                "DeliveredCount": c.map_or(0, |c| c.delivered),
                "ReadCount": c.map_or(0, |c| c.read),
                "Cliented": clicks.remove(&key).unwrap_or_default(),
            }));
        }
    }
    let mut out = Map::new();
    out.insert("Data".into(), Value::Array(data));
    Ok(out)
}
