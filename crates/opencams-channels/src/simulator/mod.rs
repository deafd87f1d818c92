//! A faithful, in-process fake of Meta's WhatsApp Cloud API (Graph API), so that opencams —
//! and anyone testing a Cloud API client — can send, receive and watch messages with no Meta
//! account. It serves the Graph routes (messages, media, template management), enforces the
//! rules of whatsapp-cloud-api.md §1–§6 (payload validation, auth, 24-hour window, throughput,
//! pair rate, template status and parameters), and emits signed webhooks (statuses, inbound
//! messages, template events) with retries. It keeps its state in memory and never touches a
//! database; time comes from an injected [`Clock`].
//!
//! # Scenarios
//!
//! The last four digits of the recipient (`to`) choose how a message behaves after the
//! simulator accepts it. Any other number behaves like `…0000`.
//!
//! | `to` ends in | behaviour |
//! |---|---|
//! | `0000` | normal: `sent` → `delivered` → `read` |
//! | `0001` | never delivered: `sent` only |
//! | `0002` | `sent`, then `failed` 131026 (undeliverable) |
//! | `0003` | not a WhatsApp user: HTTP 200, then `failed` 131026 with no `sent` |
//! | `0004` | normal, and after `delivered` the user writes back a text "auto-reply" (opens the window) |
//! | `0005` | no read receipts: `sent` → `delivered` |
//! | `0006` | the first two sends to the number answer HTTP 500 code 131000, later sends succeed |
//! | `0007` | messages with media (media types, media headers) get `failed` 131053; others are normal |
//! | `0008` | every second send to the number answers HTTP 400 code 130429 |
//! | `0009` | out of order: `read` arrives before `delivered` |
//!
//! Reactions only ever get `sent`. Non-template sends outside the 24-hour window fail with
//! 131047 (async by default, sync with `window_mode_sync`). Faults injected with
//! [`Simulator::fail_next`] take precedence over scenarios. Chaos switches in [`SimConfig`]
//! (`out_of_order`, `chaos_skip_delivered`, `chaos_duplicates`, `voice_played`,
//! `messaging_limit`) pick their victims by a hash of the wamid, so runs are reproducible.

mod config;
mod directory;
mod errors;
mod faults;
mod fields;
mod ids;
mod in_process;
mod inbound;
mod media;
mod routes;
mod scenarios;
mod send;
mod state;
mod template_api;
mod template_store;
mod templates;
mod validate;
mod validate_interactive;
mod validate_template;
mod webhooks;
mod worker;

use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::Duration;

pub use opencams_domain::Clock;
use serde_json::Value;
use tokio::sync::Notify;

pub use config::{
    NumberDirectory, SimConfig, SimNumber, SimTemplate, StaticNumbers, TemplateDirectory,
    WebhookSink,
};
pub use directory::{sim_status, sim_template};
pub use errors::{GraphError, SimError};
pub use faults::{Fault, FaultKind};
pub use ids::bsuid;
pub use in_process::{InProcessGraph, admin_router};
pub use scenarios::{Scenario, scenario_for};
pub use state::{SentRecord, WebhookAttempt};
pub use validate::{SendRequest, validate_send};
pub use webhooks::{escape_non_ascii, sign};

use state::State;

/// The simulator. Create it with [`Simulator::new`], mount [`Simulator::router`], and run
/// [`Simulator::start`] for the timed parts (statuses, reviews, webhook delivery).
pub struct Simulator {
    cfg: SimConfig,
    numbers: Arc<dyn NumberDirectory>,
    template_dir: RwLock<Option<Arc<dyn TemplateDirectory>>>,
    webhook_sink: RwLock<Option<Arc<dyn WebhookSink>>>,
    clock: Arc<dyn Clock>,
    state: Mutex<State>,
    wake: Notify,
    http: reqwest::Client,
}

impl std::fmt::Debug for Simulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Simulator")
            .field("webhook_url", &self.cfg.webhook_url)
            .finish_non_exhaustive()
    }
}

impl Simulator {
    pub fn new(
        cfg: SimConfig,
        numbers: Arc<dyn NumberDirectory>,
        clock: Arc<dyn Clock>,
    ) -> Arc<Self> {
        // Webhook targets are local in development; a proxy from the environment would break them.
        let http = reqwest::Client::builder()
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_millis(cfg.webhook_timeout_ms.max(1)))
            .build()
            .unwrap_or_default();
        Arc::new(Self {
            cfg,
            numbers,
            template_dir: RwLock::new(None),
            webhook_sink: RwLock::new(None),
            clock,
            state: Mutex::new(State::default()),
            wake: Notify::new(),
            http,
        })
    }

    pub fn config(&self) -> &SimConfig {
        &self.cfg
    }

    /// Delivers webhooks to `sink` instead of POSTing them to `webhook_url` (which must still be
    /// set: it is what the attempts record).
    pub fn set_webhook_sink(&self, sink: Arc<dyn WebhookSink>) {
        *self.webhook_sink.write().unwrap_or_else(|e| e.into_inner()) = Some(sink);
    }

    fn webhook_sink(&self) -> Option<Arc<dyn WebhookSink>> {
        self.webhook_sink
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Plugs in an external template store; its answers win over the simulator's own store.
    pub fn set_template_directory(&self, dir: Arc<dyn TemplateDirectory>) {
        *self.template_dir.write().unwrap_or_else(|e| e.into_inner()) = Some(dir);
    }

    /// Every message the simulator accepted, in order.
    pub fn sent(&self) -> Vec<SentRecord> {
        self.lock().sent.clone()
    }

    /// Every webhook delivery attempt, in order.
    pub fn webhook_attempts(&self) -> Vec<WebhookAttempt> {
        self.lock().attempts.clone()
    }

    /// Every webhook payload emitted (also without a webhook URL), in order.
    pub fn emitted_webhooks(&self) -> Vec<Value> {
        self.lock().emitted.clone()
    }

    /// Scripts a fault for coming sends (or webhooks, for [`Fault::bad_signature`]).
    pub fn fail_next(&self, fault: Fault) {
        self.lock().faults.push(fault);
    }

    /// Makes the Cloud API report `wa_id` for sends to `to` (Meta normalises some countries'
    /// numbers, so `contacts[].wa_id` may differ from `input`).
    pub fn map_wa_id(&self, to: &str, wa_id: &str) {
        let key = validate::normalise_number(to).unwrap_or_else(|| to.to_string());
        self.lock().wa_ids.insert(key, wa_id.to_string());
    }

    /// Whether the 24-hour window of (`phone_number_id`, `wa_id`) is open now.
    pub fn window_open(&self, phone_number_id: &str, wa_id: &str) -> bool {
        let now = self.clock.now_ms();
        let st = self.lock();
        st.windows
            .get(&(phone_number_id.to_string(), wa_id.to_string()))
            .is_some_and(|t| now - t < send::WINDOW_MS)
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave the state half-updated in a way that
        // matters for a simulator; keep serving.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn template_directory(&self) -> Option<Arc<dyn TemplateDirectory>> {
        self.template_dir
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}
