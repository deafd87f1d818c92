//! `opencams webhook status|enable|replay`: the callback endpoints' delivery state, re-enabling
//! an endpoint that was disabled after failing, and resending past events.

use anyhow::{Context, bail};
use clap::Subcommand;
use opencams_store::{Endpoint, Store};
use serde_json::{Value, json};

use super::{account_filter, now_ms, print, with_store};
use crate::config::StorageArgs;

#[derive(Subcommand)]
pub enum WebhookCmd {
    /// Callback endpoints: enabled or disabled (and why), pending and delivered records
    Status {
        #[arg(long)]
        account: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Enable a disabled endpoint again; what is pending is delivered at once
    Enable {
        url: String,
        #[arg(long)]
        account: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Resend the callbacks of every event since a time (RFC 3339 or unix milliseconds)
    Replay {
        #[arg(long)]
        since: String,
        #[arg(long)]
        account: Option<String>,
        #[arg(long)]
        json: bool,
    },
}

/// `--since`: RFC 3339 (`2025-01-15T08:00:00Z`) or unix milliseconds.
pub fn parse_since(raw: &str) -> anyhow::Result<i64> {
    let raw = raw.trim();
    if let Ok(ms) = raw.parse::<i64>() {
        return Ok(ms);
    }
    let t = opencams_protocol::time_fmt::parse(raw).map_err(|_| {
        anyhow::anyhow!(
            "--since {raw:?} is neither RFC 3339 (2025-01-15T08:00:00Z) nor unix milliseconds"
        )
    })?;
    Ok((t.unix_timestamp_nanos() / 1_000_000) as i64)
}

fn endpoint_json(e: &Endpoint, account: &str) -> Value {
    json!({"Account": account, "Url": e.url, "Enabled": e.enabled, "DisabledReason": e.disabled_reason,
           "DisabledAt": e.disabled_at, "Pending": e.pending, "Delivered": e.delivered,
           "ConsecutiveFailures": e.failures, "LastError": e.last_error, "LastAttemptAt": e.last_attempt_at,
           "LastSuccessAt": e.last_success_at, "NextAttemptAt": e.due_at})
}

pub async fn run(args: &StorageArgs, cmd: WebhookCmd) -> anyhow::Result<()> {
    with_store(args, async |store| run_with(store, cmd).await).await
}

async fn run_with(store: &dyn Store, cmd: WebhookCmd) -> anyhow::Result<()> {
    match cmd {
        WebhookCmd::Status { account, json } => {
            let id = account_filter(store, account.as_deref()).await?;
            let accounts = store.list_accounts().await?;
            let name = |id: i64| {
                accounts
                    .iter()
                    .find(|a| a.id == id)
                    .map_or_else(|| id.to_string(), |a| a.name.clone())
            };
            let list = store.list_endpoints(id).await?;
            let v = json!({"Endpoints": list.iter().map(|e| endpoint_json(e, &name(e.account_id))).collect::<Vec<_>>()});
            print(json, &v, || {
                let mut s = format!(
                    "{:<12} {:<8} {:>8} {:>10} {:>8}  {}",
                    "ACCOUNT", "STATE", "PENDING", "DELIVERED", "FAILURES", "URL"
                );
                for e in &list {
                    s.push_str(&format!(
                        "\n{:<12} {:<8} {:>8} {:>10} {:>8}  {}",
                        name(e.account_id),
                        if e.enabled { "enabled" } else { "DISABLED" },
                        e.pending,
                        e.delivered,
                        e.failures,
                        e.url
                    ));
                    if let Some(r) = &e.disabled_reason {
                        s.push_str(&format!("\n             reason: {r}"));
                    } else if let Some(err) = &e.last_error {
                        s.push_str(&format!("\n             last error: {err}"));
                    }
                }
                s
            });
        }
        WebhookCmd::Enable { url, account, json } => {
            let id = account_filter(store, account.as_deref()).await?;
            let n = store.enable_endpoints(&url, id, now_ms()).await?;
            if n == 0 {
                bail!("no callback endpoint {url:?} (see `opencams webhook status`)");
            }
            print(json, &json!({"Url": url, "Enabled": n}), || {
                format!("{url}: enabled ({n} endpoint(s)); pending callbacks are delivered now")
            });
        }
        WebhookCmd::Replay {
            since,
            account,
            json,
        } => {
            let since_ms = parse_since(&since).context("--since")?;
            let id = account_filter(store, account.as_deref()).await?;
            let n = store.replay_events(since_ms, id, now_ms()).await?;
            print(json, &json!({"Since": since_ms, "Enqueued": n}), || {
                format!("{n} callback(s) enqueued again")
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "test code")]
    use super::*;

    #[test]
    fn since_takes_rfc3339_or_millis() {
        assert_eq!(parse_since("1700000000000").unwrap(), 1_700_000_000_000);
        assert_eq!(
            parse_since("2023-11-14T22:13:20Z").unwrap(),
            1_700_000_000_000
        );
        assert!(parse_since("yesterday").is_err());
    }
}
