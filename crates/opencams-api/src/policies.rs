//! The rules a fallback policy follows, for every way of creating one (`opencams policy
//! create`, the console): a sender id of up to 11 letters, digits and spaces or a number of up to
//! 15 digits, and one SMS connection — SMPP (`host:port`, a system_id, a password) or an HTTP
//! connector (an http(s) URL, an optional bearer token) — kept as the JSON the fallback worker
//! opens (`opencams-dispatch`'s `fallback::connect`); and what of a stored one may be shown
//! (its kind and address, never its password or token).

use opencams_store::{Account, NewPolicy, Policy, Secret};
use serde_json::{Value, json};

/// The name a policy gets when none is given.
pub const DEFAULT_NAME: &str = "sms fallback";

/// The SMS connection of a new policy, as given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Connection {
    /// An SMSC spoken to over SMPP: `host:port`, the system_id and password it gave.
    Smpp {
        address: String,
        system_id: Option<String>,
        password: Option<String>,
    },
    /// An HTTP SMS connector: a POST per message to `url`, with `token` as a bearer token.
    Http { url: String, token: Option<String> },
}

/// Why a new policy is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PolicyError {
    SenderId(String),
    /// An SMPP address without a `:`.
    SmppNoPort(String),
    /// An SMPP address with no host or a port that is not 0–65535.
    SmppAddress(String),
    NoSystemId,
    HttpUrl(String),
    NoConnection,
}

/// Who is told: the CLI names its flags, the console its form's fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Asker {
    Cli,
    Console,
}

impl PolicyError {
    /// The sentence for a user: the field as `asker` calls it, what was wrong and what would be
    /// valid.
    pub fn describe(&self, asker: Asker) -> String {
        let cli = asker == Asker::Cli;
        let (sender_id, smpp, system_id, http_url) = if cli {
            ("--sender-id", "--smpp", "--system-id", "--http-url")
        } else {
            ("Sender id", "SMPP address", "System id", "Connector URL")
        };
        const SENDER_IDS: &str = "use up to 11 letters/digits, or a number of up to 15 digits";
        const HOST_PORT: &str = "host:port, like smsc.example.com:2775";
        match self {
            Self::SenderId(s) => format!("{sender_id} {s:?} is not valid: {SENDER_IDS}"),
            Self::SmppNoPort(_) if cli => format!("{smpp} must be host:port"),
            Self::SmppAddress(a) if cli => format!("{smpp} {a:?} must be host:port"),
            Self::SmppNoPort(a) | Self::SmppAddress(a) => {
                format!("{smpp} {a:?} is not valid: it must be {HOST_PORT}")
            }
            Self::NoSystemId if cli => format!("{smpp} needs {system_id}"),
            Self::NoSystemId => {
                format!("{system_id} is empty: an SMPP connection needs the system_id the SMSC gave you")
            }
            Self::HttpUrl(u) if cli => format!("{http_url} {u:?} must be an http(s) URL"),
            Self::HttpUrl(u) => format!(
                "{http_url} {u:?} is not valid: it must be an http:// or https:// URL, like https://sms.example.com/send"
            ),
            Self::NoConnection if cli => "a policy needs an SMS connection: --smpp host:port (with --system-id) or --http-url URL".into(),
            Self::NoConnection => {
                "Connection: choose SMPP (an SMSC's host:port and system id) or HTTP (a connector URL)".into()
            }
        }
    }
}

/// Whether `s` may be an SMS sender id: up to 11 ASCII letters, digits and spaces, or a number
/// of up to 15 digits.
pub fn check_sender_id(s: &str) -> Result<(), PolicyError> {
    let numeric = s.bytes().all(|b| b.is_ascii_digit()) && (1..=15).contains(&s.len());
    let alpha =
        s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b' ') && (1..=11).contains(&s.len());
    if numeric || alpha {
        Ok(())
    } else {
        Err(PolicyError::SenderId(s.to_string()))
    }
}

/// The connection as the JSON the fallback worker opens, checked.
fn connection_json(connection: Option<Connection>) -> Result<Value, PolicyError> {
    match connection {
        Some(Connection::Smpp {
            address,
            system_id,
            password,
        }) => {
            let Some((host, port)) = address.rsplit_once(':') else {
                return Err(PolicyError::SmppNoPort(address));
            };
            if host.is_empty() || port.parse::<u16>().is_err() {
                return Err(PolicyError::SmppAddress(address));
            }
            let system_id = system_id.ok_or(PolicyError::NoSystemId)?;
            Ok(
                json!({"kind": "smpp", "address": address, "system_id": system_id, "password": password.unwrap_or_default()}),
            )
        }
        Some(Connection::Http { url, token }) => {
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return Err(PolicyError::HttpUrl(url));
            }
            Ok(json!({"kind": "http", "url": url, "token": token}))
        }
        None => Err(PolicyError::NoConnection),
    }
}

/// A policy of `account` named `name` that sends from `sender_id` over `connection`, checked
/// (the sender id first, then the connection); its connection sealed when stored.
pub fn new_policy(
    account: &Account,
    name: String,
    sender_id: String,
    connection: Option<Connection>,
) -> Result<NewPolicy, PolicyError> {
    check_sender_id(&sender_id)?;
    let connection = connection_json(connection)?;
    Ok(NewPolicy {
        account_id: account.id,
        name,
        channel: "sms".into(),
        sender_id,
        connection: Secret::new(connection.to_string()),
    })
}

