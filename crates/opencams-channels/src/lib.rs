//! opencams channels: one adapter per downstream, behind narrow contracts, and each
//! downstream's formats both ways.
//!
//! - `whatsapp_cloud`: the WhatsApp Cloud API client — sends (`Channel`), the mapping of Meta's
//!   answers and errors (with Meta's retry guidance), template submission to a WABA's template
//!   API (`whatsapp_cloud::templates`), and Meta's webhooks in, verified and parsed into typed
//!   events (`whatsapp_cloud::webhooks`).
//! - `simulator`: the built-in, faithful fake of the Cloud API (Graph routes, rules, signed
//!   webhooks), the mapping of opencams's numbers and templates to what it checks sends against
//!   (`sim_template`, `SimNumber::simulated`), and the in-process channel and admin route a
//!   server that embeds it uses (`InProcessGraph`, `admin_router`).
//! - `sms`: the SMS fallback's `SmsSender` with two senders, SMPP 3.4 (`sms::smpp`) and
//!   JSON over HTTP (`sms::http`), their shared text encoding, and a test SMSC.
//! - `ids`: the Graph ids the simulator gives opencams's `simulator` numbers.
//!
//! Channels never touch the database and do not depend on the store or the API: callers hand
//! them plain or domain values. Their errors say whether a retry helps; only the dispatcher
//! retries.

pub mod channel;
pub mod ids;
pub mod simulator;
pub mod sms;
pub mod whatsapp_cloud;

pub use channel::{Channel, NumberConfig, SendError, Sent};
