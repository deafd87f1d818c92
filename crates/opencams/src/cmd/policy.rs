//! `opencams policy create|list|show|delete`: an account's fallback policies (SMS route and
//! sender id), named by `FallBackId` in sends.

use anyhow::{Context, bail};
use clap::Subcommand;
use opencams_api::policies::{self, Asker, Connection};
use opencams_store::{Policy, Store, StoreError};
use serde_json::{Value, json};

use super::{find_account, now_ms, print, with_store};
use crate::config::StorageArgs;

#[derive(Subcommand)]
pub enum PolicyCmd {
    /// Create a fallback policy: an SMS connection (SMPP or HTTP) and a sender id
    Create {
        #[arg(long, default_value = "default")]
        account: String,
        #[arg(long, default_value = policies::DEFAULT_NAME)]
        name: String,
        /// The SMS sender id (alphanumeric ≤ 11 or a number ≤ 15 digits)
        #[arg(long)]
        sender_id: String,
        /// SMPP SMSC address host:port
        #[arg(long, conflicts_with = "http_url")]
        smpp: Option<String>,
        /// SMPP system_id
        #[arg(long, requires = "smpp")]
        system_id: Option<String>,
        /// SMPP password (stored encrypted)
        #[arg(
            long,
            requires = "smpp",
            env = "OPENCAMS_SMPP_PASSWORD",
            hide_env_values = true
        )]
        password: Option<String>,
        /// HTTP SMS connector URL (a POST per message)
        #[arg(long)]
        http_url: Option<String>,
        /// HTTP connector bearer token (stored encrypted)
        #[arg(
            long,
            requires = "http_url",
            env = "OPENCAMS_SMS_HTTP_TOKEN",
            hide_env_values = true
        )]
        http_token: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// List an account's policies
    List {
        #[arg(long, default_value = "default")]
        account: String,
        #[arg(long)]
        json: bool,
    },
    /// Show one policy (credentials are not shown)
    Show {
        id: String,
        #[arg(long, default_value = "default")]
        account: String,
        #[arg(long)]
        json: bool,
    },
    /// Delete a policy; refused while messages that may still fall back name it
    Delete {
        id: String,
        #[arg(long, default_value = "default")]
        account: String,
        #[arg(long)]
        json: bool,
    },
}

/// The policy without its credentials.
fn describe(p: &Policy) -> Value {
    let shown = policies::shown(p);
    json!({"FallBackId": p.id, "Name": p.name, "Channel": p.channel, "SenderId": p.sender_id,
           "Connection": {"Kind": shown.kind, "Target": shown.target}, "CreatedAt": p.created_at})
}

pub async fn run(args: &StorageArgs, cmd: PolicyCmd) -> anyhow::Result<()> {
    with_store(args, async |store| run_with(store, cmd).await).await
}

async fn run_with(store: &dyn Store, cmd: PolicyCmd) -> anyhow::Result<()> {
    match cmd {
        PolicyCmd::Create {
            account,
            name,
            sender_id,
            smpp,
            system_id,
            password,
            http_url,
            http_token,
            json,
        } => {
            let a = find_account(store, &account).await?;
            let connection = match (smpp, http_url) {
                (Some(address), None) => Some(Connection::Smpp {
                    address,
                    system_id,
                    password,
                }),
                (None, Some(url)) => Some(Connection::Http {
                    url,
                    token: http_token,
                }),
                _ => None,
            };
            let new = policies::new_policy(&a, name, sender_id, connection)
                .map_err(|e| anyhow::Error::msg(e.describe(Asker::Cli)))?;
            let p = store.create_policy(new, now_ms()).await?;
            print(json, &describe(&p), || {
                format!("policy {} created for {}", p.id, a.name)
            });
        }
        PolicyCmd::List { account, json } => {
            let a = find_account(store, &account).await?;
            let list = store.list_policies(a.id).await?;
            let v = json!({"Policies": list.iter().map(describe).collect::<Vec<_>>()});
            print(json, &v, || {
                list.iter()
                    .map(|p| format!("{} {} sms sender={}", p.id, p.name, p.sender_id))
                    .collect::<Vec<_>>()
                    .join("\n")
            });
        }
        PolicyCmd::Show { id, account, json } => {
            let a = find_account(store, &account).await?;
            let p = store
                .policy(a.id, &id)
                .await?
                .with_context(|| format!("no policy {id:?} in account {}", a.name))?;
            let v = describe(&p);
            print(json, &v, || {
                serde_json::to_string_pretty(&v).unwrap_or_default()
            });
        }
        PolicyCmd::Delete { id, account, json } => {
            let a = find_account(store, &account).await?;
            match store.delete_policy(a.id, &id, now_ms()).await {
                Ok(()) => print(json, &json!({"FallBackId": id, "Deleted": true}), || {
                    format!("policy {id} deleted")
                }),
                Err(StoreError::NotFound(_)) => bail!("no policy {id:?} in account {}", a.name),
                Err(StoreError::Conflict(why)) => bail!("{why}"),
                Err(e) => return Err(e.into()),
            }
        }
    }
    Ok(())
}
