//! The enumerations of a send: channel, type, message type, fallback rule, recipient type.

use crate::{CamsError, Code};

/// Channels the SDK knows; only WhatsApp is delivered here.
const OTHER_CHANNELS: &[&str] = &["messenger", "instagram", "telegram", "line", "viber"];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChannelType {
    Whatsapp,
}

pub fn parse_channel_type(raw: &str) -> Result<ChannelType, CamsError> {
    let v = raw.trim().to_ascii_lowercase();
    if v == "whatsapp" {
        return Ok(ChannelType::Whatsapp);
    }
    let why = if OTHER_CHANNELS.contains(&v.as_str()) {
        format!("ChannelType {raw} is not supported by opencams; use whatsapp.")
    } else {
        format!("ChannelType {raw:?} is not a channel; use whatsapp.")
    };
    Err(CamsError::new(Code::ChannelTypeNotSupport, why))
}

pub use crate::lifecycle::SendType;

pub fn parse_send_type(raw: &str) -> Result<SendType, CamsError> {
    match raw.trim().to_ascii_lowercase().as_str() {
        "template" => Ok(SendType::Template),
        "message" => Ok(SendType::Message),
        _ => Err(CamsError::invalid(
            "Type",
            format_args!("{raw:?} is not a send type; use template or message"),
        )),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MessageType {
    Text,
    Image,
    Video,
    Audio,
    Document,
    Interactive,
    Contacts,
    Location,
    Sticker,
    Reaction,
}

impl MessageType {
    pub const ALL: [MessageType; 10] = [
        Self::Text,
        Self::Image,
        Self::Video,
        Self::Audio,
        Self::Document,
        Self::Interactive,
        Self::Contacts,
        Self::Location,
        Self::Sticker,
        Self::Reaction,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Text => "text",
            Self::Image => "image",
            Self::Video => "video",
            Self::Audio => "audio",
            Self::Document => "document",
            Self::Interactive => "interactive",
            Self::Contacts => "contacts",
            Self::Location => "location",
            Self::Sticker => "sticker",
            Self::Reaction => "reaction",
        }
    }
}

/// `MessageType`: the ten delivered types; the SDK's newer ones are known but refused.
pub fn parse_message_type(raw: Option<&str>) -> Result<MessageType, CamsError> {
    let Some(raw) = raw.map(str::trim).filter(|r| !r.is_empty()) else {
        return Err(CamsError::new(
            Code::MessageTypeNotEmpty,
            "MessageType is mandatory when Type is message: use text, image, video, audio, document, interactive, contacts, location, sticker or reaction.",
        ));
    };
    let lower = raw.to_ascii_lowercase();
    if let Some(t) = MessageType::ALL.iter().find(|t| t.as_str() == lower) {
        return Ok(*t);
    }
    let valid = MessageType::ALL
        .iter()
        .map(|t| t.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    let why = if matches!(lower.as_str(), "typing_indicator" | "pin" | "carousel") {
        format!(
            "MessageType {raw} is known to CAMS but not delivered by opencams yet; use one of {valid}."
        )
    } else {
        format!("MessageType {raw:?} is not supported; use one of {valid}.")
    };
    Err(CamsError::new(Code::MessageTypeNotSupport, why))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FallBackRule {
    Undelivered,
    SentFailed,
}

impl FallBackRule {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Undelivered => "undelivered",
            Self::SentFailed => "sentFailed",
        }
    }

    /// The rule as [`FallBackRule::as_str`] stored it; `None` for anything else.
    #[must_use]
    pub fn from_stored(text: &str) -> Option<Self> {
        [Self::Undelivered, Self::SentFailed]
            .into_iter()
            .find(|r| r.as_str() == text)
    }
}

impl serde::Serialize for FallBackRule {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

pub fn parse_fallback_rule(raw: Option<&str>) -> Result<FallBackRule, CamsError> {
    match raw.map(str::trim).unwrap_or("") {
        "" => Ok(FallBackRule::Undelivered),
        r if r.eq_ignore_ascii_case("undelivered") => Ok(FallBackRule::Undelivered),
        r if r.eq_ignore_ascii_case("sentFailed") => Ok(FallBackRule::SentFailed),
        r => Err(CamsError::invalid(
            "FallBackRule",
            format_args!("{r:?} is not a rule; use undelivered or sentFailed"),
        )),
    }
}

fn int_in(param: &str, raw: &str, min: i64, max: i64, unit: &str) -> Result<i64, CamsError> {
    match raw.trim().parse::<i64>() {
        Ok(n) if (min..=max).contains(&n) => Ok(n),
        _ => Err(CamsError::invalid(
            param,
            format_args!("{raw:?} must be an integer from {min} to {max} {unit}"),
        )),
    }
}

/// `FallBackDuration`: 60–43200 seconds.
pub fn parse_fallback_duration(raw: &str) -> Result<u32, CamsError> {
    int_in("FallBackDuration", raw, 60, 43_200, "seconds").map(|n| n as u32)
}

/// `Ttl`: 30–1209600 seconds.
pub fn parse_ttl(raw: &str) -> Result<u32, CamsError> {
    int_in("Ttl", raw, 30, 1_209_600, "seconds").map(|n| n as u32)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecipientType {
    Individual,
}

/// `RecipientType`: individual (default). Groups and BSUIDs are known but not delivered.
pub fn parse_recipient_type(raw: Option<&str>) -> Result<RecipientType, CamsError> {
    match raw.map(str::trim).unwrap_or("") {
        "" => Ok(RecipientType::Individual),
        r if r.eq_ignore_ascii_case("individual") => Ok(RecipientType::Individual),
        r if r.eq_ignore_ascii_case("group") || r.eq_ignore_ascii_case("userId") => {
            Err(CamsError::new(
                Code::NotSupported,
                format!("RecipientType {r} is not supported by opencams yet; use individual."),
            ))
        }
        r => Err(CamsError::invalid(
            "RecipientType",
            format_args!("{r:?} is not valid; use individual"),
        )),
    }
}
