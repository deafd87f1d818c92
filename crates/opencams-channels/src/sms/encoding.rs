//! SMS text encoding: the GSM 03.38 default alphabet (with its escape table) when every character
//! fits, else UCS-2 (UTF-16BE, so emoji travel as surrogate pairs); long texts split into parts
//! with a 6-byte concatenation UDH. GSM goes out unpacked — one septet per octet — because that
//! is how SMPP carries data_coding 0 and the SMSC packs it for the air interface.

use std::sync::atomic::{AtomicU8, Ordering};

/// SMPP data_coding for the SMSC default alphabet (GSM 03.38).
pub const DATA_CODING_DEFAULT: u8 = 0x00;
/// SMPP data_coding for UCS-2.
pub const DATA_CODING_UCS2: u8 = 0x08;
/// esm_class bit saying that short_message starts with a user data header.
pub const ESM_CLASS_UDHI: u8 = 0x40;

/// Octets available in one SMS (140) as SMPP counts them: GSM septets each take one.
const GSM_SINGLE: usize = 160;
/// 160 septets less the 7 the packed 6-byte UDH takes on the air.
const GSM_PART: usize = 153;
const UCS2_SINGLE: usize = 140;
/// 140 octets less the 6-byte UDH: 67 UTF-16 units.
const UCS2_PART: usize = 134;
/// The UDH counts parts in one octet.
pub const MAX_PARTS: usize = 255;

const ESC: u8 = 0x1B;

/// GSM 03.38 basic table, indexed by septet. 0x1B is the escape, never matched by a character.
const BASIC: [char; 128] = [
    '@', '£', '$', '¥', 'è', 'é', 'ù', 'ì', 'ò', 'Ç', '\n', 'Ø', 'ø', '\r', 'Å', 'å', //
    'Δ', '_', 'Φ', 'Γ', 'Λ', 'Ω', 'Π', 'Ψ', 'Σ', 'Θ', 'Ξ', '\u{1B}', 'Æ', 'æ', 'ß', 'É', //
    ' ', '!', '"', '#', '¤', '%', '&', '\'', '(', ')', '*', '+', ',', '-', '.', '/', //
    '0', '1', '2', '3', '4', '5', '6', '7', '8', '9', ':', ';', '<', '=', '>', '?', //
    '¡', 'A', 'B', 'C', 'D', 'E', 'F', 'G', 'H', 'I', 'J', 'K', 'L', 'M', 'N', 'O', //
    'P', 'Q', 'R', 'S', 'T', 'U', 'V', 'W', 'X', 'Y', 'Z', 'Ä', 'Ö', 'Ñ', 'Ü', '§', //
    '¿', 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l', 'm', 'n', 'o', //
    'p', 'q', 'r', 's', 't', 'u', 'v', 'w', 'x', 'y', 'z', 'ä', 'ö', 'ñ', 'ü', 'à', //
];

/// GSM 03.38 extension table: characters sent as ESC followed by this septet.
const EXTENSION: [(u8, char); 10] = [
    (0x0A, '\u{0C}'),
    (0x14, '^'),
    (0x28, '{'),
    (0x29, '}'),
    (0x2F, '\\'),
    (0x3C, '['),
    (0x3D, '~'),
    (0x3E, ']'),
    (0x40, '|'),
    (0x65, '€'),
];

/// A text ready for submit_sm: one short_message per part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Encoded {
    pub data_coding: u8,
    /// Each part's short_message, starting with the UDH when there are several.
    pub parts: Vec<Vec<u8>>,
    /// `ESM_CLASS_UDHI` when the parts carry a UDH, else 0.
    pub esm_class: u8,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    #[error("the text needs {parts} SMS parts; at most {MAX_PARTS} can be concatenated")]
    TooLong { parts: usize },
}

/// A process-wide concatenation reference, so consecutive long messages to one handset differ.
static NEXT_REFERENCE: AtomicU8 = AtomicU8::new(0);

/// Encodes `text`, taking the next concatenation reference of this process.
pub fn encode(text: &str) -> Result<Encoded, EncodeError> {
    encode_with_reference(text, NEXT_REFERENCE.fetch_add(1, Ordering::Relaxed))
}

/// Encodes `text` with the given concatenation reference (used only when it is split).
pub fn encode_with_reference(text: &str, reference: u8) -> Result<Encoded, EncodeError> {
    let (data_coding, units, single, part) = match gsm_units(text) {
        Some(units) => (DATA_CODING_DEFAULT, units, GSM_SINGLE, GSM_PART),
        None => (DATA_CODING_UCS2, ucs2_units(text), UCS2_SINGLE, UCS2_PART),
    };
    let total: usize = units.iter().map(Vec::len).sum();
    if total <= single {
        return Ok(Encoded {
            data_coding,
            parts: vec![units.concat()],
            esm_class: 0,
        });
    }
    let chunks = pack(&units, part);
    let count = u8::try_from(chunks.len()).map_err(|_| EncodeError::TooLong {
        parts: chunks.len(),
    })?;
    let parts = chunks
        .into_iter()
        .zip(1..=count)
        .map(|(body, seq)| {
            let mut sm = vec![0x05, 0x00, 0x03, reference, count, seq];
            sm.extend_from_slice(&body);
            sm
        })
        .collect();
    Ok(Encoded {
        data_coding,
        parts,
        esm_class: ESM_CLASS_UDHI,
    })
}

