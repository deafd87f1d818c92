//! QueryChatappPhoneNumbers (cams-api.md §3.8): the space's sender numbers with their status.

use opencams_protocol::CamsError;
use opencams_store::NumberFilter;
use serde_json::{Map, Value, json};

use crate::context::{Ctx, internal};
use crate::receipts::{destinations, queue_name};

const STATUSES: &[&str] = &[
    "CONNECTED",
    "PENDING",
    "DELETED",
    "MIGRATED",
    "BANNED",
    "RESTRICTED",
    "RATE_LIMITED",
    "FLAGGED",
    "DISCONNECTED",
    "UNKNOWN",
    "UNVERIFIED",
];

pub async fn run(ctx: &Ctx<'_>) -> Result<Map<String, Value>, CamsError> {
    let status = match ctx.params.get("Status") {
        None => None,
        Some(s) => {
            let upper = s.to_ascii_uppercase();
            if !STATUSES.contains(&upper.as_str()) {
                return Err(CamsError::invalid(
                    "Status",
                    format_args!(
                        "{s:?} is not a number status; use one of {}",
                        STATUSES.join(", ")
                    ),
                ));
            }
            Some(upper)
        }
    };
    let space = ctx.space().await?;
    let numbers = ctx
        .state
        .store
        .list_numbers(NumberFilter {
            account_id: Some(ctx.account_id()),
            space_id: Some(space.id.clone()),
            status,
        })
        .await
        .map_err(internal)?;
    let settings = ctx
        .state
        .store
        .webhooks(&space.id)
        .await
        .map_err(internal)?;
    let list: Vec<Value> = numbers
        .iter()
        .map(|n| {
            let d = destinations(&settings, &n.phone);
            let queue = |kind: &str| {
                if d.queue {
                    queue_name(ctx.account_id(), kind)
                } else {
                    String::new()
                }
            };
            json!({
                "PhoneNumber": n.phone,
                "VerifiedName": n.verified_name,
                "Status": n.status,
                "QualityRating": n.quality_rating,
                "CodeVerificationStatus": "VERIFIED",
                "NameStatus": "APPROVED",
                "NewNameStatus": "NONE",
                "MessagingLimitTier": n.messaging_limit_tier,
                "StatusCallbackUrl": d.status_url,
                "UpCallbackUrl": d.up_url,
                "StatusQueue": queue("ChatAppStatus"),
                "UpQueue": queue("ChatAppInbound"),
                "IsOfficial": "false",
            })
        })
        .collect();
    let mut out = Map::new();
    out.insert("Success".into(), Value::Bool(true));
    out.insert("PhoneNumbers".into(), Value::Array(list));
    Ok(out)
}
