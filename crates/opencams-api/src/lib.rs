//! The opencams HTTP server: the CAMS RPC endpoint (`/`), authentication of both signature
//! schemes, per-account rate limits, one file per action under `actions/`, health and metrics,
//! the HTTP edge of provider webhooks (`webhooks`, behind the `WebhookIngest` trait), and the
//! web console (`console`). It
//! decodes and routes; business rules live in `opencams-domain`, SQL in `opencams-store`, and
//! providers' formats in `opencams-channels`, which this crate does not depend on.

pub mod actions;
pub mod auth;
pub mod console;
pub mod context;
pub mod health;
pub mod keys;
pub mod limits;
pub mod nonce;
pub mod numbers;
pub mod policies;
pub mod principal;
pub mod receipts;
pub mod review;
pub mod rpc;
pub mod send;
pub mod state;
pub mod templates;
pub mod webhooks;

use std::sync::{Arc, OnceLock};

use axum::Router;
use axum::routing::{any, get};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

pub use state::{ApiConfig, AppState, WebhookConfig};

/// The server's routes.
pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/", any(rpc::rpc))
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(health::metrics))
        .route(
            "/webhooks/whatsapp",
            get(webhooks::verify).post(webhooks::receive),
        )
        .fallback(rpc::not_found)
        .with_state(state)
}

/// Installs the Prometheus recorder once per process and returns its handle.
pub fn metrics_handle() -> Option<PrometheusHandle> {
    static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let buckets = [
                0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
            ];
            let recorder = PrometheusBuilder::new()
                .set_buckets_for_metric(
                    metrics_exporter_prometheus::Matcher::Full(
                        "opencams_request_duration_seconds".into(),
                    ),
                    &buckets,
                )
                .ok()?
                .build_recorder();
            let handle = recorder.handle();
            metrics::set_global_recorder(recorder).ok()?;
            Some(handle)
        })
        .clone()
}
