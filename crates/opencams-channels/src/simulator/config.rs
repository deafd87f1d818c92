//! Configuration of the simulator and the two directories it consults: the business numbers it
//! serves (with their access tokens) and, optionally, an external template store that wins over
//! the simulator's own.

use std::collections::HashMap;
use std::sync::RwLock;

use async_trait::async_trait;

/// Tunables. Defaults follow Meta's observed behaviour (see whatsapp-cloud-api.md §4, §7).
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// HMAC key for `X-Hub-Signature-256`.
    pub app_secret: String,
    /// Where webhooks are POSTed; `None` keeps them in [`super::Simulator::emitted_webhooks`] only.
    pub webhook_url: Option<String>,
    pub sent_delay_ms: u64,
    /// Delay from `sent` to `delivered`.
    pub delivered_delay_ms: u64,
    /// Delay from `delivered` to `read`.
    pub read_delay_ms: u64,
    /// Upper bound of the deterministic per-status jitter added to each delay.
    pub jitter_ms: u64,
    /// About one message in ten gets `read` before `delivered` (chosen by a hash of its wamid).
    pub out_of_order: bool,
    pub review_delay_ms: u64,
    /// Used when a number's own `throughput_mps` is 0.
    pub default_throughput_mps: u32,
    pub pair_capacity: u32,
    pub pair_refill_ms: u64,
    /// Unknown top-level request fields are rejected with code 100.
    pub strict: bool,
    /// Outside the 24-hour window: `false` answers 200 and fails later with 131047 (Meta's
    /// usual behaviour); `true` answers 400 131047 at once.
    pub window_mode_sync: bool,
    /// How long one webhook POST may take before it counts as failed and is retried.
    pub webhook_timeout_ms: u64,
    /// Retries stop this long after the first attempt (Meta: 7 days; compressed here).
    pub webhook_retry_for_ms: u64,
    /// Base of media download URLs (`http://host:port/prefix`); when `None` it is derived from
    /// the request's `Host` header and mount point.
    pub public_base_url: Option<String>,
    /// How many entries `sent()`, `webhook_attempts()` and `emitted_webhooks()` keep; older
    /// ones are dropped so a long-running server does not grow without bound. 0 keeps none.
    pub history_limit: usize,
    /// Business-initiated reach per WABA: unique users messaged outside an open window in a
    /// moving 24 h (§4.4). `None` is unlimited; Meta's entry tier is 250.
    pub messaging_limit: Option<u32>,
    /// The `failed` code for sends over the messaging limit (Meta documents none).
    pub messaging_limit_code: u32,
    /// Chaos: about one status POST in ten is delivered twice.
    pub chaos_duplicates: bool,
    /// Chaos: statuses of one number due within 10 ms share one POST (Meta usually sends one
    /// status per POST; receivers must still iterate arrays).
    pub chaos_batch: bool,
    /// Chaos: about one message in ten skips `delivered` (read follows sent directly).
    pub chaos_skip_delivered: bool,
    /// Audio messages also get `played` after `read` (voice notes).
    pub voice_played: bool,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            app_secret: "simulator-app-secret".into(),
            webhook_url: None,
            sent_delay_ms: 100,
            delivered_delay_ms: 1000,
            read_delay_ms: 3000,
            jitter_ms: 200,
            out_of_order: false,
            review_delay_ms: 2000,
            default_throughput_mps: 80,
            pair_capacity: 45,
            pair_refill_ms: 6000,
            strict: true,
            window_mode_sync: false,
            webhook_timeout_ms: 5000,
            webhook_retry_for_ms: 10 * 60 * 1000,
            public_base_url: None,
            history_limit: 100_000,
            messaging_limit: None,
            messaging_limit_code: 131048,
            chaos_duplicates: false,
            chaos_batch: false,
            chaos_skip_delivered: false,
            voice_played: false,
        }
    }
}

/// One business phone number the simulator answers for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimNumber {
    pub phone_number_id: String,
    pub display_phone_number: String,
    pub waba_id: String,
    pub access_token: String,
    /// Messages per second; 0 means [`SimConfig::default_throughput_mps`].
    pub throughput_mps: u32,
}

/// Where webhooks go instead of an HTTP POST to `webhook_url`: a server that embeds the
/// simulator hands them to its own webhook handler.
#[async_trait]
pub trait WebhookSink: Send + Sync {
    /// Delivers one body with its `X-Hub-Signature-256`; the HTTP status the receiver answered,
    /// or why it could not answer.
    async fn deliver(&self, body: &str, signature: &str) -> Result<u16, String>;
}

/// Where the simulator finds business numbers (opencams plugs in its store).
#[async_trait]
pub trait NumberDirectory: Send + Sync {
    async fn lookup(&self, phone_number_id: &str) -> Option<SimNumber>;
    /// Numbers of one WhatsApp Business Account, used to authorise template management calls.
    /// The default knows none; the simulator then falls back to numbers it has already seen.
    async fn waba_numbers(&self, _waba_id: &str) -> Vec<SimNumber> {
        Vec::new()
    }
}

/// An in-memory [`NumberDirectory`].
#[derive(Debug, Default)]
pub struct StaticNumbers {
    numbers: RwLock<HashMap<String, SimNumber>>,
}

impl StaticNumbers {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn register(&self, number: SimNumber) {
        let mut map = self.numbers.write().unwrap_or_else(|e| e.into_inner());
        map.insert(number.phone_number_id.clone(), number);
    }
}

#[async_trait]
impl NumberDirectory for StaticNumbers {
    async fn lookup(&self, phone_number_id: &str) -> Option<SimNumber> {
        let map = self.numbers.read().unwrap_or_else(|e| e.into_inner());
        map.get(phone_number_id).cloned()
    }

    async fn waba_numbers(&self, waba_id: &str) -> Vec<SimNumber> {
        let map = self.numbers.read().unwrap_or_else(|e| e.into_inner());
        map.values()
            .filter(|n| n.waba_id == waba_id)
            .cloned()
            .collect()
    }
}

/// What a send needs to know about a template.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SimTemplate {
    pub name: String,
    pub language: String,
    /// APPROVED | PAUSED | DISABLED | PENDING | REJECTED
    pub status: String,
    /// MARKETING | UTILITY | AUTHENTICATION
    pub category: String,
    /// Variables of the body in order: `"1"`, `"2"`… for positional templates, names for
    /// `parameter_format: NAMED` ones.
    pub body_params: Vec<String>,
    /// The header's variable (text headers with `{{1}}` or `{{name}}`).
    pub header_param: Option<String>,
    /// TEXT | IMAGE | VIDEO | DOCUMENT | LOCATION
    pub header_format: Option<String>,
    /// Buttons that take a parameter: (index, sub_type) with sub_type `url`, `copy_code`,
    /// `flow`, `catalog`, `mpm`, `quick_reply`.
    pub button_params: Vec<(usize, String)>,
    /// Body text with its `{{…}}` markers, for the hydrated-length check (132005); optional.
    pub body_text: Option<String>,
}

/// A template store that wins over the simulator's own (opencams plugs in its store).
#[async_trait]
pub trait TemplateDirectory: Send + Sync {
    async fn lookup(&self, waba_id: &str, name: &str, language: &str) -> Option<SimTemplate>;
}
