//! `opencams number add|list|update|remove`: the sender numbers of accounts. A Cloud API
//! access token or app secret given to `update` is read from stdin (asked for without echo at a
//! terminal), never from the command line, where `ps` and the shell history would keep it.

use std::io::{BufRead, IsTerminal};

use anyhow::{Context, bail};
use clap::{Subcommand, ValueEnum};
use opencams_domain::PhoneNumber;
use opencams_store::{Number, NumberFilter, NumberUpdate, Secret, Store, StoreError};
use serde_json::{Value, json};

use super::{account_filter, find_account, now_ms, print, with_store};
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
pub enum NumberCmd {
    /// Register an approved sender number for an account
    Add {
        /// The account the number sends for
        #[arg(long)]
        account: String,
        /// The business number: digits with country code, no '+'
        number: String,
        /// Where its messages go: the built-in simulator or Meta's WhatsApp Cloud API
        #[arg(long, value_enum, default_value = "simulator")]
        channel: Channel,
        /// Space (CustSpaceId); default: the account's default space
        #[arg(long)]
        space: Option<String>,
        /// The business name WhatsApp shows for the number
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
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
    /// List sender numbers
    List {
        /// Only this account's
        #[arg(long)]
        account: Option<String>,
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
    /// Change a number's name, throughput or Cloud API secrets (what is not given stays)
    Update {
        /// The business number: digits with country code, no '+'
        number: String,
        /// The new business name WhatsApp shows for the number
        #[arg(long, alias = "verified-name")]
        name: Option<String>,
        /// The new messages per second (1 to 1000)
        #[arg(long)]
        throughput: Option<u32>,
        /// whatsapp-cloud: read a new access token from stdin's first line (asked for without
        /// echo at a terminal; stored encrypted)
        #[arg(long)]
        access_token_stdin: bool,
        /// whatsapp-cloud: read a new app secret from stdin's first line, or its second after
        /// the access token's with --access-token-stdin (asked for without echo at a terminal;
        /// stored encrypted)
        #[arg(long)]
        app_secret_stdin: bool,
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
    /// Remove a number (refused while messages from it wait to be sent)
    Remove {
        /// The business number: digits with country code, no '+'
        number: String,
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
}

/// The one range of a number's throughput, for `add` and `update`.
fn check_throughput(throughput: u32) -> anyhow::Result<u32> {
    opencams_api::numbers::check_throughput("--throughput", throughput).map_err(anyhow::Error::msg)
}

/// How `number add` names its fields in errors.
const FLAGS: opencams_api::numbers::Fields = opencams_api::numbers::Fields {
    phone: "NUMBER",
    channel: "--channel",
    space: "--space",
    throughput: "--throughput",
    cloud: "--phone-number-id, --waba-id and --access-token",
    api_base: "--api-base",
};

/// A sender number given on the command line.
fn parse_phone(number: &str) -> anyhow::Result<String> {
    PhoneNumber::parse_sender("NUMBER", number)
        .map(|p| p.to_string())
        .map_err(|e| anyhow::anyhow!(e.message))
}

/// One secret for `update`: asked for without echo at a terminal, else the next line of stdin.
fn read_secret(what: &str, flag: &str) -> anyhow::Result<Secret> {
    let value = if std::io::stdin().is_terminal() {
        rpassword::prompt_password(format!("New {what}: "))
            .with_context(|| format!("{flag}: cannot read the {what} from the terminal"))?
    } else {
        let mut line = String::new();
        let read = std::io::stdin()
            .lock()
            .read_line(&mut line)
            .with_context(|| format!("{flag}: cannot read the {what} from stdin"))?;
        if read == 0 {
            bail!(
                "{flag}: stdin ended before the {what}; give the access token on the first line \
                 and the app secret on the next (on the first when it is the only one)"
            );
        }
        line
    };
    // surrounding whitespace is never part of a Meta token or secret, but a pasted line has it
    let value = value.trim();
    if value.is_empty() {
        bail!("{flag}: the {what} read is empty; nothing was changed");
    }
    Ok(Secret::new(value))
}

/// The change `update` asks for; its secrets read from stdin (token first) before the store is
/// opened, so that nothing waits on input with the database open.
fn number_update(
    name: Option<String>,
    throughput: Option<u32>,
    access_token_stdin: bool,
    app_secret_stdin: bool,
) -> anyhow::Result<NumberUpdate> {
    let update = NumberUpdate {
        verified_name: name,
        throughput_mps: throughput.map(check_throughput).transpose()?,
        // in this order: the token's line comes first
        access_token: access_token_stdin
            .then(|| read_secret("access token", "--access-token-stdin"))
            .transpose()?,
        app_secret: app_secret_stdin
            .then(|| read_secret("app secret", "--app-secret-stdin"))
            .transpose()?,
    };
    if update.is_empty() {
        bail!(
            "nothing to change: give --name, --throughput, --access-token-stdin or --app-secret-stdin"
        );
    }
    Ok(update)
}

/// What `update` changed, for its human output (never the secrets themselves).
fn changed(u: &NumberUpdate) -> String {
    [
        (u.verified_name.is_some(), "name"),
        (u.throughput_mps.is_some(), "throughput"),
        (u.access_token.is_some(), "access token"),
        (u.app_secret.is_some(), "app secret"),
    ]
    .into_iter()
    .filter_map(|(given, what)| given.then_some(what))
    .collect::<Vec<_>>()
    .join(", ")
}

/// A store error about `phone`, with the way to find the registered numbers when it is not one.
fn about_number(phone: &str, e: StoreError) -> anyhow::Error {
    match e {
        StoreError::NotFound(_) => {
            anyhow::anyhow!("no number {phone} is registered (see `opencams number list`)")
        }
        StoreError::Conflict(msg) => anyhow::anyhow!(msg),
        e => e.into(),
    }
}

fn describe(n: &Number) -> Value {
    json!({"PhoneNumber": n.phone, "Channel": n.channel, "CustSpaceId": n.space_id, "Status": n.status,
           "VerifiedName": n.verified_name, "ThroughputMps": n.throughput_mps,
           "PhoneNumberId": n.cloud.as_ref().map(|c| &c.phone_number_id), "WabaId": n.cloud.as_ref().map(|c| &c.waba_id),
           // which secrets are in use, never the secrets themselves
           "AccessToken": n.cloud.as_ref().and_then(|c| c.access_token.as_ref()).map(opencams_api::numbers::fingerprint),
           "AppSecret": n.cloud.as_ref().and_then(|c| c.app_secret.as_ref()).map(opencams_api::numbers::fingerprint)})
}

pub async fn run(args: &StorageArgs, cmd: NumberCmd) -> anyhow::Result<()> {
    // `update`'s number checked and its secrets read before the database is opened
    let update = match &cmd {
        NumberCmd::Update {
            number,
            name,
            throughput,
            access_token_stdin,
            app_secret_stdin,
            ..
        } => {
            let phone = parse_phone(number)?;
            let update = number_update(
                name.clone(),
                *throughput,
                *access_token_stdin,
                *app_secret_stdin,
            )?;
            Some((phone, update))
        }
        _ => None,
    };
    with_store(args, async |store| run_with(store, cmd, update).await).await
}

/// Runs `cmd`; `update` is what [`run`] prepared for `NumberCmd::Update` (its number and change).
async fn run_with(
    store: &dyn Store,
    cmd: NumberCmd,
    update: Option<(String, NumberUpdate)>,
) -> anyhow::Result<()> {
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
            let request = opencams_api::numbers::NumberRequest {
                phone: number,
                channel: channel.as_str().into(),
                space,
                verified_name,
                throughput,
                phone_number_id,
                waba_id,
                access_token,
                app_secret,
                api_base,
                api_version,
            };
            let new = opencams_api::numbers::new_number(store, &a, request, &FLAGS)
                .await?
                .map_err(anyhow::Error::msg)?;
            let n = store.add_number(new, now_ms()).await?;
            print(json, &describe(&n), || {
                format!("number {} added to {} on {}", n.phone, a.name, n.channel)
            });
        }
        NumberCmd::List { account, json } => {
            let account_id = account_filter(store, account.as_deref()).await?;
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
        NumberCmd::Update { json, .. } => {
            let (phone, update) =
                update.context("internal error: the number update was not prepared")?;
            let what = changed(&update);
            let n = store
                .update_number(&phone, update, now_ms())
                .await
                .map_err(|e| about_number(&phone, e))?;
            print(json, &describe(&n), || {
                format!("number {} updated: {what}", n.phone)
            });
        }
        NumberCmd::Remove { number, json } => {
            let phone = parse_phone(&number)?;
            store
                .remove_number(&phone)
                .await
                .map_err(|e| about_number(&phone, e))?;
            print(
                json,
                &json!({"PhoneNumber": phone, "Removed": true}),
                || format!("number {phone} removed"),
            );
        }
    }
    Ok(())
}
