//! The SMPP 3.4 PDUs opencams speaks, as both ESME (the client) and SMSC (the test server):
//! framing, the header, and the bodies of bind, submit_sm/deliver_sm and the `message_id`
//! responses, with optional TLVs.
//!
//! Written by hand rather than with a crates.io SMPP library: the one maintained candidate is
//! pre-1.0 with a churning API, and we need a dozen PDUs whose layout has been fixed since 1999.

use bytes::{Buf, BufMut, BytesMut};

pub const GENERIC_NACK: u32 = 0x8000_0000;
pub const SUBMIT_SM: u32 = 0x0000_0004;
#[cfg(any(test, feature = "testing"))] // only the test SMSC answers submits
pub const SUBMIT_SM_RESP: u32 = 0x8000_0004;
pub const DELIVER_SM: u32 = 0x0000_0005;
pub const DELIVER_SM_RESP: u32 = 0x8000_0005;
pub const UNBIND: u32 = 0x0000_0006;
pub const UNBIND_RESP: u32 = 0x8000_0006;
pub const BIND_TRANSCEIVER: u32 = 0x0000_0009;
pub const BIND_TRANSCEIVER_RESP: u32 = 0x8000_0009;
pub const ENQUIRE_LINK: u32 = 0x0000_0015;
pub const ENQUIRE_LINK_RESP: u32 = 0x8000_0015;

/// Responses have the high bit of command_id set.
pub fn is_response(command_id: u32) -> bool {
    command_id & GENERIC_NACK != 0
}

pub const ESME_ROK: u32 = 0x00;
pub const ESME_RINVCMDID: u32 = 0x03;
#[cfg(any(test, feature = "testing"))] // only the test SMSC refuses a bind
pub const ESME_RINVPASWD: u32 = 0x0E;
pub const ESME_RSYSERR: u32 = 0x08;
pub const ESME_RMSGQFUL: u32 = 0x14;
pub const ESME_RTHROTTLED: u32 = 0x58;

pub const TLV_RECEIPTED_MESSAGE_ID: u16 = 0x001E;
pub const TLV_MESSAGE_PAYLOAD: u16 = 0x0424;
pub const TLV_MESSAGE_STATE: u16 = 0x0427;

/// The names of the command_status values an operator is most likely to meet.
pub fn status_name(status: u32) -> &'static str {
    match status {
        0x00 => "ESME_ROK",
        0x01 => "ESME_RINVMSGLEN (message length is invalid)",
        0x02 => "ESME_RINVCMDLEN (command length is invalid)",
        0x03 => "ESME_RINVCMDID (invalid command id)",
        0x04 => "ESME_RINVBNDSTS (incorrect bind status for given command)",
        0x05 => "ESME_RALYBND (already bound)",
        0x08 => "ESME_RSYSERR (system error)",
        0x0A => "ESME_RINVSRCADR (invalid source address)",
        0x0B => "ESME_RINVDSTADR (invalid destination address)",
        0x0E => "ESME_RINVPASWD (invalid password)",
        0x0F => "ESME_RINVSYSID (invalid system id)",
        0x14 => "ESME_RMSGQFUL (message queue full)",
        0x45 => "ESME_RSUBMITFAIL (submit_sm failed)",
        0x58 => "ESME_RTHROTTLED (throttling error)",
        0x61 => "ESME_RINVSCHED (invalid scheduled delivery time)",
        0x62 => "ESME_RINVEXPIRY (invalid validity period)",
        _ => "unknown command_status",
    }
}

