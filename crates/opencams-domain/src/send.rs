//! The send rules of SendChatappMessage and SendChatappMassMessage (cams-api.md §3.1.1), as pure
//! functions of the validated parameters and of what the store knows (the sender number, the
//! template, the user's last message): the 24-hour window, whether a number may send, whether a
//! template version is sendable, the `Label`, the `FallBackRule=sentFailed` rule, and the
//! [`NewOutbound`] message a send becomes. The API parses, reads and stores; it decides nothing.

use opencams_protocol::{CamsError, Code};

use crate::lifecycle::{MessageStatus, SendType};
use crate::message::FallBackRule;
use crate::template::AuditStatus;

/// The customer-service window: free-form messages go out only this long after the user last
/// wrote.
pub const WINDOW_MS: i64 = 24 * 3600 * 1000;

/// How an account treats a free-form message outside the window (`session.window`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WindowPolicy {
    /// Refuse the call with `SessionExpired` (opencams's default: the caller learns at once).
    #[default]
    Refuse,
    /// CAMS's own behaviour: accept, and let WhatsApp fail the message with 131047.
    AcceptAndFail,
}

impl WindowPolicy {
    /// The policy named by the account setting `session.window` (`cams`, else the default).
    pub fn from_setting(value: Option<&str>) -> Self {
        match value {
            Some("cams") => Self::AcceptAndFail,
            _ => Self::default(),
        }
    }
}

/// Type=message to `to` from `from`: allowed within [`WINDOW_MS`] of the user's last message
/// (`last_inbound`, epoch ms), or always under [`WindowPolicy::AcceptAndFail`].
pub fn check_window(
    from: &str,
    last_inbound: Option<i64>,
    now: i64,
    policy: WindowPolicy,
) -> Result<(), CamsError> {
    if last_inbound.is_some_and(|t| now - t < WINDOW_MS) || policy == WindowPolicy::AcceptAndFail {
        return Ok(());
    }
    let since = match last_inbound {
        Some(t) => format!("the user last wrote {} minutes ago", (now - t) / 60_000),
        None => "the user has never written to this number".to_string(),
    };
    Err(CamsError::new(
        Code::SessionExpired,
        format!(
            "Type=message can only be sent within 24 hours of the user's last message to {from}, and {since}; send an approved template instead."
        ),
    ))
}

/// What the send rules need to know of a registered number.
#[derive(Debug, Clone, Copy)]
pub struct SenderFacts<'a> {
    pub account_id: i64,
    pub space_id: &'a str,
    /// Meta's phone number status (`CONNECTED`, `PENDING`, …).
    pub status: &'a str,
}

/// `From`: a number of the calling account's space, and connected. `number` is the registered
/// number with that phone, if any.
pub fn check_sender(
    phone: &str,
    account_id: i64,
    space_id: &str,
    number: Option<SenderFacts<'_>>,
) -> Result<(), CamsError> {
    match number {
        Some(n) if n.account_id == account_id && n.space_id == space_id => {
            if n.status != "CONNECTED" {
                return Err(CamsError::new(
                    Code::PhoneNumberError,
                    format!("From {phone} cannot send: its status is {}.", n.status),
                ));
            }
            Ok(())
        }
        _ => Err(CamsError::new(
            Code::PhoneNumberError,
            format!(
                "From {phone} is not a sender number of space {space_id}; see QueryChatappPhoneNumbers."
            ),
        )),
    }
}

/// How a send names its template: `TemplateCode`, else `TemplateName`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TemplateKey<'a> {
    Code(&'a str),
    Name(&'a str),
}

impl<'a> TemplateKey<'a> {
    /// The key from the two parameters; one of them is mandatory for a template send.
    pub fn from_params(code: Option<&'a str>, name: Option<&'a str>) -> Result<Self, CamsError> {
        match (code, name) {
            (Some(c), _) => Ok(Self::Code(c)),
            (None, Some(n)) => Ok(Self::Name(n)),
            (None, None) => Err(CamsError::new(
                Code::TemplateCodeNotEmpty,
                "TemplateCode (or TemplateName) is mandatory when Type is template.",
            )),
        }
    }

    pub fn as_str(self) -> &'a str {
        match self {
            Self::Code(s) | Self::Name(s) => s,
        }
    }
}

