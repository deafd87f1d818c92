//! The CAMS 2020-06-06 wire protocol, as the official Alibaba Cloud SDKs speak it: ACS3-HMAC-SHA256
//! and v1 HMAC-SHA1 request signing and verification, parameter decoding (query, form body,
//! "shrink" JSON), response and error envelopes, and the error-code catalogue. It is used by the
//! server to verify and by the CLI and the bench to sign, and the one HMAC-SHA256 module that signs
//! and verifies webhooks in and out (`hmac_sha256`). It knows nothing of business rules.

pub mod callback_sign;
pub mod callbacks;
pub mod encode;
pub mod envelope;
pub mod error;
pub mod hmac_sha256;
pub mod params;
pub mod time_fmt;
pub mod v1;
pub mod v3;

pub use error::{CamsError, Code};
pub use params::{Page, Params};

/// The only API version served.
pub const VERSION: &str = "2020-06-06";