/// A PDU larger than this is taken as a broken stream rather than buffered.
const MAX_PDU_LEN: usize = 64 * 1024;
const HEADER_LEN: usize = 16;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PduError {
    #[error("invalid command_length {0}")]
    BadLength(usize),
    #[error("PDU body ends early reading {0}")]
    Truncated(&'static str),
    #[error("C-octet string {0} has no terminating NUL within {1} octets")]
    Unterminated(&'static str, usize),
}

/// One PDU: header fields and the raw body, decoded on demand by the body types below.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pdu {
    pub command_id: u32,
    pub status: u32,
    pub sequence: u32,
    pub body: Vec<u8>,
}

impl Pdu {
    pub fn new(command_id: u32, status: u32, sequence: u32, body: Vec<u8>) -> Self {
        Self {
            command_id,
            status,
            sequence,
            body,
        }
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let len = HEADER_LEN + self.body.len();
        let mut out = Vec::with_capacity(len);
        // Bodies we build are far below 4 GiB; saturating keeps this total without a panic path.
        out.put_u32(u32::try_from(len).unwrap_or(u32::MAX));
        out.put_u32(self.command_id);
        out.put_u32(self.status);
        out.put_u32(self.sequence);
        out.extend_from_slice(&self.body);
        out
    }

    /// Takes one whole PDU off the front of `buf`, or `None` until enough octets have arrived.
    pub fn take(buf: &mut BytesMut) -> Result<Option<Pdu>, PduError> {
        let Some(len_bytes) = buf.get(..4) else {
            return Ok(None);
        };
        let len = u32::from_be_bytes([len_bytes[0], len_bytes[1], len_bytes[2], len_bytes[3]]);
        let len = usize::try_from(len).unwrap_or(usize::MAX);
        if !(HEADER_LEN..=MAX_PDU_LEN).contains(&len) {
            return Err(PduError::BadLength(len));
        }
        if buf.len() < len {
            buf.reserve(len - buf.len());
            return Ok(None);
        }
        let mut frame = buf.split_to(len);
        frame.advance(4);
        let command_id = frame.get_u32();
        let status = frame.get_u32();
        let sequence = frame.get_u32();
        Ok(Some(Pdu::new(command_id, status, sequence, frame.to_vec())))
    }
}

/// A cursor over a PDU body.
pub struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Self { buf }
    }

    pub fn u8(&mut self, field: &'static str) -> Result<u8, PduError> {
        let (first, rest) = self.buf.split_first().ok_or(PduError::Truncated(field))?;
        self.buf = rest;
        Ok(*first)
    }

    pub fn octets(&mut self, n: usize, field: &'static str) -> Result<&'a [u8], PduError> {
        if self.buf.len() < n {
            return Err(PduError::Truncated(field));
        }
        let (head, rest) = self.buf.split_at(n);
        self.buf = rest;
        Ok(head)
    }

    /// A C-octet string of at most `max` octets including its NUL; lossy on non-UTF-8 octets.
    pub fn cstring(&mut self, max: usize, field: &'static str) -> Result<String, PduError> {
        let window = &self.buf[..self.buf.len().min(max)];
        let nul = window
            .iter()
            .position(|b| *b == 0)
            .ok_or(PduError::Unterminated(field, max))?;
        let s = String::from_utf8_lossy(&window[..nul]).into_owned();
        self.buf = &self.buf[nul + 1..];
        Ok(s)
    }

    /// The optional parameters that end a body.
    pub fn tlvs(&mut self) -> Result<Vec<(u16, Vec<u8>)>, PduError> {
        let mut out = Vec::new();
        while !self.buf.is_empty() {
            let tag = self.octets(2, "tlv tag")?;
            let len = self.octets(2, "tlv length")?;
            let value = self.octets(usize::from(u16::from_be_bytes([len[0], len[1]])), "tlv")?;
            out.push((u16::from_be_bytes([tag[0], tag[1]]), value.to_vec()));
        }
        Ok(out)
    }
}

fn put_cstring(out: &mut Vec<u8>, s: &str, max: usize) {
    // Truncate rather than overflow the field: the SMSC would reject the whole PDU otherwise.
    let bytes = s.as_bytes();
    out.extend_from_slice(&bytes[..bytes.len().min(max.saturating_sub(1))]);
    out.push(0);
}

/// bind_transceiver (and the other binds: same body).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bind {
    pub system_id: String,
    pub password: String,
    pub system_type: String,
}

impl Bind {
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        put_cstring(&mut out, &self.system_id, 16);
        put_cstring(&mut out, &self.password, 9);
        put_cstring(&mut out, &self.system_type, 13);
        out.push(0x34); // interface_version: SMPP 3.4
        out.push(0); // addr_ton
        out.push(0); // addr_npi
        put_cstring(&mut out, "", 41); // address_range
        out
    }

    /// Only the test SMSC reads a bind.
    #[cfg(any(test, feature = "testing"))]
    pub fn decode(body: &[u8]) -> Result<Self, PduError> {
        let mut r = Reader::new(body);
        Ok(Self {
            system_id: r.cstring(16, "system_id")?,
            password: r.cstring(9, "password")?,
            system_type: r.cstring(13, "system_type")?,
        })
    }
}

