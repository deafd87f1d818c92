//! `opencams simulate inbound`: a simulated WhatsApp user writes to a sender number, which opens
//! (or refreshes) the 24-hour customer-service window of that pair.

use anyhow::{Context, anyhow};
use clap::Subcommand;
use opencams_domain::PhoneNumber;
use opencams_store::MessageRow;
use serde_json::json;

use super::{admin_store, now_ms, print};
use crate::config::StorageArgs;

#[derive(Subcommand)]
pub enum SimulateCmd {
    /// A user sends a text message to a business number
    Inbound {
        /// The user's number
        #[arg(long)]
        from: String,
        /// The business (sender) number
        #[arg(long)]
        to: String,
        #[arg(long, default_value = "hello")]
        text: String,
        #[arg(long)]
        json: bool,
    },
}

pub async fn run(args: &StorageArgs, cmd: SimulateCmd) -> anyhow::Result<()> {
    let SimulateCmd::Inbound {
        from,
        to,
        text,
        json,
    } = cmd;
    let user = PhoneNumber::parse("--from", &from).map_err(|e| anyhow!(e.message))?;
    let business = PhoneNumber::parse_sender("--to", &to).map_err(|e| anyhow!(e.message))?;
    let store = admin_store(args).await?;
    let result = async {
        let number = store.number(business.as_str()).await?.with_context(|| {
            format!("{business} is not a registered sender number (see `opencams number list`)")
        })?;
        let now = now_ms();
        let id = format!("wamid.sim{now:x}{}", user.as_str());
        let row = MessageRow {
            id: id.clone(),
            account_id: number.account_id,
            space_id: number.space_id.clone(),
            direction: "in".into(),
            sender: business.to_string(),
            recipient: user.to_string(),
            send_type: "message".into(),
            message_type: "text".into(),
            body: json!({"content": {"type": "text", "cloud": {"body": text}}}).to_string(),
            status: "received".into(),
            created_at: now,
            updated_at: now,
            ..Default::default()
        };
        store.insert_messages(vec![row], vec![]).await?;
        store
            .record_inbound_window(business.as_str(), user.as_str(), now)
            .await?;
        print(
            json,
            &json!({"MessageId": id, "From": user.as_str(), "To": business.as_str()}),
            || format!("{user} wrote to {business}: the 24-hour window is open"),
        );
        Ok(())
    }
    .await;
    store.close().await;
    result
}
