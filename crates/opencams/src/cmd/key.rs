//! `opencams key create|list|disable|enable`.

use anyhow::Context;
use clap::Subcommand;
use opencams_store::{AccessKey, Store};
use serde_json::{Value, json};

use super::{account_filter, find_account, now_ms, print, with_store};
use crate::config::StorageArgs;

#[derive(Subcommand)]
pub enum KeyCmd {
    /// Create an access key; the secret is printed once
    Create {
        #[arg(long)]
        account: String,
        /// Limit the key to these actions (comma-separated)
        #[arg(long, value_delimiter = ',')]
        actions: Option<Vec<String>>,
        /// Limit the key to these spaces (comma-separated CustSpaceIds)
        #[arg(long, value_delimiter = ',')]
        spaces: Option<Vec<String>>,
        #[arg(long)]
        json: bool,
    },
    /// List access keys (secrets are never shown)
    List {
        #[arg(long)]
        account: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Disable a key: calls signed with it answer InvalidAccessKeyId.Inactive
    Disable {
        id: String,
        #[arg(long)]
        json: bool,
    },
    /// Enable a key again
    Enable {
        id: String,
        #[arg(long)]
        json: bool,
    },
}

fn describe(k: &AccessKey) -> Value {
    json!({"AccessKeyId": k.id, "Account": k.account_name, "Enabled": k.enabled,
           "Actions": k.actions, "Spaces": k.spaces, "CreatedAt": k.created_at})
}

pub async fn run(args: &StorageArgs, cmd: KeyCmd) -> anyhow::Result<()> {
    with_store(args, async |store| run_with(store, cmd).await).await
}

async fn run_with(store: &dyn Store, cmd: KeyCmd) -> anyhow::Result<()> {
    match cmd {
        KeyCmd::Create {
            account,
            actions,
            spaces,
            json,
        } => {
            let a = find_account(store, &account).await?;
            let new = opencams_api::keys::new_key(store, &a, actions, spaces)
                .await?
                .map_err(|e| {
                    anyhow::anyhow!(
                        "{}{}",
                        e.describe("--actions", "--spaces", &a),
                        match e {
                            opencams_api::keys::LimitError::ForeignSpace(_) =>
                                format!(" (see `opencams account show {}`)", a.name),
                            _ => String::new(),
                        }
                    )
                })?;
            let k = store.create_key(new, now_ms()).await?;
            let v = json!({"AccessKeyId": k.id, "AccessKeySecret": k.secret.expose(), "Account": k.account_name});
            print(json, &v, || {
                format!(
                    "AccessKeyId:     {}\nAccessKeySecret: {}\nAccount:         {}\n(the secret is shown only now)",
                    k.id,
                    k.secret.expose(),
                    k.account_name
                )
            });
        }
        KeyCmd::List { account, json } => {
            let account_id = account_filter(store, account.as_deref()).await?;
            let keys = store.list_keys(account_id).await?;
            let v = json!({"Keys": keys.iter().map(describe).collect::<Vec<_>>()});
            print(json, &v, || {
                let mut s = format!(
                    "{:<26} {:<20} {:<8} {}",
                    "ACCESS KEY ID", "ACCOUNT", "ENABLED", "LIMITS"
                );
                for k in &keys {
                    let limits = match (&k.actions, &k.spaces) {
                        (None, None) => "-".to_string(),
                        (a, sp) => format!(
                            "actions={} spaces={}",
                            a.as_ref().map_or("*".into(), |l| l.join(",")),
                            sp.as_ref().map_or("*".into(), |l| l.join(","))
                        ),
                    };
                    s.push_str(&format!(
                        "\n{:<26} {:<20} {:<8} {}",
                        k.id, k.account_name, k.enabled, limits
                    ));
                }
                s
            });
        }
        KeyCmd::Disable { id, json } => set_enabled(store, &id, false, json).await?,
        KeyCmd::Enable { id, json } => set_enabled(store, &id, true, json).await?,
    }
    Ok(())
}

async fn set_enabled(store: &dyn Store, id: &str, enabled: bool, json: bool) -> anyhow::Result<()> {
    store
        .key(id)
        .await?
        .with_context(|| format!("no access key {id:?} (see `opencams key list`)"))?;
    let k = store.set_key_enabled(id, enabled).await?;
    print(json, &describe(&k), || {
        format!(
            "key {} {}",
            k.id,
            if k.enabled { "enabled" } else { "disabled" }
        )
    });
    Ok(())
}
