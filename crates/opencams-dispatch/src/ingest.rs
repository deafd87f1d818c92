//! Provider webhooks applied to the store: a signed body is verified and parsed by the Cloud API
//! adapter (`opencams_channels::whatsapp_cloud::webhooks`) into typed events, and this ingest
//! applies them — statuses move messages forward monotonically (one `apply_statuses` write per
//! POST), inbound messages are stored once and open the 24-hour window, template status updates
//! feed the review lifecycle. Duplicates change nothing twice. It owns the numbers-by-graph-id
//! and secrets lookup webhooks need, cached for a second. The HTTP edge is the API's.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use opencams_channels::ids::{simulated_phone_number_id, simulated_waba_id};
use opencams_channels::whatsapp_cloud::webhooks::{
    self as cloud, InboundMessage, ProviderEvent, StatusReport,
};
use opencams_domain::template::AuditStatus;
use opencams_domain::{Clock, IdGenerator};
use opencams_store::cache::TtlCache;
use opencams_store::events::{self, StatusFacts};
use opencams_store::{
    EventBuilder, MessageRow, Number, NumberFilter, StatusUpdate, Store, StoreError,
};
use serde_json::json;

/// What became of one webhook POST.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IngestOutcome {
    /// Applied (or about nothing we track). `templates_changed`: a template's status changed,
    /// so caches of templates are stale.
    Ok { templates_changed: bool },
    /// No `X-Hub-Signature-256`.
    MissingSignature,
    /// Signed with no secret we hold.
    BadSignature,
    /// Not a WhatsApp Business Account webhook; the reason.
    Malformed(String),
    /// The store failed: the provider should deliver again later.
    Unavailable,
}

/// The numbers a webhook can be about, and the secrets it can be signed with.
pub struct WebhookNumbers {
    /// Every number, keyed by its Graph phone-number id.
    by_graph_id: HashMap<String, Number>,
    /// The numbers' own app secrets, then the configured ones.
    secrets: Vec<String>,
}

/// Applies provider webhooks to the store.
pub struct Ingest {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    /// Ids of stored inbound messages.
    ids: Arc<IdGenerator>,
    /// App secrets besides the numbers' own (the built-in simulator's).
    app_secrets: Vec<String>,
    /// Read once per TTL instead of once per webhook POST.
    numbers: TtlCache<(), Arc<WebhookNumbers>>,
}

impl Ingest {
    pub fn new(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        ids: Arc<IdGenerator>,
        app_secrets: Vec<String>,
    ) -> Self {
        Self {
            store,
            clock,
            ids,
            app_secrets,
            numbers: TtlCache::new(Duration::from_secs(1)),
        }
    }

    /// The numbers and secrets, cached for a second; `fresh` reads them again (a webhook for a
    /// number the cache does not know yet, or signed with a secret it does not hold).
    async fn webhook_numbers(&self, fresh: bool) -> Result<Arc<WebhookNumbers>, StoreError> {
        if !fresh && let Some(n) = self.numbers.get(&()) {
            return Ok(n);
        }
        let list = self.store.list_numbers(NumberFilter::default()).await?;
        let by_graph_id: HashMap<String, Number> = list
            .into_iter()
            .map(|n| {
                let id = match &n.cloud {
                    Some(c) => c.phone_number_id.clone(),
                    None => simulated_phone_number_id(&n.phone),
                };
                (id, n)
            })
            .collect();
        let mut secrets: Vec<String> = by_graph_id
            .values()
            .filter_map(|n| n.cloud.as_ref()?.app_secret.as_ref())
            .map(|s| s.expose().to_string())
            .collect();
        secrets.extend(self.app_secrets.iter().cloned());
        let numbers = Arc::new(WebhookNumbers {
            by_graph_id,
            secrets,
        });
        self.numbers.put((), numbers.clone());
        Ok(numbers)
    }

    /// One webhook POST: `signature` is its `X-Hub-Signature-256`, `body` the raw bytes it
    /// signs. Nothing is parsed before the signature is checked.
    pub async fn receive(&self, signature: Option<&str>, body: &[u8]) -> IngestOutcome {
        let Some(sig) = signature else {
            return IngestOutcome::MissingSignature;
        };
        let mut known = None;
        for fresh in [false, true] {
            let numbers = match self.webhook_numbers(fresh).await {
                Ok(n) => n,
                Err(e) => return unavailable("reading numbers for a webhook failed", &e),
            };
            if cloud::signature_ok(&numbers.secrets, body, sig) {
                known = Some(numbers);
                break;
            }
        }
        let Some(mut known) = known else {
            return IngestOutcome::BadSignature;
        };
        let events = match cloud::parse(body) {
            Ok(e) => e,
            Err(e) => return IngestOutcome::Malformed(e.to_string()),
        };
        let unknown_number = events.iter().any(|e| {
            e.phone_number_id()
                .is_some_and(|pid| !known.by_graph_id.contains_key(pid))
        });
        if unknown_number {
            match self.webhook_numbers(true).await {
                Ok(n) => known = n,
                Err(e) => return unavailable("reading numbers for a webhook failed", &e),
            }
        }
        match self.apply(&known.by_graph_id, events).await {
            Ok(templates_changed) => IngestOutcome::Ok { templates_changed },
            // a storage failure: ask the provider to deliver again later
            Err(e) => unavailable("processing a webhook failed", &e),
        }
    }

