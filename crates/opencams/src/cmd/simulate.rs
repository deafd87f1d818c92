//! `opencams simulate inbound`: make the running server's built-in simulator deliver a user's
//! message through the same signed webhook path Meta uses. It opens (or refreshes) the 24-hour
//! window of that (business number, user) pair.

use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, bail};
use clap::Subcommand;
use opencams_domain::PhoneNumber;
use serde_json::{Value, json};

use super::{admin_store, now_ms, print};
use crate::config::StorageArgs;

#[derive(Subcommand)]
pub enum SimulateCmd {
    /// A user sends a message to a business number
    Inbound {
        /// The user's number
        #[arg(long)]
        from: String,
        /// The business (sender) number
        #[arg(long)]
        to: String,
        /// The text (default "hello")
        #[arg(long, conflicts_with = "message")]
        text: Option<String>,
        /// Any Cloud API inbound message object, e.g. '{"type":"location","location":{"latitude":1,"longitude":2}}'
        #[arg(long)]
        message: Option<String>,
        /// The user's profile name
        #[arg(long, default_value = "Simulated User")]
        name: String,
        /// The running server
        #[arg(
            long,
            env = "OPENCAMS_ENDPOINT",
            default_value = "http://127.0.0.1:8080"
        )]
        endpoint: String,
        #[arg(long)]
        json: bool,
    },
}

pub async fn run(args: &StorageArgs, cmd: SimulateCmd) -> anyhow::Result<()> {
    let SimulateCmd::Inbound {
        from,
        to,
        text,
        message,
        name,
        endpoint,
        json,
    } = cmd;
    let user = PhoneNumber::parse("--from", &from).map_err(|e| anyhow!(e.message))?;
    let business = PhoneNumber::parse_sender("--to", &to).map_err(|e| anyhow!(e.message))?;
    let message: Value = match message {
        Some(m) => serde_json::from_str(&m).context("--message must be a JSON object")?,
        None => json!({"type": "text", "text": {"body": text.unwrap_or_else(|| "hello".into())}}),
    };
    let (storage, _) = args.resolve()?;
    let token = std::fs::read_to_string(storage.data_dir.join("simulator.token")).context(
        "no simulator token in the data directory: has `opencams serve` run with this --data-dir?",
    )?;
    let store = admin_store(args).await?;
    let result = async {
        if store.number(business.as_str()).await?.is_none_or(|n| n.channel != "simulator") {
            bail!("{business} is not a simulator number (see `opencams number list`)");
        }
        let before = now_ms();
        let resp = reqwest::Client::new()
            .post(format!("{}/simulator/inbound", endpoint.trim_end_matches('/')))
            .bearer_auth(token.trim())
            .json(&json!({"from": user.as_str(), "to": business.as_str(), "name": name, "message": message}))
            .send()
            .await
            .with_context(|| format!("cannot reach the server at {endpoint}"))?;
        let status = resp.status();
        let body = resp.text().await.unwrap_or_default();
        if !status.is_success() {
            bail!("the simulator refused the message ({status}): {body}");
        }
        let wamid = serde_json::from_str::<Value>(&body).ok().and_then(|v| v["MessageId"].as_str().map(String::from)).unwrap_or_default();
        // the webhook arrives asynchronously: wait until the window shows it
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if store.last_inbound(business.as_str(), user.as_str()).await?.is_some_and(|t| t >= before - 1000) {
                break;
            }
            if Instant::now() > deadline {
                bail!("the simulator accepted the message but its webhook never arrived");
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        print(json, &json!({"MessageId": wamid, "From": user.as_str(), "To": business.as_str()}), || {
            format!("{user} wrote to {business} ({wamid}): the 24-hour window is open")
        });
        Ok(())
    }
    .await;
    store.close().await;
    result
}
