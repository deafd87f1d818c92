//! Identifiers the built-in simulator gives opencams's `simulator` numbers, shared by the
//! dispatcher (sending) and the webhook receiver (routing statuses back).

/// The Graph phone-number id of a simulated business number.
pub fn simulated_phone_number_id(phone: &str) -> String {
    format!("1{phone}")
}

/// The simulated WABA id of a space (one WABA per space).
pub fn simulated_waba_id(space_id: &str) -> String {
    space_id.to_string()
}