    /// Applies `events` in order; consecutive statuses are one write (Meta batches statuses,
    /// and so does the store). True when a template's status changed.
    async fn apply(
        &self,
        numbers: &HashMap<String, Number>,
        events: Vec<ProviderEvent>,
    ) -> Result<bool, StoreError> {
        let mut updates = Vec::new();
        let mut templates_changed = false;
        for event in events {
            if let Some(pid) = event.phone_number_id()
                && !numbers.contains_key(pid)
            {
                tracing::warn!(
                    phone_number_id = pid,
                    "webhook for an unknown phone number id"
                );
                continue;
            }
            if !matches!(event, ProviderEvent::Status(_)) && !updates.is_empty() {
                self.store
                    .apply_statuses(std::mem::take(&mut updates))
                    .await?;
            }
            match event {
                ProviderEvent::Status(report) => updates.push(self.status_update(report)),
                ProviderEvent::Inbound(m) => {
                    if let Some(number) = numbers.get(&m.phone_number_id) {
                        self.inbound(number, m).await?;
                    }
                }
                ProviderEvent::TemplateStatus {
                    waba_id,
                    name,
                    language,
                    status,
                    reason,
                } => {
                    templates_changed |= self
                        .template_status(numbers, &waba_id, &name, &language, status, &reason)
                        .await?;
                }
                ProviderEvent::ProviderError {
                    phone_number_id,
                    error,
                } => {
                    tracing::warn!(error = %error, phone_number_id, "the provider reported an error");
                }
            }
        }
        if !updates.is_empty() {
            self.store.apply_statuses(updates).await?;
        }
        Ok(templates_changed)
    }

    fn status_update(&self, s: StatusReport) -> (StatusUpdate, EventBuilder) {
        let at = s.at_ms.unwrap_or_else(|| self.clock.now_ms());
        let (code, desc) = match s.error {
            Some(e) => (e.code, Some(e.description)),
            None => (None, None),
        };
        let cams = s.status.cams_name();
        let update = StatusUpdate {
            provider_id: s.provider_id,
            message_id: s.message_id,
            status: s.status,
            at,
            error_code: code.clone(),
            error_description: desc.clone(),
        };
        let conversation = (s.conversation_type, s.conversation_id);
        let builder: EventBuilder = Box::new(move |m: &opencams_store::MessageStatusRow, _st| {
            let err = code.as_deref().zip(desc.as_deref());
            let mut facts = StatusFacts::new(cams, err, at);
            facts.conversation_type = conversation.0.clone();
            facts.conversation_id = conversation.1.clone();
            Some(events::status_event_of(m.account_id, &m.id, &facts))
        });
        (update, builder)
    }

    async fn inbound(&self, number: &Number, m: InboundMessage) -> Result<(), StoreError> {
        let at = m.at_ms.unwrap_or_else(|| self.clock.now_ms());
        let waba = number
            .cloud
            .as_ref()
            .map(|c| c.waba_id.clone())
            .unwrap_or_else(|| simulated_waba_id(&number.space_id));
        let row = MessageRow {
            id: self.ids.next(at),
            account_id: number.account_id,
            space_id: number.space_id.clone(),
            direction: opencams_domain::Direction::In,
            sender: number.phone.clone(),
            recipient: m.user,
            send_type: opencams_domain::SendType::Message,
            message_type: m.cloud_type,
            body: json!({"inbound": m.raw}).to_string(),
            context_id: m.context_id,
            status: opencams_domain::MessageStatus::Received,
            provider_id: Some(m.wamid),
            created_at: at,
            updated_at: at,
            ..Default::default()
        };
        let event = events::inbound_event(
            &row,
            &waba,
            &m.profile_name,
            m.cams_type,
            &m.text,
            m.context,
        );
        self.store.record_inbound(row, Some(event)).await?;
        Ok(())
    }

    /// Sets `status` on the `name`/`language` templates of every space on `waba`; true when one
    /// changed.
    async fn template_status(
        &self,
        numbers: &HashMap<String, Number>,
        waba: &str,
        name: &str,
        language: &str,
        status: AuditStatus,
        reason: &str,
    ) -> Result<bool, StoreError> {
        let spaces: BTreeSet<&str> = numbers
            .values()
            .filter(|n| {
                n.cloud
                    .as_ref()
                    .map(|c| c.waba_id.as_str())
                    .unwrap_or(&simulated_waba_id(&n.space_id))
                    == waba
            })
            .map(|n| n.space_id.as_str())
            .collect();
        let mut changed = false;
        for space in spaces {
            for row in self.store.templates_by_name(space, name).await? {
                if row.language != language || row.audit_status == status {
                    continue;
                }
                let event = events::audit_event(
                    row.account_id,
                    waba,
                    &row.code,
                    &row.name,
                    &row.language,
                    status,
                    reason,
                );
                self.store
                    .set_template_status(row.id, status, reason, Some(event), self.clock.now_ms())
                    .await?;
                changed = true;
            }
        }
        Ok(changed)
    }
}

fn unavailable(what: &str, e: &StoreError) -> IngestOutcome {
    tracing::error!(error = %e, "{what}");
    IngestOutcome::Unavailable
}
