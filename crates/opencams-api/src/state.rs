//! Shared server state, built once in `main`.

use std::sync::Arc;

use metrics_exporter_prometheus::PrometheusHandle;
use opencams_domain::{Clock, IdGenerator};
use opencams_store::Store;
use opencams_store::cache::StoreCache;

use crate::limits::RateLimiter;
use crate::nonce::NonceCache;
use crate::principal::PrincipalCache;

#[derive(Debug, Clone)]
pub struct ApiConfig {
    /// Append the server's string-to-sign to `SignatureDoesNotMatch` (never in production).
    pub debug_signatures: bool,
    /// How long the built-in simulator takes to review a template.
    pub template_review_delay_ms: i64,
    /// Accept callback URLs on loopback, private and link-local addresses (development, tests).
    pub allow_private_callbacks: bool,
}

impl Default for ApiConfig {
    fn default() -> Self {
        Self {
            debug_signatures: false,
            template_review_delay_ms: 2000,
            allow_private_callbacks: false,
        }
    }
}

/// What the provider webhook endpoint trusts (the secrets webhooks are signed with are the
/// ingest's).
#[derive(Debug, Clone, Default)]
pub struct WebhookConfig {
    /// The token Meta echoes in the GET handshake.
    pub verify_token: Option<String>,
}

pub struct AppState {
    pub store: Arc<dyn Store>,
    /// MessageId / GroupMessageId generator.
    pub ids: Arc<IdGenerator>,
    /// Sender numbers, spaces and template versions, read through one cache shared with the
    /// dispatcher.
    pub cache: Arc<StoreCache>,
    pub clock: Arc<dyn Clock>,
    pub principals: PrincipalCache,
    pub nonces: NonceCache,
    pub limiter: Arc<dyn RateLimiter>,
    pub metrics: Option<PrometheusHandle>,
    pub config: ApiConfig,
    pub webhooks: WebhookConfig,
    /// Verifies, parses and applies provider webhook POSTs.
    pub ingest: Arc<dyn crate::webhooks::WebhookIngest>,
    /// Where templates go for review.
    pub submitter: Arc<dyn crate::review::TemplateSubmitter>,
    /// Simulated users of the built-in Cloud API simulator, for the console's Phone page: set
    /// once the simulator runs (it starts after this state is built); unset, the page says so.
    pub simulated_users: std::sync::OnceLock<Arc<dyn SimulatedUsers>>,
    /// What each number sent over the last minute, as this node's dispatcher counts it (set once
    /// the dispatcher is built, after this state).
    pub send_meter: std::sync::OnceLock<Arc<opencams_domain::meter::SendMeter>>,
}

/// Users of the built-in simulator writing to a business number, as a real user's phone would:
/// the simulator sends the provider's signed webhook, which the server ingests as any other.
#[async_trait::async_trait]
pub trait SimulatedUsers: Send + Sync {
    /// Makes `user` (named `name`) send `message` — a Cloud API inbound message object without
    /// `from`, `id` and `timestamp`, e.g. `{"type":"text","text":{"body":"hi"}}` — to the
    /// `simulator` number `business`. Returns the inbound message's wamid, or why the
    /// simulator refused it.
    async fn write(
        &self,
        business: &str,
        user: &str,
        name: &str,
        message: serde_json::Value,
    ) -> Result<String, String>;
}
