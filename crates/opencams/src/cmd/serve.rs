//! `opencams serve`: bind, bootstrap an empty database, serve until SIGINT/SIGTERM, then stop
//! accepting, finish in-flight requests, flush and close the database. It wires the parts,
//! among them the API's webhook edge to the dispatch ingest (`WebhookIngest`, a local wrapper).

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use clap::Args;
use opencams_api::limits::{LocalRateLimiter, RateLimiter, SharedRateLimiter};
use opencams_api::nonce::{self, NonceCache};
use opencams_api::principal::PrincipalCache;
use opencams_api::{ApiConfig, AppState, WebhookConfig};
use opencams_domain::{Clock, IdGenerator, OffsetClock, SystemClock};
use opencams_store::cache::{STORE_CACHE_TTL, StoreCache};
use opencams_store::{NewKey, NewNumber, Store};
use tokio_util::sync::CancellationToken;

use super::open_store;
use crate::config::{DEFAULT_LISTEN, NodeId, StorageArgs};

/// The sender number a fresh installation starts with.
pub const BOOTSTRAP_NUMBER: &str = "8613600000000";
/// The console admin a fresh installation starts with (its password is printed once).
pub const BOOTSTRAP_USER: &str = "admin@localhost";

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on [default: 127.0.0.1:8080]
    #[arg(long, env = "OPENCAMS_LISTEN")]
    listen: Option<String>,
    /// Append the server's string-to-sign to SignatureDoesNotMatch errors (debugging clients only)
    #[arg(long, env = "OPENCAMS_DEBUG_SIGNATURES", value_parser = clap::builder::BoolishValueParser::new(), default_value_t = false, num_args = 0..=1, default_missing_value = "true")]
    debug_signatures: bool,
    /// How long the built-in simulator takes to review a template, in ms [default: 2000]
    #[arg(long, env = "OPENCAMS_TEMPLATE_REVIEW_DELAY_MS")]
    template_review_delay_ms: Option<u64>,
    /// Accept and queue messages but do not send them (maintenance, backlog tests)
    #[arg(long, env = "OPENCAMS_DISPATCH_PAUSED", value_parser = clap::builder::BoolishValueParser::new(), default_value_t = false, num_args = 0..=1, default_missing_value = "true")]
    dispatch_paused: bool,
    /// Sends in flight at once
    #[arg(long, env = "OPENCAMS_DISPATCH_CONCURRENCY", default_value_t = 256)]
    dispatch_concurrency: usize,
    /// How long a claimed message is leased to this process before another may take it, ms
    #[arg(long, env = "OPENCAMS_LEASE_MS", default_value_t = 60_000)]
    lease_ms: i64,
    /// First retry delay in ms (doubles per attempt, with jitter)
    #[arg(long, env = "OPENCAMS_RETRY_BASE_MS", default_value_t = 1000)]
    retry_base_ms: i64,
    /// The token Meta must echo in the webhook verification handshake
    #[arg(long, env = "OPENCAMS_WEBHOOK_VERIFY_TOKEN", hide_env_values = true)]
    webhook_verify_token: Option<String>,
    /// This node's name in the leases it takes (1–64 of A-Za-z0-9._-) [default: node- and 12
    /// random letters and digits, new at every start]
    #[arg(long, env = "OPENCAMS_NODE_ID")]
    node_id: Option<String>,
    /// Shifts this server's clock by this many ms (tests: fire a timer without waiting for it)
    #[arg(
        long,
        env = "OPENCAMS_CLOCK_OFFSET_MS",
        default_value_t = 0,
        hide = true,
        allow_negative_numbers = true
    )]
    clock_offset_ms: i64,
    /// Serve the web console (/console) on this address instead of on --listen's
    #[arg(long, env = "OPENCAMS_CONSOLE_LISTEN")]
    console_listen: Option<String>,
    /// Do not serve the web console
    #[arg(long, env = "OPENCAMS_NO_CONSOLE", value_parser = clap::builder::BoolishValueParser::new(), default_value_t = false, num_args = 0..=1, default_missing_value = "true")]
    no_console: bool,
    #[command(flatten)]
    sim: crate::embedded_sim::SimArgs,
    #[command(flatten)]
    callbacks: crate::callbacks::CallbackArgs,
}

