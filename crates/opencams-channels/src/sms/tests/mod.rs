//! Tests of the SMS channel: encoding tables and boundaries, the PDU codec and receipt parsing,
//! the SMPP client against the in-process test SMSC over loopback TCP, and the HTTP connector
//! against a local axum receiver.

mod codec;
mod encoding;
mod http;
mod session;
mod smpp;
