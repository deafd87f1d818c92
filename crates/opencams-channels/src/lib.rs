//! opencams channels: the adapters that carry messages downstream, behind one narrow `Channel`
//! trait — the WhatsApp Cloud API client (`whatsapp_cloud`, which also verifies and parses Meta's
//! webhooks into typed events) and the built-in, faithful fake of the Cloud API (`simulator`).
//! Channels never touch the database; errors say whether a retry helps.

pub mod channel;
pub mod ids;
pub mod simulator;
pub mod sms;
pub mod whatsapp_cloud;

pub use channel::{Channel, NumberConfig, SendError, Sent};
