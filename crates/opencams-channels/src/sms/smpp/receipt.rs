//! Delivery receipts: a deliver_sm whose esm_class says "SMSC delivery receipt", carrying the
//! de-facto standard text (`id:… sub:… dlvrd:… submit date:… done date:… stat:… err:… text:…`,
//! SMPP 3.4 appendix B) and, from SMSCs that support them, the receipted_message_id and
//! message_state TLVs, which win over the text because they are not free-form.

use super::pdu::{ShortMessage, TLV_MESSAGE_STATE, TLV_RECEIPTED_MESSAGE_ID};
use crate::sms::DeliveryReport;
use crate::sms::encoding;

/// esm_class message-type bits (2-5) of an SMSC delivery receipt.
const ESM_RECEIPT: u8 = 0x04;
const ESM_TYPE_MASK: u8 = 0x3C;

/// What a deliver_sm turned out to be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Inbound {
    /// A receipt in a final state.
    Final(DeliveryReport),
    /// A receipt in an intermediate state (ENROUTE, ACCEPTD): the final one follows.
    Intermediate { id: String, stat: String },
    /// Not a receipt (a mobile-originated SMS, which this channel does not handle).
    NotReceipt,
    /// A receipt without a message id: nothing to match it to.
    Unmatched(String),
}

pub fn classify(sm: &ShortMessage) -> Inbound {
    if sm.esm_class & ESM_TYPE_MASK != ESM_RECEIPT {
        return Inbound::NotReceipt;
    }
    // Receipt texts are ASCII in practice, also under data_coding 0; reading them as Latin-1
    // keeps characters such as '_' that GSM 03.38 would map elsewhere.
    let text = match sm.data_coding {
        encoding::DATA_CODING_UCS2 => encoding::decode(sm.data_coding, sm.payload(), false),
        _ => encoding::decode(0x03, sm.payload(), false),
    };
    let id = sm
        .tlv(TLV_RECEIPTED_MESSAGE_ID)
        .map(|v| {
            String::from_utf8_lossy(v)
                .trim_end_matches('\0')
                .to_string()
        })
        .filter(|s| !s.is_empty())
        .or_else(|| field(&text, "id").map(str::to_string));
    let Some(id) = id else {
        return Inbound::Unmatched(text);
    };
    let stat = sm
        .tlv(TLV_MESSAGE_STATE)
        .and_then(|v| v.first())
        .and_then(|s| state_name(*s))
        .map(str::to_string)
        .or_else(|| field(&text, "stat").map(str::to_ascii_uppercase))
        .unwrap_or_else(|| "UNKNOWN".to_string());
    if matches!(stat.as_str(), "ENROUTE" | "ACCEPTD") {
        return Inbound::Intermediate { id, stat };
    }
    Inbound::Final(DeliveryReport {
        id,
        delivered: stat == "DELIVRD",
        stat,
        err: field(&text, "err").unwrap_or_default().to_string(),
    })
}

/// The receipt text's name for a message_state TLV value (SMPP 3.4 §5.2.28).
fn state_name(state: u8) -> Option<&'static str> {
    Some(match state {
        1 => "ENROUTE",
        2 => "DELIVRD",
        3 => "EXPIRED",
        4 => "DELETED",
        5 => "UNDELIV",
        6 => "ACCEPTD",
        7 => "UNKNOWN",
        8 => "REJECTD",
        _ => return None,
    })
}

/// The value after `key:` in a receipt text, up to the next space. Keys match case-insensitively
/// and only at the start or after a space, so `id:` is not found inside `xid:`.
pub fn field<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    let needle = format!("{}:", key.to_ascii_lowercase());
    let lower = text.to_ascii_lowercase();
    let mut from = 0;
    while let Some(found) = lower.get(from..)?.find(&needle) {
        let at = from + found;
        if at == 0 || lower.as_bytes().get(at - 1) == Some(&b' ') {
            let rest = text.get(at + needle.len()..)?;
            return Some(rest.split(' ').next().unwrap_or(""));
        }
        from = at + needle.len();
    }
    None
}