pub async fn run(storage_args: &StorageArgs, args: ServeArgs) -> anyhow::Result<()> {
    let (storage, file) = storage_args.resolve()?;
    init_tracing();
    let node = NodeId::resolve(args.node_id.as_deref(), file.node_id.as_deref())?;
    tracing::info!(node_id = %node, "node id");
    let listen = args
        .listen
        .or(file.listen)
        .unwrap_or_else(|| DEFAULT_LISTEN.into());
    let addr: SocketAddr = listen
        .parse()
        .with_context(|| format!("--listen {listen:?} is not an address like 127.0.0.1:8080"))?;
    let store = open_store(&storage).await?;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr}"))?;
    let local = listener.local_addr()?;
    if store.is_empty().await? {
        bootstrap(store.as_ref(), local).await?;
    }

    let review_delay_ms = args
        .template_review_delay_ms
        .or(file.template_review_delay_ms)
        .unwrap_or(2000);
    let clock: Arc<dyn Clock> = match args.clock_offset_ms {
        0 => Arc::new(SystemClock),
        offset => {
            tracing::warn!(
                offset_ms = offset,
                "the server's clock is shifted (--clock-offset-ms)"
            );
            Arc::new(OffsetClock::new(offset))
        }
    };
    let sim_token = crate::embedded_sim::load_or_create_token(&storage.data_dir)?;
    let sim_secret = format!("sim-{}", opencams_protocol::envelope::nonce());
    let (nonces, nonce_rx) = NonceCache::load(store.as_ref(), clock.now_ms()).await;
    // rate limits: on a store several nodes share, buckets in it (the API's per-account limits,
    // each number's throughput, the pair rate), taken in batches one round trip at a time; on
    // one node, buckets in memory
    let shared_buckets = store
        .shared()
        .then(|| opencams_store::limits::SharedBuckets::start(store.clone(), clock.clone()));
    let limiter: Arc<dyn RateLimiter> = match &shared_buckets {
        Some(b) => Arc::new(SharedRateLimiter::new(b.clone())),
        None => Arc::new(LocalRateLimiter::default()),
    };
    let send_limits = match shared_buckets {
        Some(b) => opencams_dispatch::limits::SendLimits::Shared(b),
        None => opencams_dispatch::limits::SendLimits::default(),
    };
    let nonce_task = tokio::spawn(nonce::persist_loop(store.clone(), nonce_rx, clock.clone()));
    // one MessageId generator for the API and the webhook ingest
    let ids = Arc::new(IdGenerator::new(process_id_prefix()));
    let state = Arc::new(AppState {
        store: store.clone(),
        ids: ids.clone(),
        cache: Arc::new(StoreCache::new(store.clone(), STORE_CACHE_TTL)),
        clock: clock.clone(),
        principals: PrincipalCache::default(),
        nonces,
        limiter,
        metrics: opencams_api::metrics_handle(),
        config: ApiConfig {
            debug_signatures: args.debug_signatures || file.debug_signatures.unwrap_or(false),
            template_review_delay_ms: review_delay_ms as i64,
            allow_private_callbacks: args.callbacks.allow_private_callbacks,
        },
        submitter: Arc::new(crate::embedded_sim::CloudSubmitter {
            store: store.clone(),
            cloud: opencams_channels::whatsapp_cloud::WhatsAppCloud::new(
                std::time::Duration::from_secs(15),
            )?,
        }),
        webhooks: WebhookConfig {
            verify_token: args.webhook_verify_token.clone(),
        },
        simulated_users: std::sync::OnceLock::new(),
        send_meter: std::sync::OnceLock::new(),
        ingest: Arc::new(WebhookIngest(opencams_dispatch::ingest::Ingest::new(
            store.clone(),
            clock,
            ids,
            vec![sim_secret.clone()],
        ))),
    });

    if let Some(changes) = store.changes() {
        tokio::spawn(forget_changes(changes, Arc::downgrade(&state)));
    }
    let stop = CancellationToken::new();
    tokio::spawn(wait_for_signal(stop.clone()));
    let workers = CancellationToken::new();
    let reviews = tokio::spawn(opencams_dispatch::review::run(
        store.clone(),
        state.clock.clone(),
        node.owner("reviews"),
        std::time::Duration::from_millis(review_delay_ms.clamp(10, 250)),
        workers.clone(),
    ));
    let sim = crate::embedded_sim::start(
        &args.sim,
        state.cache.clone(),
        state.clock.clone(),
        &sim_token,
        &sim_secret,
        local,
        workers.clone(),
    );
    let callbacks = crate::callbacks::start(
        &args.callbacks,
        store.clone(),
        state.clock.clone(),
        node.owner("callbacks"),
        workers.clone(),
    )?;
    sim.set_webhook_sink(Arc::new(crate::embedded_sim::InProcessWebhooks {
        state: Arc::downgrade(&state),
    }));
    // the console's Phone page writes as the simulator's users; set once, here
    let _ = state
        .simulated_users
        .set(Arc::new(crate::embedded_sim::SimulatedUsers {
            sim: sim.clone(),
        }));
    let dispatcher = crate::embedded_sim::dispatcher(
        state.cache.clone(),
        state.clock.clone(),
        &sim_token,
        &sim,
        opencams_dispatch::worker::DispatchConfig {
            concurrency: args.dispatch_concurrency.max(1),
            retry_base_ms: args.retry_base_ms.max(1),
            lease_ms: args.lease_ms.max(1000),
            ..Default::default()
        },
        node.owner("dispatch"),
        send_limits,
    )?;
    // the console's Overview shows what each number sent over the last minute
    let _ = state.send_meter.set(dispatcher.meter());
    // SMS fallback: timers decided by a worker, SMSC receipts mapped back
    let (reports_tx, reports_rx) = tokio::sync::mpsc::unbounded_channel();
    let fallbacks = Arc::new(opencams_dispatch::fallback::FallbackWorker {
        store: store.clone(),
        clock: state.clock.clone(),
        senders: opencams_dispatch::fallback::PolicySenders::new(reports_tx, workers.clone()),
        owner: node.owner("fallback"),
        lease_ms: args.lease_ms.max(1000),
        retry_base_ms: args.retry_base_ms.max(1),
        poll_ms: 100,
    });
    let fallback_task = tokio::spawn(fallbacks.run(workers.clone()));
    tokio::spawn(opencams_dispatch::fallback::receive_reports(
        store.clone(),
        state.clock.clone(),
        reports_rx,
    ));
    let dispatch_stop = CancellationToken::new();
    let dispatch =
        (!args.dispatch_paused).then(|| tokio::spawn(dispatcher.run(dispatch_stop.clone())));

    // on a signal: stop claiming and let in-flight sends finish (they may talk to the simulator
    // on this very server), then stop accepting HTTP and finish in-flight requests
    let http_stop = CancellationToken::new();
    {
        let (stop, http_stop, dispatch_stop) =
            (stop.clone(), http_stop.clone(), dispatch_stop.clone());
        tokio::spawn(async move {
            stop.cancelled().await;
            dispatch_stop.cancel();
            if let Some(d) = dispatch {
                let _ = d.await;
            }
            http_stop.cancel();
        });
    }
    let mut app =
        opencams_api::router(state.clone()).merge(crate::embedded_sim::routes(&sim, &sim_token));
    // the console: with the API, on a listener of its own, or not at all
    let mut console_server = None;
    if !args.no_console {
        let console = opencams_api::console::router(state.clone());
        match &args.console_listen {
            None => app = app.merge(console),
            Some(at) => {
                let addr: SocketAddr = at.parse().with_context(|| {
                    format!("--console-listen {at:?} is not an address like 127.0.0.1:8081")
                })?;
                let l = tokio::net::TcpListener::bind(addr)
                    .await
                    .with_context(|| format!("cannot listen on {addr} for the console"))?;
                println!("opencams console on http://{}/console", l.local_addr()?);
                let stop = http_stop.clone();
                console_server = Some(tokio::spawn(async move {
                    axum::serve(
                        l,
                        console.into_make_service_with_connect_info::<SocketAddr>(),
                    )
                    .with_graceful_shutdown(stop.cancelled_owned())
                    .await
                }));
            }
        }
    }
    drop(state);
    println!("opencams listening on http://{local}");
    tracing::info!(%local, data_dir = %storage.data_dir.display(), "opencams serving");
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(http_stop.cancelled_owned())
    .await
    .context("server failed")?;
    if let Some(c) = console_server {
        c.await?.context("console server failed")?;
    }
    // the router (and with it the nonce sender) is gone: let the workers drain, then close
    workers.cancel();
    let _ = reviews.await;
    let _ = fallback_task.await;
    let _ = callbacks.await;
    let _ = nonce_task.await;
    store.close().await;
    tracing::info!("opencams stopped cleanly");
    Ok(())
}