/// What may be shown of a stored policy's connection: its kind (`smpp`, `http`) and where it
/// goes (the SMPP address or the connector URL); never the password or the token. Either is
/// `None` when the stored connection does not say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shown {
    pub kind: Option<String>,
    pub target: Option<String>,
}

/// [`Shown`] of `p`.
pub fn shown(p: &Policy) -> Shown {
    let conn: Value = serde_json::from_str(p.connection.expose()).unwrap_or(Value::Null);
    let text = |v: Option<&Value>| v.and_then(Value::as_str).map(String::from);
    Shown {
        kind: text(conn.get("kind")),
        target: text(conn.get("address").or_else(|| conn.get("url"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn account() -> Account {
        Account {
            id: 7,
            name: "acme".into(),
            status: opencams_store::AccountStatus::Active,
            default_space: "cams-x".into(),
            created_at: 0,
        }
    }

    fn smpp(address: &str, system_id: Option<&str>) -> Option<Connection> {
        Some(Connection::Smpp {
            address: address.into(),
            system_id: system_id.map(String::from),
            password: Some("pw".into()),
        })
    }

    #[test]
    fn sender_ids_are_short_alphanumerics_or_numbers() {
        for ok in ["ACME", "Acme Co 123", "12345678901", "123456789012345"] {
            assert_eq!(check_sender_id(ok), Ok(()), "{ok}");
        }
        for bad in ["", "Acme Company", "1234567890123456", "ACME!", "Ünï"] {
            assert_eq!(
                check_sender_id(bad),
                Err(PolicyError::SenderId(bad.into())),
                "{bad}"
            );
        }
    }

    #[test]
    fn connections_are_checked_and_kept_as_the_worker_reads_them() {
        let p = new_policy(
            &account(),
            "n".into(),
            "ACME".into(),
            smpp("smsc:2775", Some("sys")),
        )
        .unwrap();
        let conn: Value = serde_json::from_str(p.connection.expose()).unwrap();
        assert_eq!(
            conn,
            json!({"kind": "smpp", "address": "smsc:2775", "system_id": "sys", "password": "pw"})
        );
        assert_eq!((p.account_id, p.channel.as_str()), (7, "sms"));
        let http = Connection::Http {
            url: "https://sms.example.com/send".into(),
            token: None,
        };
        let p = new_policy(&account(), "n".into(), "ACME".into(), Some(http)).unwrap();
        let conn: Value = serde_json::from_str(p.connection.expose()).unwrap();
        assert_eq!(
            conn,
            json!({"kind": "http", "url": "https://sms.example.com/send", "token": null})
        );

        let refused = |c: Option<Connection>| {
            new_policy(&account(), "n".into(), "ACME".into(), c).unwrap_err()
        };
        assert_eq!(
            refused(smpp("smsc", Some("s"))),
            PolicyError::SmppNoPort("smsc".into())
        );
        for bad in [":2775", "smsc:port", "smsc:70000", "smsc:"] {
            assert_eq!(
                refused(smpp(bad, Some("s"))),
                PolicyError::SmppAddress(bad.into())
            );
        }
        assert_eq!(refused(smpp("smsc:2775", None)), PolicyError::NoSystemId);
        let ftp = Connection::Http {
            url: "ftp://x".into(),
            token: None,
        };
        assert_eq!(refused(Some(ftp)), PolicyError::HttpUrl("ftp://x".into()));
        assert_eq!(refused(None), PolicyError::NoConnection);
        // the sender id is checked first
        assert_eq!(
            new_policy(&account(), "n".into(), "".into(), None).unwrap_err(),
            PolicyError::SenderId("".into())
        );
    }

    #[test]
    fn the_cli_reads_its_flags_and_the_console_its_fields() {
        let e = PolicyError::SmppNoPort("smsc".into());
        assert_eq!(e.describe(Asker::Cli), "--smpp must be host:port");
        assert_eq!(
            e.describe(Asker::Console),
            r#"SMPP address "smsc" is not valid: it must be host:port, like smsc.example.com:2775"#
        );
        assert_eq!(
            PolicyError::SenderId("x!".into()).describe(Asker::Cli),
            r#"--sender-id "x!" is not valid: use up to 11 letters/digits, or a number of up to 15 digits"#
        );
        assert_eq!(
            PolicyError::NoSystemId.describe(Asker::Cli),
            "--smpp needs --system-id"
        );
    }

    #[test]
    fn only_the_kind_and_address_are_shown() {
        let p = new_policy(
            &account(),
            "n".into(),
            "ACME".into(),
            smpp("smsc:2775", Some("sys")),
        )
        .unwrap();
        let policy = Policy {
            id: "S_000001".into(),
            account_id: 7,
            name: p.name,
            channel: p.channel,
            sender_id: p.sender_id,
            connection: p.connection,
            created_at: 0,
        };
        assert_eq!(
            shown(&policy),
            Shown {
                kind: Some("smpp".into()),
                target: Some("smsc:2775".into())
            }
        );
        let broken = Policy {
            connection: Secret::new("not json"),
            ..policy
        };
        assert_eq!(
            shown(&broken),
            Shown {
                kind: None,
                target: None
            }
        );
    }
}