/// Picks the version of a template in `language` among its live `languages` (the index into
/// them), or says which languages exist.
pub fn select_language(
    key: TemplateKey<'_>,
    space_id: &str,
    languages: &[&str],
    language: &str,
) -> Result<usize, CamsError> {
    if let Some(i) = languages.iter().position(|l| *l == language) {
        return Ok(i);
    }
    let key = key.as_str();
    let why = if languages.is_empty() {
        format!("The template {key:?} does not exist in space {space_id}.")
    } else {
        format!(
            "The template {key:?} has no {language:?} version; it exists in: {}.",
            languages.join(", ")
        )
    };
    Err(CamsError::new(Code::DetailTemplateNotExist, why))
}

/// Only approved (`pass`) template versions can be sent.
pub fn check_sendable(code: &str, language: &str, status: AuditStatus) -> Result<(), CamsError> {
    if status == AuditStatus::Pass {
        return Ok(());
    }
    Err(CamsError::invalid(
        "TemplateCode",
        format_args!(
            "the template {code} ({language}) cannot be sent: its status is {status}, only approved (pass) templates can"
        ),
    ))
}

/// `Label`: `promotion` or `transaction` (and CAMS's own misspelling `pormotion`).
pub fn parse_label(raw: Option<&str>) -> Result<Option<String>, CamsError> {
    match raw {
        None => Ok(None),
        Some(l) if ["promotion", "transaction", "pormotion"].contains(&l) => {
            Ok(Some(l.to_string()))
        }
        Some(l) => Err(CamsError::invalid(
            "Label",
            format_args!("{l:?} is not a label; use promotion or transaction"),
        )),
    }
}

/// A send's SMS fallback, as its parameters name it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fallback {
    /// The policy (`FallBackId`), checked to exist.
    pub id: String,
    pub content: Option<String>,
    /// `FallBackDuration`, seconds.
    pub duration: Option<u32>,
    pub rule: FallBackRule,
}

/// The fallback of a send: `FallBackId` (whose policy exists: `policy_exists`) with its
/// duration, content and rule; the other three without a `FallBackId` are an error.
pub fn fallback(
    id: Option<&str>,
    policy_exists: bool,
    content: Option<String>,
    duration: Option<u32>,
    rule: FallBackRule,
    rule_given: bool,
) -> Result<Option<Fallback>, CamsError> {
    let Some(id) = id else {
        if duration.is_some() || content.is_some() || rule_given {
            return Err(CamsError::missing("FallBackId"));
        }
        return Ok(None);
    };
    if !policy_exists {
        return Err(CamsError::invalid(
            "FallBackId",
            format_args!(
                "{id:?} is not a fallback policy of this account (see `opencams policy list`)"
            ),
        ));
    }
    Ok(Some(Fallback {
        id: id.to_string(),
        content,
        duration,
        rule,
    }))
}

/// What every recipient of one send shares: its account, space and sender, fallback and
/// tracking fields.
#[derive(Debug, Clone, Default)]
pub struct SendEnvelope {
    pub account_id: i64,
    pub space_id: String,
    pub sender: String,
    pub fallback: Option<Fallback>,
    pub task_id: Option<String>,
    pub tag: Option<String>,
    pub tracking_data: Option<String>,
    pub label: Option<String>,
    /// `Ttl`, seconds.
    pub ttl: Option<i64>,
}

impl SendEnvelope {
    /// The `FallBackRule=sentFailed` rule: with it (and a policy), a type-specific failure does
    /// not reject the call; the message is recorded as failed and falls back (`Ok(err)`).
    /// Otherwise the call is refused (`Err(err)`).
    pub fn keep_as_failed(&self, err: CamsError) -> Result<CamsError, CamsError> {
        match &self.fallback {
            Some(f) if f.rule == FallBackRule::SentFailed => Ok(err),
            _ => Err(err),
        }
    }
}

