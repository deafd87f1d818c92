//! `serve` settings of callback delivery, and starting its worker.

use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use opencams_dispatch::callbacks::{CallbackConfig, CallbackWorker};
use opencams_domain::Clock;
use opencams_store::Store;
use tokio_util::sync::CancellationToken;

#[derive(Debug, Args)]
pub struct CallbackArgs {
    /// Deliver callbacks to (and accept callback URLs on) loopback, private and link-local
    /// addresses — for local development and tests only
    #[arg(long, env = "OPENCAMS_ALLOW_PRIVATE_CALLBACKS", value_parser = clap::builder::BoolishValueParser::new(), default_value_t = false, num_args = 0..=1, default_missing_value = "true")]
    pub allow_private_callbacks: bool,
    /// First callback retry delay in ms (doubles per consecutive failure, jittered)
    #[arg(long, env = "OPENCAMS_CALLBACK_RETRY_BASE_MS", default_value_t = 5_000)]
    pub callback_retry_base_ms: i64,
    /// Longest callback retry delay in ms
    #[arg(
        long,
        env = "OPENCAMS_CALLBACK_RETRY_MAX_MS",
        default_value_t = 3_600_000
    )]
    pub callback_retry_max_ms: i64,
    /// Disable an endpoint after this many consecutive failed attempts…
    #[arg(long, env = "OPENCAMS_CALLBACK_DISABLE_AFTER", default_value_t = 10)]
    pub callback_disable_after: i64,
    /// …spanning at least this many ms
    #[arg(
        long,
        env = "OPENCAMS_CALLBACK_DISABLE_SPAN_MS",
        default_value_t = 86_400_000
    )]
    pub callback_disable_span_ms: i64,
    /// How long a receiver may take to answer, ms
    #[arg(long, env = "OPENCAMS_CALLBACK_TIMEOUT_MS", default_value_t = 5_000)]
    pub callback_timeout_ms: u64,
}

/// Starts the callback worker; it stops when `stop` is cancelled, after in-flight attempts.
pub fn start(
    args: &CallbackArgs,
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    owner: String,
    stop: CancellationToken,
) -> anyhow::Result<tokio::task::JoinHandle<()>> {
    let timeout = Duration::from_millis(args.callback_timeout_ms.clamp(100, 60_000));
    let config = CallbackConfig {
        timeout,
        lease_ms: (timeout.as_millis() as i64) * 3 + 5_000,
        retry_base_ms: args.callback_retry_base_ms.max(1),
        retry_max_ms: args.callback_retry_max_ms.max(1),
        disable_after: args.callback_disable_after.max(1),
        disable_span_ms: args.callback_disable_span_ms.max(0),
        allow_private: args.allow_private_callbacks,
        ..Default::default()
    };
    let worker = CallbackWorker::new(store, clock, config, owner)?;
    Ok(tokio::spawn(worker.run(stop)))
}
