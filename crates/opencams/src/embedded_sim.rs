//! Wiring of the built-in Cloud API simulator into `opencams serve`: it is mounted under
//! `/simulator/graph` on the same server and fed by the store (opencams's `simulator` numbers and
//! templates). What is here only reads the store, settings and files and hands them on; the
//! formats live in `opencams-channels`: the store-backed [`StoreNumbers`] and [`StoreTemplates`]
//! call the simulator's mappings (`SimNumber::simulated`, `sim_template`), [`CloudSubmitter`]
//! calls the `whatsapp-cloud` adapter's template submission, and [`routes`] mounts the
//! simulator's Graph routes and its `/simulator/inbound` admin route ([`SimulatedUsers`] does
//! the same for the console's Phone page, in process). Inside the server, sends
//! and webhooks skip the loopback socket but not the protocol: the dispatcher hands the
//! `whatsapp-cloud` adapter's Graph request to the simulator ([`InProcessGraph`]), and the
//! simulator hands its signed webhook bodies to the `/webhooks/whatsapp` handler
//! ([`InProcessWebhooks`]), which checks the signature as for Meta. Over HTTP the simulator
//! answers anyone else (`opencams simulate`, curl, SDKs).

use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use opencams_channels::ids::simulated_phone_number_id;
use opencams_channels::simulator::{
    InProcessGraph, NumberDirectory, SimNumber, SimTemplate, TemplateDirectory, sim_template,
};
use opencams_domain::template;
use opencams_store::Store;
use opencams_store::cache::{StoreCache, TemplateVersions};

/// Where the simulator is mounted.
pub const MOUNT: &str = "/simulator/graph";

/// The simulator's access token, kept (0600) in the data directory so admin commands such as
/// `opencams simulate inbound` can reach the running simulator.
pub fn load_or_create_token(data_dir: &Path) -> anyhow::Result<String> {
    let path = data_dir.join("simulator.token");
    if let Ok(t) = std::fs::read_to_string(&path)
        && !t.trim().is_empty()
    {
        return Ok(t.trim().to_string());
    }
    let token = format!("SIM{}", opencams_protocol::envelope::nonce());
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    use std::io::Write;
    opts.open(&path)?.write_all(token.as_bytes())?;
    Ok(token)
}

/// opencams's `simulator` numbers, as the simulator sees them: read through the shared store
/// cache (the simulator looks a number up on every send).
pub struct StoreNumbers {
    pub cache: Arc<StoreCache>,
    pub token: String,
}

#[async_trait]
impl NumberDirectory for StoreNumbers {
    async fn lookup(&self, phone_number_id: &str) -> Option<SimNumber> {
        let phone = phone_number_id.strip_prefix('1')?;
        let n = self.cache.number(phone).await.ok()?;
        n.filter(|n| n.channel == "simulator")
            .map(|n| SimNumber::simulated(&n.phone, &n.space_id, &self.token, n.throughput_mps))
    }

    async fn waba_numbers(&self, waba_id: &str) -> Vec<SimNumber> {
        let filter = opencams_store::NumberFilter {
            space_id: Some(waba_id.to_string()),
            ..Default::default()
        };
        let list = self
            .cache
            .store()
            .list_numbers(filter)
            .await
            .unwrap_or_default();
        list.into_iter()
            .filter(|n| n.channel == "simulator")
            .map(|n| SimNumber::simulated(&n.phone, &n.space_id, &self.token, n.throughput_mps))
            .collect()
    }
}

/// opencams's templates, as the simulator checks template sends against them: the versions are
/// read through the shared store cache, and the simulator's view of each is derived once per
/// version read (kept beside the version it was derived from, so it is never staler than it).
pub struct StoreTemplates {
    pub cache: Arc<StoreCache>,
    /// The derived views, by the versions (the cache's `Arc`) they were derived from.
    views: std::sync::Mutex<Vec<(TemplateVersions, usize, Option<SimTemplate>)>>,
}

impl StoreTemplates {
    pub fn new(cache: Arc<StoreCache>) -> Self {
        Self {
            cache,
            views: std::sync::Mutex::new(Vec::new()),
        }
    }
}

#[async_trait]
impl TemplateDirectory for StoreTemplates {
    async fn lookup(&self, waba_id: &str, name: &str, language: &str) -> Option<SimTemplate> {
        let versions = self.cache.templates_by_name(waba_id, name).await.ok()?;
        let at = versions.iter().position(|v| v.row.language == language)?;
        if let Ok(views) = self.views.lock()
            && let Some((_, _, view)) = views
                .iter()
                .find(|(v, i, _)| Arc::ptr_eq(v, &versions) && *i == at)
        {
            return view.clone();
        }
        let view = versions[at].parsed.as_ref().ok().map(|t| {
            sim_template(
                &t.row.name,
                &t.row.language,
                t.category,
                &t.components,
                t.row.audit_status,
            )
        });
        if let Ok(mut views) = self.views.lock() {
            // views of versions the cache has let go of are dropped with them
            views.retain(|(v, _, _)| Arc::strong_count(v) > 1);
            views.push((versions, at, view.clone()));
        }
        view
    }
}

