//! `opencams account create|list|show|disable|enable|set`.

use anyhow::bail;
use clap::Subcommand;
use opencams_store::AccountStatus;
use serde_json::json;

use super::{find_account, now_ms, print, with_store};
use crate::config::StorageArgs;

#[derive(Subcommand)]
pub enum AccountCmd {
    /// Create an account (with its default space)
    Create {
        name: String,
        #[arg(long)]
        json: bool,
    },
    /// List accounts
    List {
        #[arg(long)]
        json: bool,
    },
    /// Show an account with its spaces and settings
    Show {
        name: String,
        #[arg(long)]
        json: bool,
    },
    /// Close the service for an account: its calls answer Product.Unsubscript
    Disable {
        name: String,
        #[arg(long)]
        json: bool,
    },
    /// Open the service for an account again
    Enable {
        name: String,
        #[arg(long)]
        json: bool,
    },
    /// Change settings: qps.<Action>=N (per-action calls/s), qps.api=N (all calls/s),
    /// session.window=reject|cams; an empty value restores the default
    Set {
        name: String,
        #[arg(required = true, value_name = "KEY=VALUE")]
        settings: Vec<String>,
        #[arg(long)]
        json: bool,
    },
}

pub fn validate_name(name: &str) -> anyhow::Result<()> {
    let ok = (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if !ok {
        bail!("account name {name:?} is not valid: use 1–64 letters, digits, '-', '_' or '.'");
    }
    Ok(())
}

/// Checks one `KEY=VALUE` setting.
fn parse_setting(s: &str) -> anyhow::Result<(String, Option<String>)> {
    let Some((k, v)) = s.split_once('=') else {
        bail!("setting {s:?} must be KEY=VALUE")
    };
    let (k, v) = (k.trim(), v.trim());
    let value = if v.is_empty() {
        None
    } else {
        Some(v.to_string())
    };
    if let Some(action) = k.strip_prefix("qps.") {
        if action != "api" && !opencams_api::actions::is_known(action) {
            bail!(
                "{k}: unknown action {action:?}; use qps.api or one of {}",
                opencams_api::actions::ACTIONS.join(", ")
            );
        }
        if let Some(v) = &value {
            match v.parse::<u32>() {
                Ok(n) if (1..=1_000_000).contains(&n) => {}
                _ => bail!(
                    "{k}: {v:?} is not a rate; use an integer from 1 to 1000000 calls per second"
                ),
            }
        }
    } else if k == "session.window" {
        if let Some(v) = &value
            && v != "reject"
            && v != "cams"
        {
            bail!(
                "session.window: {v:?} is not valid; use reject (refuse Type=message outside the 24-hour window) or cams (accept, then fail with 131047)"
            );
        }
    } else {
        bail!("unknown setting {k:?}: use qps.<Action>, qps.api or session.window");
    }
    Ok((k.to_string(), value))
}

pub async fn run(args: &StorageArgs, cmd: AccountCmd) -> anyhow::Result<()> {
    with_store(args, async |store| run_with(store, cmd).await).await
}

async fn run_with(store: &dyn opencams_store::Store, cmd: AccountCmd) -> anyhow::Result<()> {
    match cmd {
        AccountCmd::Create { name, json } => {
            validate_name(&name)?;
            let a = store.create_account(&name, now_ms()).await?;
            print(
                json,
                &json!({"Account": a.name, "Id": a.id, "DefaultSpace": a.default_space, "Status": a.status}),
                || {
                    format!(
                        "account {} created (default space {})",
                        a.name, a.default_space
                    )
                },
            );
        }
        AccountCmd::List { json } => {
            let list = store.list_accounts().await?;
            let v = json!({"Accounts": list.iter().map(|a| json!({"Account": a.name, "Id": a.id, "DefaultSpace": a.default_space, "Status": a.status})).collect::<Vec<_>>()});
            print(json, &v, || {
                let mut s = format!("{:<24} {:<20} {}", "ACCOUNT", "DEFAULT SPACE", "STATUS");
                for a in &list {
                    s.push_str(&format!(
                        "\n{:<24} {:<20} {}",
                        a.name,
                        a.default_space,
                        a.status.as_str()
                    ));
                }
                s
            });
        }
        AccountCmd::Show { name, json } => {
            let a = find_account(store, &name).await?;
            let spaces = store.list_spaces(Some(a.id)).await?;
            let settings = store.account_settings(a.id).await?;
            let signing = store.callback_secret(a.id, now_ms()).await?;
            let v = json!({"Account": a.name, "Id": a.id, "DefaultSpace": a.default_space, "Status": a.status,
                "Spaces": spaces.iter().map(|s| &s.id).collect::<Vec<_>>(), "Settings": settings,
                "CallbackSigningSecret": signing.expose()});
            print(json, &v, || {
                serde_json::to_string_pretty(&v).unwrap_or_default()
            });
        }
        AccountCmd::Disable { name, json } => {
            set_status(store, &name, AccountStatus::Unsubscribed, json).await?
        }
        AccountCmd::Enable { name, json } => {
            set_status(store, &name, AccountStatus::Active, json).await?
        }
        AccountCmd::Set {
            name,
            settings,
            json,
        } => {
            let a = find_account(store, &name).await?;
            let parsed = settings
                .iter()
                .map(|s| parse_setting(s))
                .collect::<anyhow::Result<Vec<_>>>()?;
            for (k, v) in &parsed {
                store.set_account_setting(a.id, k, v.as_deref()).await?;
            }
            let now = store.account_settings(a.id).await?;
            print(json, &json!({"Account": a.name, "Settings": now}), || {
                format!("settings of {}: {now:?}", a.name)
            });
        }
    }
    Ok(())
}

async fn set_status(
    store: &dyn opencams_store::Store,
    name: &str,
    status: AccountStatus,
    json: bool,
) -> anyhow::Result<()> {
    find_account(store, name).await?;
    let a = store.set_account_status(name, status).await?;
    print(
        json,
        &json!({"Account": a.name, "Status": a.status}),
        || format!("account {} is now {}", a.name, a.status.as_str()),
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_are_checked() {
        assert_eq!(
            parse_setting("qps.SendChatappMessage=5000")
                .unwrap()
                .1
                .as_deref(),
            Some("5000")
        );
        assert_eq!(parse_setting("qps.api=").unwrap().1, None);
        assert!(parse_setting("qps.Nope=1").is_err());
        assert!(parse_setting("qps.api=0").is_err());
        assert!(parse_setting("session.window=maybe").is_err());
        assert!(parse_setting("colour=blue").is_err());
        assert!(validate_name("ok-name_1.2").is_ok());
        assert!(validate_name("bad name").is_err());
    }
}