/// The body of submit_sm and deliver_sm, which share one layout.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ShortMessage {
    pub source_ton: u8,
    pub source_npi: u8,
    pub source: String,
    pub dest_ton: u8,
    pub dest_npi: u8,
    pub dest: String,
    pub esm_class: u8,
    pub registered_delivery: u8,
    pub data_coding: u8,
    pub short_message: Vec<u8>,
    pub tlvs: Vec<(u16, Vec<u8>)>,
}

impl ShortMessage {
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(64 + self.short_message.len());
        put_cstring(&mut out, "", 6); // service_type: SMSC default
        out.push(self.source_ton);
        out.push(self.source_npi);
        put_cstring(&mut out, &self.source, 21);
        out.push(self.dest_ton);
        out.push(self.dest_npi);
        put_cstring(&mut out, &self.dest, 21);
        out.push(self.esm_class);
        out.push(0); // protocol_id
        out.push(0); // priority_flag
        put_cstring(&mut out, "", 17); // schedule_delivery_time: now
        put_cstring(&mut out, "", 17); // validity_period: SMSC default
        out.push(self.registered_delivery);
        out.push(0); // replace_if_present_flag
        out.push(self.data_coding);
        out.push(0); // sm_default_msg_id
        // Parts are at most 140 octets; anything longer belongs in message_payload.
        out.push(u8::try_from(self.short_message.len()).unwrap_or(u8::MAX));
        out.extend_from_slice(&self.short_message[..self.short_message.len().min(255)]);
        for (tag, value) in &self.tlvs {
            out.put_u16(*tag);
            out.put_u16(u16::try_from(value.len()).unwrap_or(u16::MAX));
            out.extend_from_slice(&value[..value.len().min(usize::from(u16::MAX))]);
        }
        out
    }

    pub fn decode(body: &[u8]) -> Result<Self, PduError> {
        let mut r = Reader::new(body);
        r.cstring(6, "service_type")?;
        let source_ton = r.u8("source_addr_ton")?;
        let source_npi = r.u8("source_addr_npi")?;
        let source = r.cstring(21, "source_addr")?;
        let dest_ton = r.u8("dest_addr_ton")?;
        let dest_npi = r.u8("dest_addr_npi")?;
        let dest = r.cstring(21, "destination_addr")?;
        let esm_class = r.u8("esm_class")?;
        r.u8("protocol_id")?;
        r.u8("priority_flag")?;
        r.cstring(17, "schedule_delivery_time")?;
        r.cstring(17, "validity_period")?;
        let registered_delivery = r.u8("registered_delivery")?;
        r.u8("replace_if_present_flag")?;
        let data_coding = r.u8("data_coding")?;
        r.u8("sm_default_msg_id")?;
        let sm_length = r.u8("sm_length")?;
        let short_message = r.octets(usize::from(sm_length), "short_message")?.to_vec();
        let tlvs = r.tlvs()?;
        Ok(Self {
            source_ton,
            source_npi,
            source,
            dest_ton,
            dest_npi,
            dest,
            esm_class,
            registered_delivery,
            data_coding,
            short_message,
            tlvs,
        })
    }

    pub fn tlv(&self, tag: u16) -> Option<&[u8]> {
        self.tlvs
            .iter()
            .find(|(t, _)| *t == tag)
            .map(|(_, v)| v.as_slice())
    }

    /// The text octets: short_message, or message_payload when the SMSC used that instead.
    pub fn payload(&self) -> &[u8] {
        match self.tlv(TLV_MESSAGE_PAYLOAD) {
            Some(p) if self.short_message.is_empty() => p,
            _ => &self.short_message,
        }
    }
}

/// The body of submit_sm_resp / deliver_sm_resp and of the bind responses: one C-octet string
/// (message_id or system_id). Error responses may come with no body at all.
pub fn encode_id(id: &str) -> Vec<u8> {
    let mut out = Vec::new();
    put_cstring(&mut out, id, 65);
    out
}

pub fn decode_id(body: &[u8]) -> Result<String, PduError> {
    if body.is_empty() {
        return Ok(String::new());
    }
    Reader::new(body).cstring(65, "message_id")
}
