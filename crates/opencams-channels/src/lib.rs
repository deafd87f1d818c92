//! opencams channels: the adapters that carry messages to a downstream network. Today this
//! crate holds the built-in fake of Meta's WhatsApp Cloud API (`simulator`); the real Cloud API
//! adapter and SMS fallbacks live beside it. Channels never touch the database.

pub mod simulator;
