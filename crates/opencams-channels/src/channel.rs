//! The narrow contract between the dispatcher and a downstream: send one rendered message, get
//! the provider's id back or an error that says whether trying again can help. Only the
//! dispatcher retries.

use serde_json::Value;

/// What a channel needs to know of the sending number (it never reads the database).
#[derive(Clone)]
pub struct NumberConfig {
    pub phone_number_id: String,
    pub access_token: String,
    pub api_base: String,
    pub api_version: String,
}

impl std::fmt::Debug for NumberConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NumberConfig")
            .field("phone_number_id", &self.phone_number_id)
            .field("api_base", &self.api_base)
            .field("api_version", &self.api_version)
            .field("access_token", &"***")
            .finish()
    }
}

/// The provider accepted the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sent {
    pub provider_id: String,
}

/// Why a send failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {description}")]
pub struct SendError {
    /// The provider's code (WhatsApp's number as text), or `http_<status>` / `network`.
    pub code: String,
    /// `<title>(<details>)`, as CAMS reports it after the code.
    pub description: String,
    /// Trying again later may succeed.
    pub retryable: bool,
    /// The failure is a rate limit: slow down (the whole number for throughput, the one
    /// recipient for the pair rate).
    pub throttled: bool,
}

#[async_trait::async_trait]
pub trait Channel: Send + Sync {
    /// Sends one Cloud API message body.
    async fn send(&self, number: &NumberConfig, payload: &Value) -> Result<Sent, SendError>;
}
