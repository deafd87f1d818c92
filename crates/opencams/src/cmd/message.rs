//! `opencams message show|count`: inspect stored messages.

use anyhow::Context;
use clap::Subcommand;
use opencams_store::MessageRow;
use serde_json::{Value, json};

use super::{admin_store, print};
use crate::config::StorageArgs;

#[derive(Subcommand)]
pub enum MessageCmd {
    /// Show one message by MessageId (or provider id)
    Show {
        id: String,
        #[arg(long)]
        json: bool,
    },
    /// Count stored messages
    Count {
        #[arg(long)]
        json: bool,
    },
}

pub fn describe(m: &MessageRow) -> Value {
    json!({"MessageId": m.id, "Direction": m.direction, "From": m.sender, "To": m.recipient, "Type": m.send_type,
           "MessageType": m.message_type, "TemplateCode": m.template_code, "Language": m.language, "Status": m.status,
           "ErrorCode": m.error_code, "ErrorDescription": m.error_description, "TaskId": m.task_id, "Tag": m.tag,
           "TrackingData": m.tracking_data, "GroupMessageId": m.group_id, "FallBackId": m.fallback_id,
           "FallBackRule": m.fallback_rule, "FallBackDuration": m.fallback_duration, "ContextMessageId": m.context_id,
           "Body": serde_json::from_str::<Value>(&m.body).unwrap_or(Value::Null), "ProviderId": m.provider_id,
           "CreatedAt": m.created_at, "UpdatedAt": m.updated_at})
}

pub async fn run(args: &StorageArgs, cmd: MessageCmd) -> anyhow::Result<()> {
    let store = admin_store(args).await?;
    let result = async {
        match cmd {
            MessageCmd::Show { id, json } => {
                let m = store
                    .message(&id)
                    .await?
                    .with_context(|| format!("no message {id:?}"))?;
                let mut v = describe(&m);
                let events = store.message_events(&m.id).await?;
                v["Events"] = Value::Array(
                    events
                        .iter()
                        .map(|e| {
                            let record =
                                serde_json::from_str::<Value>(&e.payload).unwrap_or(Value::Null);
                            json!({"Kind": e.kind, "At": e.created_at, "Record": record})
                        })
                        .collect(),
                );
                print(json, &v, || {
                    serde_json::to_string_pretty(&v).unwrap_or_default()
                });
            }
            MessageCmd::Count { json } => {
                let n = store.count_messages().await?;
                print(json, &json!({"Messages": n}), || n.to_string());
            }
        }
        Ok(())
    }
    .await;
    store.close().await;
    result
}
