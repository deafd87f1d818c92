//! `opencams user create|list|password|disable|enable`: the web console's users. A user belongs
//! to an account and has a role (admin, operator, viewer); its password is asked for at the
//! terminal, or read from the first line of stdin with `--password-stdin`, and stored as an
//! Argon2id hash.

use std::io::{BufRead, IsTerminal};

use anyhow::Context;
use clap::{Subcommand, ValueEnum};
use opencams_api::console::password;
use opencams_store::{ConsoleUser, NewConsoleUser, Role, Store};
use serde_json::{Value, json};

use super::{account_filter, find_account, now_ms, print, with_store};
use crate::config::StorageArgs;

#[derive(Clone, Copy, ValueEnum)]
pub enum RoleArg {
    /// Everything in the account
    Admin,
    /// Templates, sends, webhooks and policies
    Operator,
    /// Read only
    Viewer,
}

impl From<RoleArg> for Role {
    fn from(r: RoleArg) -> Self {
        match r {
            RoleArg::Admin => Role::Admin,
            RoleArg::Operator => Role::Operator,
            RoleArg::Viewer => Role::Viewer,
        }
    }
}

#[derive(Subcommand)]
pub enum UserCmd {
    /// Create a console user for an account
    Create {
        /// The account the user belongs to
        #[arg(long)]
        account: String,
        /// The user's email (signs in with it; unique across accounts)
        #[arg(long)]
        email: String,
        /// What the user may do
        #[arg(long, value_enum)]
        role: RoleArg,
        /// Read the password from the first line of stdin instead of asking for it
        #[arg(long)]
        password_stdin: bool,
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
    /// List console users
    List {
        /// Only this account's
        #[arg(long)]
        account: Option<String>,
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
    /// Set a user's password (signs the user out everywhere)
    Password {
        /// The user's email
        #[arg(long)]
        email: String,
        /// Read the password from the first line of stdin instead of asking for it
        #[arg(long)]
        password_stdin: bool,
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
    /// Stop a user from signing in
    Disable {
        /// The user's email
        #[arg(long)]
        email: String,
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
    /// Let a disabled user sign in again
    Enable {
        /// The user's email
        #[arg(long)]
        email: String,
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
}

/// A new password from stdin's first line or the terminal (asked twice), checked and hashed.
fn new_password_hash(from_stdin: bool) -> anyhow::Result<String> {
    let given = if from_stdin {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .context("cannot read the password from stdin")?;
        line.trim_end_matches(['\r', '\n']).to_string()
    } else {
        if !std::io::stdin().is_terminal() {
            anyhow::bail!("no terminal to ask for the password on: give it with --password-stdin");
        }
        let first = rpassword::prompt_password("Password: ")?;
        let again = rpassword::prompt_password("Password again: ")?;
        if first != again {
            anyhow::bail!("the two passwords differ; nothing was changed");
        }
        first
    };
    password::check_new(&given).map_err(|e| anyhow::anyhow!("--password: {e}"))?;
    password::hash(&given).map_err(|e| anyhow::anyhow!("cannot hash the password: {e}"))
}

fn user_json(u: &ConsoleUser, account: &str) -> Value {
    json!({
        "Id": u.id,
        "Account": account,
        "Email": u.email,
        "Role": u.role.as_str(),
        "Enabled": u.enabled,
        "CreatedAt": opencams_protocol::time_fmt::format(u.created_at / 1000),
    })
}

async fn find_user(store: &dyn Store, email: &str) -> anyhow::Result<ConsoleUser> {
    store.user_by_email(email.trim()).await?.with_context(|| {
        format!("no console user with the email {email:?} (see `opencams user list`)")
    })
}

async fn account_name(store: &dyn Store, id: i64) -> anyhow::Result<String> {
    Ok(store
        .account_by_id(id)
        .await?
        .map(|a| a.name)
        .unwrap_or_else(|| id.to_string()))
}

/// Checks an email's shape: one `@` with something on both sides, no spaces.
fn check_email(email: &str) -> anyhow::Result<String> {
    let e = email.trim().to_lowercase();
    let ok = matches!(e.split_once('@'), Some((l, d)) if !l.is_empty() && !d.is_empty() && !d.contains('@'))
        && !e.chars().any(char::is_whitespace)
        && e.len() <= 254;
    if !ok {
        anyhow::bail!("--email {email:?} is not an email address like ops@example.com");
    }
    Ok(e)
}

pub async fn run(args: &StorageArgs, cmd: UserCmd) -> anyhow::Result<()> {
    // ask for the password before opening the database
    let hash = match &cmd {
        UserCmd::Create { password_stdin, .. } | UserCmd::Password { password_stdin, .. } => {
            Some(new_password_hash(*password_stdin)?)
        }
        _ => None,
    };
    with_store(args, async |store| {
        match cmd {
            UserCmd::Create {
                account,
                email,
                role,
                json,
                ..
            } => {
                let email = check_email(&email)?;
                let a = find_account(store, &account).await?;
                let u = store
                    .create_user(
                        NewConsoleUser {
                            account_id: a.id,
                            email,
                            role: role.into(),
                            password_hash: hash.unwrap_or_default(),
                        },
                        now_ms(),
                    )
                    .await
                    .map_err(|e| match e {
                        opencams_store::StoreError::Conflict(_) => {
                            anyhow::anyhow!("a console user with this email exists already")
                        }
                        e => e.into(),
                    })?;
                print(json, &user_json(&u, &a.name), || {
                    format!(
                        "console user {} ({}) created for {}",
                        u.email,
                        u.role.as_str(),
                        a.name
                    )
                });
            }
            UserCmd::List { account, json } => {
                let account_id = account_filter(store, account.as_deref()).await?;
                let users = store.list_users(account_id).await?;
                let accounts = store.list_accounts().await?;
                let name = |id: i64| {
                    accounts
                        .iter()
                        .find(|a| a.id == id)
                        .map_or_else(|| id.to_string(), |a| a.name.clone())
                };
                let rows: Vec<Value> = users
                    .iter()
                    .map(|u| user_json(u, &name(u.account_id)))
                    .collect();
                print(json, &json!({ "Users": rows }), || {
                    rows.iter()
                        .map(|r| {
                            format!(
                                "{} {} {}{}",
                                r["Email"].as_str().unwrap_or(""),
                                r["Account"].as_str().unwrap_or(""),
                                r["Role"].as_str().unwrap_or(""),
                                if r["Enabled"] == true {
                                    ""
                                } else {
                                    " (disabled)"
                                }
                            )
                        })
                        .collect::<Vec<_>>()
                        .join("\n")
                });
            }
            UserCmd::Password { email, json, .. } => {
                let u = find_user(store, &email).await?;
                let u = store
                    .set_user_password(u.id, &hash.unwrap_or_default())
                    .await?;
                let name = account_name(store, u.account_id).await?;
                print(json, &user_json(&u, &name), || {
                    format!("password of {} changed; its sessions ended", u.email)
                });
            }
            UserCmd::Disable { email, json } => set_enabled(store, &email, false, json).await?,
            UserCmd::Enable { email, json } => set_enabled(store, &email, true, json).await?,
        }
        Ok(())
    })
    .await
}

async fn set_enabled(
    store: &dyn Store,
    email: &str,
    enabled: bool,
    json: bool,
) -> anyhow::Result<()> {
    let u = find_user(store, email).await?;
    let u = store.set_user_enabled(u.id, enabled).await?;
    let name = account_name(store, u.account_id).await?;
    print(json, &user_json(&u, &name), || {
        format!(
            "console user {} {}",
            u.email,
            if enabled { "enabled" } else { "disabled" }
        )
    });
    Ok(())
}