/// Knobs of the built-in simulator.
#[derive(Debug, clap::Args)]
pub struct SimArgs {
    /// Simulator: delay before the `sent` status, ms
    #[arg(long, env = "OPENCAMS_SIM_SENT_DELAY_MS", default_value_t = 100)]
    pub sim_sent_delay_ms: u64,
    /// Simulator: delay before `delivered`, ms
    #[arg(long, env = "OPENCAMS_SIM_DELIVERED_DELAY_MS", default_value_t = 1000)]
    pub sim_delivered_delay_ms: u64,
    /// Simulator: delay before `read`, ms
    #[arg(long, env = "OPENCAMS_SIM_READ_DELAY_MS", default_value_t = 3000)]
    pub sim_read_delay_ms: u64,
    /// Simulator: random extra delay, ms
    #[arg(long, env = "OPENCAMS_SIM_JITTER_MS", default_value_t = 200)]
    pub sim_jitter_ms: u64,
    /// Simulator: sometimes deliver `read` before `delivered`
    #[arg(long, env = "OPENCAMS_SIM_OUT_OF_ORDER", value_parser = clap::builder::BoolishValueParser::new(), default_value_t = false, num_args = 0..=1, default_missing_value = "true")]
    pub sim_out_of_order: bool,
    /// Simulator: statuses of one number due together share one webhook POST (up to 100), as
    /// Meta does under load; off, every status is its own POST
    #[arg(long, env = "OPENCAMS_SIM_BATCH_STATUSES", value_parser = clap::builder::BoolishValueParser::new(), default_value_t = false, num_args = 0..=1, default_missing_value = "true")]
    pub sim_batch_statuses: bool,
}

/// Builds and starts the embedded simulator.
pub fn start(
    args: &SimArgs,
    cache: Arc<StoreCache>,
    clock: Arc<dyn opencams_domain::Clock>,
    token: &str,
    app_secret: &str,
    local: std::net::SocketAddr,
    shutdown: tokio_util::sync::CancellationToken,
) -> Arc<opencams_channels::simulator::Simulator> {
    let cfg = opencams_channels::simulator::SimConfig {
        app_secret: app_secret.to_string(),
        webhook_url: Some(format!("http://{local}/webhooks/whatsapp")),
        sent_delay_ms: args.sim_sent_delay_ms,
        delivered_delay_ms: args.sim_delivered_delay_ms,
        read_delay_ms: args.sim_read_delay_ms,
        jitter_ms: args.sim_jitter_ms,
        out_of_order: args.sim_out_of_order,
        chaos_batch: args.sim_batch_statuses,
        public_base_url: Some(format!("http://{local}{MOUNT}")),
        // the embedded simulator's logs of sends and webhooks are only for inspection and
        // nothing reads them in `serve` (the store keeps what matters): keep none
        history_limit: 0,
        ..Default::default()
    };
    let numbers = Arc::new(StoreNumbers {
        cache: cache.clone(),
        token: token.to_string(),
    });
    let sim = opencams_channels::simulator::Simulator::new(cfg, numbers, clock);
    sim.set_template_directory(Arc::new(StoreTemplates::new(cache)));
    // the simulator's worker stops with `shutdown`; nothing needs to wait for it
    drop(sim.start(shutdown));
    sim
}

/// Hands the built-in simulator's signed webhooks to this server's own `/webhooks/whatsapp`
/// handler in process: the same body, the same `X-Hub-Signature-256` check, the same answer, without
/// a loopback socket. It holds the server state weakly, so it never keeps a stopping server alive.
pub struct InProcessWebhooks {
    pub state: std::sync::Weak<opencams_api::AppState>,
}

#[async_trait]
impl opencams_channels::simulator::WebhookSink for InProcessWebhooks {
    async fn deliver(&self, body: &str, signature: &str) -> Result<u16, String> {
        use axum::http::{HeaderMap, HeaderValue, header};
        let state = self.state.upgrade().ok_or("the server is stopping")?;
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        headers.insert(
            "x-hub-signature-256",
            HeaderValue::from_str(signature).map_err(|e| e.to_string())?,
        );
        let resp = opencams_api::webhooks::receive(
            axum::extract::State(state),
            headers,
            axum::body::Body::from(body.to_string()),
        )
        .await;
        Ok(resp.status().as_u16())
    }
}

/// The simulator's users as the console's Phone page reaches them: a user writes to a
/// `simulator` number as `/simulator/inbound` makes one write, in process.
pub struct SimulatedUsers {
    pub sim: Arc<opencams_channels::simulator::Simulator>,
}

