//! `opencams number add|list`.

use anyhow::bail;
use clap::{Subcommand, ValueEnum};
use opencams_domain::PhoneNumber;
use opencams_store::{CloudSettings, NewNumber, Number, NumberFilter, Secret, Store};
use serde_json::{Value, json};

use super::{find_account, now_ms, print, with_store};
use crate::config::StorageArgs;

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum Channel {
    Simulator,
    WhatsappCloud,
}

impl Channel {
    fn as_str(self) -> &'static str {
        match self {
            Channel::Simulator => "simulator",
            Channel::WhatsappCloud => "whatsapp-cloud",
        }
    }
}

#[derive(Subcommand)]
#[expect(
    clippy::large_enum_variant,
    reason = "parsed once per process from the command line"
)]
pub enum NumberCmd {
    /// Register an approved sender number for an account
    Add {
        #[arg(long)]
        account: String,
        /// The business number: digits with country code, no '+'
        number: String,
        #[arg(long, value_enum, default_value = "simulator")]
        channel: Channel,
        /// Space (CustSpaceId); default: the account's default space
        #[arg(long)]
        space: Option<String>,
        #[arg(long, default_value = "")]
        verified_name: String,
        /// Messages per second (Meta's default 80, up to 1000)
        #[arg(long, default_value_t = 80)]
        throughput: u32,
        /// whatsapp-cloud: the Graph API phone number id
        #[arg(long)]
        phone_number_id: Option<String>,
        /// whatsapp-cloud: the WhatsApp Business Account id
        #[arg(long)]
        waba_id: Option<String>,
        /// whatsapp-cloud: the access token (stored encrypted)
        #[arg(long, env = "OPENCAMS_NUMBER_ACCESS_TOKEN", hide_env_values = true)]
        access_token: Option<String>,
        /// whatsapp-cloud: the app secret for webhook signatures (stored encrypted)
        #[arg(long, env = "OPENCAMS_NUMBER_APP_SECRET", hide_env_values = true)]
        app_secret: Option<String>,
        /// whatsapp-cloud: Graph API base URL (default https://graph.facebook.com)
        #[arg(long)]
        api_base: Option<String>,
        /// whatsapp-cloud: Graph API version (default v23.0)
        #[arg(long)]
        api_version: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// List sender numbers
    List {
        #[arg(long)]
        account: Option<String>,
        #[arg(long)]
        json: bool,
    },
}

fn describe(n: &Number) -> Value {
    json!({"PhoneNumber": n.phone, "Channel": n.channel, "CustSpaceId": n.space_id, "Status": n.status,
           "VerifiedName": n.verified_name, "ThroughputMps": n.throughput_mps,
           "PhoneNumberId": n.cloud.as_ref().map(|c| &c.phone_number_id), "WabaId": n.cloud.as_ref().map(|c| &c.waba_id)})
}

pub async fn run(args: &StorageArgs, cmd: NumberCmd) -> anyhow::Result<()> {
    with_store(args, async |store| run_with(store, cmd).await).await
}

async fn run_with(store: &dyn Store, cmd: NumberCmd) -> anyhow::Result<()> {
    match cmd {
        NumberCmd::Add {
            account,
            number,
            channel,
            space,
            verified_name,
            throughput,
            phone_number_id,
            waba_id,
            access_token,
            app_secret,
            api_base,
            api_version,
            json,
        } => {
            let a = find_account(store, &account).await?;
            let phone = PhoneNumber::parse_sender("NUMBER", &number)
                .map_err(|e| anyhow::anyhow!(e.message))?;
            if !(1..=1000).contains(&throughput) {
                bail!(
                    "--throughput {throughput} is out of range: use 1 to 1000 messages per second"
                );
            }
            let space_id = match space {
                Some(s) => {
                    let owned = store.list_spaces(Some(a.id)).await?;
                    if !owned.iter().any(|o| o.id == s) {
                        bail!("--space {s:?} is not a space of account {}", a.name);
                    }
                    s
                }
                None => a.default_space.clone(),
            };
            let cloud = match channel {
                Channel::Simulator => None,
                Channel::WhatsappCloud => {
                    let (Some(pid), Some(waba), Some(token)) =
                        (phone_number_id, waba_id, access_token)
                    else {
                        bail!(
                            "--channel whatsapp-cloud needs --phone-number-id, --waba-id and --access-token"
                        );
                    };
                    if let Some(base) = &api_base
                        && !(base.starts_with("http://") || base.starts_with("https://"))
                    {
                        bail!("--api-base {base:?} must be an http(s) URL");
                    }
                    Some(CloudSettings {
                        phone_number_id: pid,
                        waba_id: waba,
                        access_token: Some(Secret::new(token)),
                        app_secret: app_secret.map(Secret::new),
                        api_base,
                        api_version,
                    })
                }
            };
            let n = store
                .add_number(
                    NewNumber {
                        account_id: a.id,
                        space_id,
                        phone: phone.to_string(),
                        channel: channel.as_str().into(),
                        verified_name,
                        throughput_mps: throughput,
                        cloud,
                    },
                    now_ms(),
                )
                .await?;
            print(json, &describe(&n), || {
                format!("number {} added to {} on {}", n.phone, a.name, n.channel)
            });
        }
        NumberCmd::List { account, json } => {
            let account_id = match &account {
                Some(name) => Some(find_account(store, name).await?.id),
                None => None,
            };
            let list = store
                .list_numbers(NumberFilter {
                    account_id,
                    ..Default::default()
                })
                .await?;
            let v = json!({"Numbers": list.iter().map(describe).collect::<Vec<_>>()});
            print(json, &v, || {
                let mut s = format!(
                    "{:<16} {:<16} {:<20} {}",
                    "NUMBER", "CHANNEL", "SPACE", "STATUS"
                );
                for n in &list {
                    s.push_str(&format!(
                        "\n{:<16} {:<16} {:<20} {}",
                        n.phone, n.channel, n.space_id, n.status
                    ));
                }
                s
            });
        }
    }
    Ok(())
}
