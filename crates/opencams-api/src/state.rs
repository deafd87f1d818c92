//! Shared server state, built once in `main`.

use std::sync::Arc;

use metrics_exporter_prometheus::PrometheusHandle;
use opencams_domain::Clock;
use opencams_store::Store;

use crate::limits::RateLimiter;
use crate::nonce::NonceCache;
use crate::principal::PrincipalCache;

#[derive(Debug, Clone, Default)]
pub struct ApiConfig {
    /// Append the server's string-to-sign to `SignatureDoesNotMatch` (never in production).
    pub debug_signatures: bool,
}

pub struct AppState {
    pub store: Arc<dyn Store>,
    pub clock: Arc<dyn Clock>,
    pub principals: PrincipalCache,
    pub nonces: NonceCache,
    pub limiter: Arc<dyn RateLimiter>,
    pub metrics: Option<PrometheusHandle>,
    pub config: ApiConfig,
}