#[async_trait]
impl opencams_api::state::SimulatedUsers for SimulatedUsers {
    async fn write(
        &self,
        business: &str,
        user: &str,
        name: &str,
        message: serde_json::Value,
    ) -> Result<String, String> {
        self.sim
            .inject_inbound(&simulated_phone_number_id(business), user, name, message)
            .await
            .map_err(|e| e.to_string())
    }
}

/// The dispatcher: the `whatsapp-cloud` adapter for real Cloud numbers, [`InProcessGraph`] for
/// the built-in simulator's; its send tokens come from `limits`.
pub fn dispatcher(
    cache: Arc<StoreCache>,
    clock: Arc<dyn opencams_domain::Clock>,
    token: &str,
    sim: &Arc<opencams_channels::simulator::Simulator>,
    config: opencams_dispatch::worker::DispatchConfig,
    owner: String,
    limits: opencams_dispatch::limits::SendLimits,
) -> anyhow::Result<Arc<opencams_dispatch::worker::Dispatcher>> {
    use opencams_channels::whatsapp_cloud::{DEFAULT_API_BASE, DEFAULT_API_VERSION, WhatsAppCloud};
    let cloud: Arc<dyn opencams_channels::Channel> =
        Arc::new(WhatsAppCloud::new(std::time::Duration::from_secs(15))?);
    let embedded: Arc<dyn opencams_channels::Channel> = Arc::new(InProcessGraph::new(sim.clone()));
    // the in-process channel ignores the base; it names the simulator in logs
    let sim_base = format!("in-process:{MOUNT}");
    let token = token.to_string();
    let router = opencams_dispatch::worker::ChannelMap {
        channels: [
            ("whatsapp-cloud".to_string(), cloud),
            ("simulator".to_string(), embedded),
        ]
        .into_iter()
        .collect(),
        configure: Box::new(move |n| match &n.cloud {
            Some(c) => Some(opencams_channels::NumberConfig {
                phone_number_id: c.phone_number_id.clone(),
                access_token: c.access_token.as_ref()?.expose().to_string(),
                api_base: c
                    .api_base
                    .clone()
                    .unwrap_or_else(|| DEFAULT_API_BASE.into()),
                api_version: c
                    .api_version
                    .clone()
                    .unwrap_or_else(|| DEFAULT_API_VERSION.into()),
            }),
            None => Some(opencams_channels::NumberConfig {
                phone_number_id: simulated_phone_number_id(&n.phone),
                access_token: token.clone(),
                api_base: sim_base.clone(),
                api_version: DEFAULT_API_VERSION.into(),
            }),
        }),
    };
    Ok(opencams_dispatch::worker::Dispatcher::with_limits(
        cache,
        clock,
        Arc::new(router),
        config,
        owner,
        limits,
    ))
}

/// The simulator's Graph routes and the admin route `opencams simulate` uses.
pub fn routes(sim: &Arc<opencams_channels::simulator::Simulator>, token: &str) -> axum::Router {
    opencams_channels::simulator::admin_router(sim, token).nest(MOUNT, sim.router())
}

/// Submits templates of spaces that have a `whatsapp-cloud` number to that WABA (Meta reviews;
/// the exchange is the `whatsapp-cloud` adapter's [`submit_template`]); other spaces are reviewed
/// by the built-in simulator.
///
/// [`submit_template`]: opencams_channels::whatsapp_cloud::WhatsAppCloud::submit_template
pub struct CloudSubmitter {
    pub store: Arc<dyn Store>,
    pub cloud: opencams_channels::whatsapp_cloud::WhatsAppCloud,
}

#[async_trait]
impl opencams_api::review::TemplateSubmitter for CloudSubmitter {
    async fn submit(
        &self,
        space_id: &str,
        draft: &template::TemplateDraft,
        existing: Option<&str>,
    ) -> Result<opencams_api::review::Submitted, opencams_protocol::CamsError> {
        use opencams_api::review::Submitted;
        use opencams_channels::whatsapp_cloud::WabaConfig;
        let filter = opencams_store::NumberFilter {
            space_id: Some(space_id.to_string()),
            ..Default::default()
        };
        let numbers = self
            .store
            .list_numbers(filter)
            .await
            .map_err(opencams_api::context::internal)?;
        let waba = numbers.iter().find_map(|n| {
            let c = n.cloud.as_ref()?;
            Some(WabaConfig::new(
                &c.waba_id,
                c.access_token.as_ref()?.expose(),
                c.api_base.as_deref(),
                c.api_version.as_deref(),
            ))
        });
        let Some(waba) = waba else {
            return Ok(Submitted::BySimulator);
        };
        let id = self
            .cloud
            .submit_template(&waba, draft, existing)
            .await
            .map_err(|e| {
                opencams_protocol::CamsError::new(
                    opencams_protocol::Code::CreateError,
                    e.to_string(),
                )
            })?;
        Ok(Submitted::ToProvider(id))
    }
}
