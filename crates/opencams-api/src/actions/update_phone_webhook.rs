//! UpdatePhoneWebhook (cams-api.md §3.10): one business number's receipt destinations, which
//! override its space's: `StatusCallbackUrl` for status reports, `UpCallbackUrl` for inbound
//! messages. Absent parameters keep their value; an empty URL clears it (the space's applies).

use opencams_protocol::CamsError;
use opencams_store::WebhookUpdate;
use serde_json::{Map, Value};

use crate::context::{Ctx, internal};
use crate::receipts::{business_number, flag, url};

pub async fn run(ctx: &Ctx<'_>) -> Result<Map<String, Value>, CamsError> {
    let status_url = url(ctx, "StatusCallbackUrl")?;
    let up_url = url(ctx, "UpCallbackUrl")?;
    let http_flag = flag(ctx, "HttpFlag")?;
    let queue_flag = flag(ctx, "QueueFlag")?;
    let space = ctx.space().await?;
    let number = business_number(ctx, &space, "PhoneNumber").await?;
    ctx.state
        .store
        .set_webhook(
            WebhookUpdate {
                space_id: space.id,
                phone: number.phone,
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
