//! `opencams space create|list`.

use clap::Subcommand;
use serde_json::json;

use super::{account_filter, admin_store, find_account, now_ms, print};
use crate::config::StorageArgs;

#[derive(Subcommand)]
pub enum SpaceCmd {
    /// Create another space for an account
    Create {
        #[arg(long)]
        account: String,
        #[arg(long, default_value = "space")]
        name: String,
        #[arg(long)]
        json: bool,
    },
    /// List spaces
    List {
        #[arg(long)]
        account: Option<String>,
        #[arg(long)]
        json: bool,
    },
}

pub async fn run(args: &StorageArgs, cmd: SpaceCmd) -> anyhow::Result<()> {
    let store = admin_store(args).await?;
    let result = async {
        match cmd {
            SpaceCmd::Create { account, name, json } => {
                let a = find_account(store.as_ref(), &account).await?;
                let s = store.create_space(a.id, &name, now_ms()).await?;
                print(json, &json!({"CustSpaceId": s.id, "Account": a.name, "Name": s.name}), || {
                    format!("space {} created for {}", s.id, a.name)
                });
            }
            SpaceCmd::List { account, json } => {
                let account_id = account_filter(store.as_ref(), account.as_deref()).await?;
                let spaces = store.list_spaces(account_id).await?;
                let v = json!({"Spaces": spaces.iter().map(|s| json!({"CustSpaceId": s.id, "AccountId": s.account_id, "Name": s.name})).collect::<Vec<_>>()});
                print(json, &v, || spaces.iter().map(|s| format!("{} {} (account {})", s.id, s.name, s.account_id)).collect::<Vec<_>>().join("\n"));
            }
        }
        Ok(())
    }
    .await;
    store.close().await;
    result
}