/// A random 32-bit prefix for this process's ids (std's hasher keys are random per process).
/// The API's webhook edge served by the dispatch ingest.
struct WebhookIngest(opencams_dispatch::ingest::Ingest);

#[async_trait::async_trait]
impl opencams_api::webhooks::WebhookIngest for WebhookIngest {
    async fn receive(
        &self,
        signature: Option<&str>,
        body: &[u8],
    ) -> opencams_api::webhooks::IngestAnswer {
        use opencams_api::webhooks::IngestAnswer as A;
        use opencams_dispatch::ingest::IngestOutcome as O;
        match self.0.receive(signature, body).await {
            O::Ok { templates_changed } => A::Ok { templates_changed },
            O::MissingSignature => A::MissingSignature,
            O::BadSignature => A::BadSignature,
            O::Malformed(reason) => A::Malformed(reason),
            O::Unavailable => A::Unavailable,
        }
    }
}

fn process_id_prefix() -> u32 {
    use std::hash::BuildHasher;
    std::collections::hash_map::RandomState::new().hash_one(std::process::id()) as u32
}

fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("OPENCAMS_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

async fn wait_for_signal(token: CancellationToken) {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot listen for SIGTERM");
                    let _ = ctrl_c.await;
                    token.cancel();
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {},
            _ = term.recv() => {},
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
    tracing::info!("shutting down: finishing in-flight requests");
    token.cancel();
}

/// First start: an account, a key and a sender number, printed once with an SDK snippet.
async fn bootstrap(store: &dyn Store, addr: SocketAddr) -> anyhow::Result<()> {
    let now = super::now_ms();
    let account = store.create_account("default", now).await?;
    let key = store
        .create_key(
            NewKey {
                account_id: account.id,
                actions: None,
                spaces: None,
            },
            now,
        )
        .await?;
    store
        .add_number(
            NewNumber {
                account_id: account.id,
                space_id: account.default_space.clone(),
                phone: BOOTSTRAP_NUMBER.into(),
                channel: "simulator".into(),
                verified_name: "opencams".into(),
                throughput_mps: 80,
                cloud: None,
            },
            now,
        )
        .await?;
    let console_password = opencams_api::console::password::generate();
    let hash = opencams_api::console::password::hash(&console_password)
        .map_err(|e| anyhow::anyhow!("cannot hash the console password: {e}"))?;
    store
        .create_user(
            opencams_store::NewConsoleUser {
                account_id: account.id,
                email: BOOTSTRAP_USER.into(),
                role: opencams_store::Role::Admin,
                password_hash: hash,
            },
            now,
        )
        .await?;
    let endpoint = addr.to_string();
    println!(
        r#"opencams: first start on an empty database; created:
  account          default
  CustSpaceId      {space}
  AccessKeyId      {id}
  AccessKeySecret  {secret}   (shown only now)
  sender number    {number} (channel simulator)
  console user     {user} (admin)
  console password {console_password}   (shown only now; change it with `opencams user password`)

Try it with the official SDK (pip install alibabacloud-cams20200606):

from alibabacloud_tea_openapi.models import Config
from alibabacloud_cams20200606.client import Client
from alibabacloud_cams20200606 import models

client = Client(Config(access_key_id="{id}", access_key_secret="{secret}",
                       endpoint="{endpoint}", protocol="http"))
print(client.query_chatapp_phone_numbers(models.QueryChatappPhoneNumbersRequest()).body)
"#,
        space = account.default_space,
        id = key.id,
        secret = key.secret.expose(),
        number = BOOTSTRAP_NUMBER,
        user = BOOTSTRAP_USER,
    );
    Ok(())
}

/// Clears what this node caches of what other nodes change (keys, settings, numbers, templates),
/// as the shared store notifies it, until the server is gone.
async fn forget_changes(
    mut changes: tokio::sync::broadcast::Receiver<opencams_store::Change>,
    state: std::sync::Weak<opencams_api::AppState>,
) {
    use tokio::sync::broadcast::error::RecvError;
    loop {
        let change = match changes.recv().await {
            Ok(c) => c,
            Err(RecvError::Lagged(_)) => opencams_store::Change::Everything,
            Err(RecvError::Closed) => return,
        };
        let Some(state) = state.upgrade() else { return };
        state.cache.forget(change);
        if matches!(
            change,
            opencams_store::Change::Accounts
                | opencams_store::Change::Keys
                | opencams_store::Change::Everything
        ) {
            state.principals.invalidate();
        }
    }
}
