//! Scriptable fault injection (whatsapp-cloud-api.md §7 item 11): force an error code for the
//! next N sends, globally or for one recipient, synchronously or as a later `failed` status;
//! HTTP 5xx and 429; slow answers that outlast the client's timeout; badly signed webhooks.

use super::validate::normalise_number;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FaultKind {
    /// Answer the send with this Graph error; HTTP status from Meta's table unless given.
    Sync { code: u32, http_status: Option<u16> },
    /// Answer 200, then report `failed` with this code (no `sent` first).
    Async { code: u32 },
    /// Sleep this long, then handle the send normally: the client has given up by then, yet
    /// the message goes out — the duplicate-on-retry hazard of §1.2.
    Timeout { delay_ms: u64 },
    /// Sign the next webhook POSTs with a wrong key (consumed by webhooks, not by sends).
    BadSignature,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    pub kind: FaultKind,
    /// How many sends (or webhooks) it applies to.
    pub count: u32,
    /// Only sends to this number (digits, `+` optional); `None` for all.
    pub recipient: Option<String>,
}

impl Fault {
    fn of(kind: FaultKind) -> Self {
        Self {
            kind,
            count: 1,
            recipient: None,
        }
    }

    /// A synchronous Graph error with Meta's HTTP status for the code.
    pub fn sync(code: u32) -> Self {
        Self::of(FaultKind::Sync {
            code,
            http_status: None,
        })
    }

    /// An accepted send that later fails with `code`.
    pub fn async_failure(code: u32) -> Self {
        Self::of(FaultKind::Async { code })
    }

    /// An HTTP error: 500 (code 131000), 503 (131016), 429 (130429), others code 1.
    pub fn http(status: u16) -> Self {
        let code = match status {
            500 => 131000,
            503 => 131016,
            429 => 130429,
            _ => 1,
        };
        Self::of(FaultKind::Sync {
            code,
            http_status: Some(status),
        })
    }

    pub fn timeout(delay_ms: u64) -> Self {
        Self::of(FaultKind::Timeout { delay_ms })
    }

    pub fn bad_signature() -> Self {
        Self::of(FaultKind::BadSignature)
    }

    pub fn times(mut self, count: u32) -> Self {
        self.count = count;
        self
    }

    pub fn to(mut self, recipient: &str) -> Self {
        self.recipient = Some(normalise_number(recipient).unwrap_or_else(|| recipient.to_string()));
        self
    }

    /// Overrides the HTTP status of a synchronous fault (e.g. 130429 with 429).
    pub fn with_http_status(mut self, status: u16) -> Self {
        if let FaultKind::Sync { http_status, .. } = &mut self.kind {
            *http_status = Some(status);
        }
        self
    }
}

/// Takes one use of the first send fault that applies to `to`.
pub fn take_send_fault(faults: &mut Vec<Fault>, to: &str) -> Option<FaultKind> {
    let pos = faults.iter().position(|f| {
        f.kind != FaultKind::BadSignature
            && f.count > 0
            && f.recipient.as_deref().is_none_or(|r| r == to)
    })?;
    take(faults, pos)
}

/// Takes one use of a bad-signature fault.
pub fn take_signature_fault(faults: &mut Vec<Fault>) -> bool {
    match faults
        .iter()
        .position(|f| f.kind == FaultKind::BadSignature && f.count > 0)
    {
        Some(pos) => take(faults, pos).is_some(),
        None => false,
    }
}

fn take(faults: &mut Vec<Fault>, pos: usize) -> Option<FaultKind> {
    let f = faults.get_mut(pos)?;
    f.count -= 1;
    let kind = f.kind.clone();
    if f.count == 0 {
        faults.remove(pos);
    }
    Some(kind)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recipient_faults_only_hit_that_recipient() {
        let mut faults = vec![Fault::sync(131000).times(2).to("+447700900123")];
        assert_eq!(take_send_fault(&mut faults, "447700900999"), None);
        assert!(take_send_fault(&mut faults, "447700900123").is_some());
        assert!(take_send_fault(&mut faults, "447700900123").is_some());
        assert_eq!(take_send_fault(&mut faults, "447700900123"), None);
        assert!(faults.is_empty());
    }

    #[test]
    fn signature_faults_are_not_send_faults() {
        let mut faults = vec![Fault::bad_signature()];
        assert_eq!(take_send_fault(&mut faults, "447700900123"), None);
        assert!(take_signature_fault(&mut faults));
        assert!(!take_signature_fault(&mut faults));
    }
}
