//! GetChatappPhoneNumberMetric: how many messages a space's business numbers sent and had
//! delivered, per bucket of a period (`Start`, `End`, `Granularity`: see [`super::metric_period`]),
//! counted from opencams' own records. `PhoneNumber` is optional in CAMS's metadata: without it
//! every number of the space is answered (those registered now and any that sent in the period).
//!
//! Each `Data` entry follows the SDK's `GetChatappPhoneNumberMetricResponseBodyData`:
//! `PhoneNumber` and `Granularity` (strings), `Start`, `End` (epoch ms of the bucket, `End`
//! excluded), `SentCount`, `DeliveredCount` (integers); the body has no `Success` and no read
//! count. Sent counts the messages the Cloud API took (they reached `sent`, or failed after it
//! gave them a wamid); delivered counts those delivered or read; a message counts in the bucket
//! it was sent in, whenever its receipts arrived.

use std::collections::{BTreeSet, HashMap};

use opencams_protocol::CamsError;
use opencams_store::NumberFilter;
use serde_json::{Map, Value, json};

use super::metric_period::Period;
use crate::context::{Ctx, internal};
use crate::receipts::business_number;

pub async fn run(ctx: &Ctx<'_>) -> Result<Map<String, Value>, CamsError> {
    let p = ctx.params;
    let period = Period::parse(p)?;
    let space = ctx.space().await?;
    let store = &ctx.state.store;
    let (sender, mut numbers) = if p.get("PhoneNumber").is_some() {
        let n = business_number(ctx, &space, "PhoneNumber").await?;
        (Some(n.phone.clone()), BTreeSet::from([n.phone]))
    } else {
        let filter = NumberFilter {
            account_id: Some(ctx.account_id()),
            space_id: Some(space.id.clone()),
            status: None,
        };
        let listed = store.list_numbers(filter).await.map_err(internal)?;
        (None, listed.into_iter().map(|n| n.phone).collect())
    };
    let counts = store
        .number_metrics(period.query(&space.id), sender)
        .await
        .map_err(internal)?;
    // a number removed since still has its messages
    numbers.extend(counts.iter().map(|c| c.key.clone()));
    let by_bucket: HashMap<(&str, i64), _> = counts
        .iter()
        .map(|c| ((c.key.as_str(), c.bucket_ms), c))
        .collect();
    let granularity = period.granularity.as_str();
    let mut data = Vec::new();
    for start in period.buckets() {
        for phone in &numbers {
            let c = by_bucket.get(&(phone.as_str(), start));
            data.push(json!({
                "PhoneNumber": phone,
                "Granularity": granularity,
                "Start": start,
                "End": start + period.bucket_ms(),
                "SentCount": c.map_or(0, |c| c.sent),
                "DeliveredCount": c.map_or(0, |c| c.delivered),
            }));
        }
    }
    let mut out = Map::new();
    out.insert("Data".into(), Value::Array(data));
    Ok(out)
}
