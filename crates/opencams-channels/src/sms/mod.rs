//! The SMS channel, used when WhatsApp does not deliver: one `SmsSender` contract with two
//! connectors — an SMPP 3.4 ESME client (`smpp`) for operators' SMSCs and a plain JSON-over-HTTP
//! connector (`http`) for REST aggregators — plus the GSM 03.38 / UCS-2 text encoding and
//! concatenation they share (`encoding`) and a small in-process SMSC for tests (`testing`, built
//! only for this crate's tests and with the `testing` feature).
//! Like every channel it never touches the database, and its errors say whether a retry helps:
//! only the dispatcher retries.

use std::fmt;

pub mod encoding;
pub mod http;
pub mod smpp;
#[cfg(any(test, feature = "testing"))]
pub mod testing;

#[cfg(test)]
mod tests;

/// An SMS to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sms {
    /// Sender id: alphanumeric of at most 11 characters, or digits (an optional `+` is dropped).
    pub from: String,
    /// Destination: digits in international form, no `+`.
    pub to: String,
    pub text: String,
    /// Our id for the message, carried into logs.
    pub reference: String,
}

/// The SMSC's or aggregator's id(s) for a submitted SMS: one per part when it was split.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmsSubmitted {
    pub ids: Vec<String>,
    pub parts: usize,
}

/// A delivery report: an SMSC message id and its final state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryReport {
    pub id: String,
    pub delivered: bool,
    /// The receipt's `stat`: DELIVRD, UNDELIV, EXPIRED, REJECTD, DELETED, UNKNOWN.
    pub stat: String,
    /// The receipt's `err` (network specific), empty when absent.
    pub err: String,
}

/// Why an SMS could not be submitted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {description}")]
pub struct SmsError {
    /// The SMPP command_status in hex (`0x00000058`), `http_<status>`, or one of ours:
    /// `not_bound`, `connection_lost`, `timeout`, `network`, `invalid_address`, `too_long`.
    pub code: String,
    pub description: String,
    /// Trying again later may succeed.
    pub retryable: bool,
}

impl SmsError {
    pub(crate) fn retryable(code: &str, description: impl fmt::Display) -> Self {
        Self {
            code: code.to_string(),
            description: description.to_string(),
            retryable: true,
        }
    }

    pub(crate) fn permanent(code: &str, description: impl fmt::Display) -> Self {
        Self {
            code: code.to_string(),
            description: description.to_string(),
            retryable: false,
        }
    }
}

#[async_trait::async_trait]
pub trait SmsSender: Send + Sync {
    /// Submits one SMS (split into parts when long); the ids come back for matching reports.
    async fn send(&self, sms: &Sms) -> Result<SmsSubmitted, SmsError>;
}

/// A sender id is alphanumeric (SMPP TON 5) when it holds anything but digits.
pub(crate) fn is_alphanumeric_sender(from: &str) -> bool {
    !from.bytes().all(|b| b.is_ascii_digit())
}

/// Checks the addresses before anything goes on the wire, so a bad one fails permanently here
/// instead of coming back later as an opaque SMSC status. Returns them without a leading `+`.
pub(crate) fn check_addresses(sms: &Sms) -> Result<(&str, &str), SmsError> {
    let from = sms.from.strip_prefix('+').unwrap_or(&sms.from);
    let to = sms.to.strip_prefix('+').unwrap_or(&sms.to);
    let from_ok = if is_alphanumeric_sender(from) {
        // GSM 03.40 carries at most 11 alphanumeric characters in the originating address.
        (1..=11).contains(&from.len()) && from.bytes().all(|b| b.is_ascii_graphic() || b == b' ')
    } else {
        (1..=20).contains(&from.len())
    };
    if !from_ok {
        return Err(SmsError::permanent(
            "invalid_address",
            format!(
                "sender id {:?} is neither 1-11 alphanumeric characters nor 1-20 digits",
                sms.from
            ),
        ));
    }
    if !(1..=20).contains(&to.len()) || !to.bytes().all(|b| b.is_ascii_digit()) {
        return Err(SmsError::permanent(
            "invalid_address",
            format!("destination {:?} is not 1-20 digits", sms.to),
        ));
    }
    Ok((from, to))
}
