//! UpdateAccountWebhook (cams-api.md §3.10): the space-level receipt destination. Status
//! reports, template review results and (when no UpCallbackUrl is set) inbound messages go to
//! `StatusCallbackUrl`. Absent parameters keep their value; an empty URL clears it.

use opencams_protocol::CamsError;
use opencams_store::WebhookUpdate;
use serde_json::{Map, Value};

use crate::context::{Ctx, internal};
use crate::receipts::{flag, url};

pub async fn run(ctx: &Ctx<'_>) -> Result<Map<String, Value>, CamsError> {
    let status_url = url(ctx, "StatusCallbackUrl")?;
    // not in the SDK's model for this action, but harmless and useful to other clients
    let up_url = url(ctx, "UpCallbackUrl")?;
    let http_flag = flag(ctx, "HttpFlag")?;
    let queue_flag = flag(ctx, "QueueFlag")?;
    let space = ctx.space().await?;
    ctx.state
        .store
        .set_webhook(
            WebhookUpdate {
                space_id: space.id,
                phone: String::new(),
                account_id: ctx.account_id(),
                status_url,
                up_url,
                http_flag,
                queue_flag,
            },
            ctx.now_ms(),
        )
        .await
        .map_err(internal)?;
    Ok(Map::new())
}
