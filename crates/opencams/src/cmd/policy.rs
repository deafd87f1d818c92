//! `opencams policy create|list|show|delete`: an account's fallback policies (SMS route and
//! sender id), named by `FallBackId` in sends.

use anyhow::{Context, bail};
use clap::Subcommand;
use opencams_store::{NewPolicy, Policy, Secret, Store, StoreError};
use serde_json::{Value, json};

use super::{find_account, now_ms, print, with_store};
use crate::config::StorageArgs;

#[derive(Subcommand)]
pub enum PolicyCmd {
    /// Create a fallback policy: an SMS connection (SMPP or HTTP) and a sender id
    Create {
        #[arg(long, default_value = "default")]
        account: String,
        #[arg(long, default_value = "sms fallback")]
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
    let conn: Value = serde_json::from_str(p.connection.expose()).unwrap_or(Value::Null);
    let kind = conn.get("kind").cloned().unwrap_or(Value::Null);
    let target = conn
        .get("address")
        .or_else(|| conn.get("url"))
        .cloned()
        .unwrap_or(Value::Null);
    json!({"FallBackId": p.id, "Name": p.name, "Channel": p.channel, "SenderId": p.sender_id,
           "Connection": {"Kind": kind, "Target": target}, "CreatedAt": p.created_at})
}

fn check_sender_id(s: &str) -> anyhow::Result<()> {
    let numeric = s.bytes().all(|b| b.is_ascii_digit()) && (1..=15).contains(&s.len());
    let alpha =
        s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b' ') && (1..=11).contains(&s.len());
    if !(numeric || alpha) {
        bail!(
            "--sender-id {s:?} is not valid: use up to 11 letters/digits, or a number of up to 15 digits"
        );
    }
    Ok(())
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
            check_sender_id(&sender_id)?;
            let connection = match (smpp, http_url) {
                (Some(addr), None) => {
                    let (host, port) = addr.rsplit_once(':').context("--smpp must be host:port")?;
                    if host.is_empty() || port.parse::<u16>().is_err() {
                        bail!("--smpp {addr:?} must be host:port");
                    }
                    let system_id = system_id.context("--smpp needs --system-id")?;
                    json!({"kind": "smpp", "address": addr, "system_id": system_id, "password": password.unwrap_or_default()})
                }
                (None, Some(url)) => {
                    if !(url.starts_with("http://") || url.starts_with("https://")) {
                        bail!("--http-url {url:?} must be an http(s) URL");
                    }
                    json!({"kind": "http", "url": url, "token": http_token})
                }
                _ => bail!(
                    "a policy needs an SMS connection: --smpp host:port (with --system-id) or --http-url URL"
                ),
            };
            let p = store
                .create_policy(
                    NewPolicy {
                        account_id: a.id,
                        name,
                        channel: "sms".into(),
                        sender_id,
                        connection: Secret::new(connection.to_string()),
                    },
                    now_ms(),
                )
                .await?;
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