/// Fills parts of at most `cap` octets with whole units, so an escape sequence or a surrogate
/// pair never straddles two parts (a handset would show garbage at the seam).
fn pack(units: &[Vec<u8>], cap: usize) -> Vec<Vec<u8>> {
    let mut parts = Vec::new();
    let mut current: Vec<u8> = Vec::with_capacity(cap);
    for unit in units {
        if current.len() + unit.len() > cap {
            parts.push(std::mem::take(&mut current));
        }
        current.extend_from_slice(unit);
    }
    if !current.is_empty() {
        parts.push(current);
    }
    parts
}

/// One unit per character (one or two septets), or `None` when a character is not in GSM 03.38.
fn gsm_units(text: &str) -> Option<Vec<Vec<u8>>> {
    text.chars()
        .map(|c| {
            if let Some(septet) = basic_septet(c) {
                return Some(vec![septet]);
            }
            EXTENSION
                .iter()
                .find(|(_, e)| *e == c)
                .map(|(septet, _)| vec![ESC, *septet])
        })
        .collect()
}

fn basic_septet(c: char) -> Option<u8> {
    let index = BASIC
        .iter()
        .enumerate()
        .position(|(i, b)| *b == c && i != usize::from(ESC))?;
    u8::try_from(index).ok()
}

/// One unit per character: two octets, or four for a surrogate pair.
fn ucs2_units(text: &str) -> Vec<Vec<u8>> {
    text.chars()
        .map(|c| {
            let mut buf = [0u16; 2];
            c.encode_utf16(&mut buf)
                .iter()
                .flat_map(|u| u.to_be_bytes())
                .collect()
        })
        .collect()
}

/// The concatenation header of a part.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Concat {
    pub reference: u16,
    pub total: u8,
    pub seq: u8,
}

/// The user data header's length including its length octet, when it fits in `bytes`.
fn udh_len(bytes: &[u8]) -> Option<usize> {
    let len = usize::from(*bytes.first()?) + 1;
    (len <= bytes.len()).then_some(len)
}

/// Reads the concatenation element (8-bit IEI 0x00 or 16-bit IEI 0x08) of a part's UDH.
pub fn concat_info(short_message: &[u8]) -> Option<Concat> {
    let len = udh_len(short_message)?;
    let mut ies = short_message.get(1..len)?;
    while let [iei, ie_len, rest @ ..] = ies {
        let data = rest.get(..usize::from(*ie_len))?;
        match (iei, data) {
            (0x00, [reference, total, seq]) => {
                return Some(Concat {
                    reference: u16::from(*reference),
                    total: *total,
                    seq: *seq,
                });
            }
            (0x08, [hi, lo, total, seq]) => {
                return Some(Concat {
                    reference: u16::from_be_bytes([*hi, *lo]),
                    total: *total,
                    seq: *seq,
                });
            }
            _ => {}
        }
        ies = rest.get(usize::from(*ie_len)..)?;
    }
    None
}

/// Decodes a short_message back to text (lossy: what cannot be decoded becomes U+FFFD).
pub fn decode(data_coding: u8, bytes: &[u8], has_udh: bool) -> String {
    let body = if has_udh {
        udh_len(bytes).and_then(|l| bytes.get(l..)).unwrap_or(&[])
    } else {
        bytes
    };
    match data_coding {
        DATA_CODING_UCS2 => {
            let units: Vec<u16> = body
                .chunks(2)
                .map(|c| u16::from_be_bytes([c[0], c.get(1).copied().unwrap_or(0)]))
                .collect();
            char::decode_utf16(units)
                .map(|r| r.unwrap_or(char::REPLACEMENT_CHARACTER))
                .collect()
        }
        // IA5 (ASCII) and Latin-1: both map byte for byte onto the first Unicode code points.
        0x01 | 0x03 => body.iter().map(|b| char::from(*b)).collect(),
        _ => decode_gsm(body),
    }
}

fn decode_gsm(septets: &[u8]) -> String {
    let mut out = String::with_capacity(septets.len());
    let mut iter = septets.iter().map(|s| s & 0x7F);
    while let Some(s) = iter.next() {
        if s != ESC {
            out.push(BASIC[usize::from(s)]);
            continue;
        }
        let Some(next) = iter.next() else { break };
        // 03.38: an escape before an unknown septet shows the basic character instead.
        match EXTENSION.iter().find(|(e, _)| *e == next) {
            Some((_, c)) => out.push(*c),
            None => out.push(BASIC[usize::from(next)]),
        }
    }
    out
}