/// One recipient of a send, after the type-specific checks.
#[derive(Debug, Clone, Default)]
pub struct Outbound<'a> {
    /// The new MessageId.
    pub id: String,
    pub to: &'a str,
    pub send_type: SendType,
    /// `template`, or the free-form `MessageType`.
    pub message_type: &'a str,
    /// The template's code and name when it was found; else what the call named.
    pub template_code: Option<&'a str>,
    pub template_name: Option<&'a str>,
    pub language: Option<&'a str>,
    /// The stored body (content, or template params and actions), JSON.
    pub body: String,
    pub group_id: Option<&'a str>,
    pub context_id: Option<&'a str>,
    /// The verification error of a message kept as failed under `sentFailed`.
    pub failed: Option<&'a CamsError>,
    pub now: i64,
}

/// An accepted outbound message, ready to be stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewOutbound {
    pub id: String,
    pub account_id: i64,
    pub space_id: String,
    pub sender: String,
    pub recipient: String,
    pub send_type: SendType,
    pub message_type: String,
    pub template_code: Option<String>,
    pub template_name: Option<String>,
    pub language: Option<String>,
    pub body: String,
    pub task_id: Option<String>,
    pub tag: Option<String>,
    pub tracking_data: Option<String>,
    pub label: Option<String>,
    pub ttl_secs: Option<i64>,
    pub fallback: Option<Fallback>,
    pub group_id: Option<String>,
    pub context_id: Option<String>,
    /// `Accepted`, or `Failed` when kept as failed under `sentFailed`.
    pub status: MessageStatus,
    /// `(code, description)` of a message kept as failed.
    pub error: Option<(String, String)>,
    pub created_at: i64,
}

/// The message one recipient of a send becomes.
pub fn new_outbound(env: &SendEnvelope, o: Outbound<'_>) -> NewOutbound {
    NewOutbound {
        id: o.id,
        account_id: env.account_id,
        space_id: env.space_id.clone(),
        sender: env.sender.clone(),
        recipient: o.to.to_string(),
        send_type: o.send_type,
        message_type: o.message_type.to_string(),
        template_code: o.template_code.map(String::from),
        template_name: o.template_name.map(String::from),
        language: o.language.map(String::from),
        body: o.body,
        task_id: env.task_id.clone(),
        tag: env.tag.clone(),
        tracking_data: env.tracking_data.clone(),
        label: env.label.clone(),
        ttl_secs: env.ttl,
        fallback: env.fallback.clone(),
        group_id: o.group_id.map(String::from),
        context_id: o.context_id.map(String::from),
        status: if o.failed.is_some() {
            MessageStatus::Failed
        } else {
            MessageStatus::Accepted
        },
        error: o
            .failed
            .map(|e| (e.code.as_str().to_string(), e.message.clone())),
        created_at: o.now,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = WINDOW_MS;

    #[test]
    fn the_window_is_open_for_a_day_after_the_user_wrote() {
        let from = "8613600000000";
        assert!(check_window(from, Some(1_000), 1_000 + DAY - 1, WindowPolicy::Refuse).is_ok());
        let e = check_window(from, Some(1_000), 1_000 + DAY, WindowPolicy::Refuse).unwrap_err();
        assert_eq!(e.code, Code::SessionExpired);
        assert!(e.message.contains("1440 minutes ago"), "{}", e.message);
        let e = check_window(from, None, 5, WindowPolicy::Refuse).unwrap_err();
        assert!(e.message.contains("never written"), "{}", e.message);
        assert!(check_window(from, None, 5, WindowPolicy::AcceptAndFail).is_ok());
        assert_eq!(
            WindowPolicy::from_setting(Some("cams")),
            WindowPolicy::AcceptAndFail
        );
        assert_eq!(WindowPolicy::from_setting(Some("x")), WindowPolicy::Refuse);
    }

    #[test]
    fn a_sender_must_be_the_spaces_and_connected() {
        let n = |status| SenderFacts {
            account_id: 1,
            space_id: "s1",
            status,
        };
        assert!(check_sender("86", 1, "s1", Some(n("CONNECTED"))).is_ok());
        let e = check_sender("86", 1, "s1", Some(n("PENDING"))).unwrap_err();
        assert_eq!(e.code, Code::PhoneNumberError);
        assert!(e.message.contains("PENDING"));
        for (account, space, number) in [
            (2, "s1", Some(n("CONNECTED"))),
            (1, "s2", Some(n("CONNECTED"))),
            (1, "s1", None),
        ] {
            let e = check_sender("86", account, space, number).unwrap_err();
            assert!(e.message.contains("not a sender number"), "{}", e.message);
        }
    }

    #[test]
    fn templates_are_found_by_language_and_sent_only_when_approved() {
        let key = TemplateKey::from_params(Some("C1"), Some("n")).unwrap();
        assert_eq!(key, TemplateKey::Code("C1"));
        assert_eq!(
            TemplateKey::from_params(None, None).unwrap_err().code,
            Code::TemplateCodeNotEmpty
        );
        assert_eq!(select_language(key, "s", &["en", "fr"], "fr").unwrap(), 1);
        let e = select_language(key, "s", &["en"], "fr").unwrap_err();
        assert!(e.message.contains("it exists in: en"), "{}", e.message);
        let e = select_language(key, "s", &[], "fr").unwrap_err();
        assert!(
            e.message.contains("does not exist in space s"),
            "{}",
            e.message
        );
        assert!(check_sendable("C1", "en", AuditStatus::Pass).is_ok());
        let e = check_sendable("C1", "en", AuditStatus::Auditing).unwrap_err();
        assert!(
            e.message.contains("its status is auditing"),
            "{}",
            e.message
        );
    }

    #[test]
    fn labels_fallbacks_and_the_sent_failed_rule() {
        assert_eq!(
            parse_label(Some("promotion")).unwrap().as_deref(),
            Some("promotion")
        );
        assert!(
            parse_label(Some("spam"))
                .unwrap_err()
                .message
                .contains("Label")
        );
        assert_eq!(
            fallback(None, false, None, None, FallBackRule::Undelivered, false).unwrap(),
            None
        );
        assert!(
            fallback(
                None,
                false,
                None,
                Some(60),
                FallBackRule::Undelivered,
                false
            )
            .is_err()
        );
        assert!(fallback(None, false, None, None, FallBackRule::SentFailed, true).is_err());
        assert!(
            fallback(
                Some("S_1"),
                false,
                None,
                None,
                FallBackRule::Undelivered,
                false
            )
            .is_err()
        );
        let f = fallback(
            Some("S_1"),
            true,
            None,
            Some(60),
            FallBackRule::SentFailed,
            true,
        )
        .unwrap()
        .unwrap();
        let env = SendEnvelope {
            fallback: Some(f),
            ..Default::default()
        };
        let err = CamsError::invalid("Content", "bad");
        assert!(env.keep_as_failed(err.clone()).is_ok());
        let plain = SendEnvelope::default();
        assert!(plain.keep_as_failed(err).is_err());
    }

    #[test]
    fn a_kept_failure_becomes_a_failed_message_with_its_error() {
        let env = SendEnvelope {
            account_id: 3,
            space_id: "s".into(),
            sender: "86".into(),
            ttl: Some(60),
            ..Default::default()
        };
        let err = CamsError::invalid("TemplateParams", "x");
        let m = new_outbound(
            &env,
            Outbound {
                id: "m1".into(),
                to: "44",
                send_type: SendType::Template,
                message_type: "template",
                failed: Some(&err),
                now: 9,
                ..Default::default()
            },
        );
        assert_eq!(m.status, MessageStatus::Failed);
        assert_eq!(
            m.error.as_ref().map(|e| e.1.as_str()),
            Some(err.message.as_str())
        );
        assert_eq!((m.account_id, m.ttl_secs, m.created_at), (3, Some(60), 9));
        let ok = new_outbound(
            &env,
            Outbound {
                id: "m2".into(),
                to: "44",
                ..Default::default()
            },
        );
        assert_eq!((ok.status, ok.error), (MessageStatus::Accepted, None));
    }
}
