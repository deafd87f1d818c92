//! The built-in simulator as template reviewer: after a configurable delay it decides each
//! template awaiting review. It approves what the linter accepts, with one rule of its own so
//! tests can exercise rejection: a template whose name contains `reject` is rejected. Each
//! decision is a ChatAppAudit event. Several nodes may run it on one store: reviews are claimed
//! with a lease, so each is decided once (one event).

use std::sync::Arc;
use std::time::Duration;

use opencams_domain::Clock;
use opencams_domain::template::{self, AuditStatus, Category, TemplateDraft};
use opencams_store::{NewEvent, Store, TemplateRow, events};
use tokio_util::sync::CancellationToken;

use crate::claim_loop::{self, Claimer, LoopConfig};

/// The simulator's verdict on a stored template.
pub fn decide(row: &TemplateRow) -> (AuditStatus, String) {
    if row.name.contains("reject") {
        return (
            AuditStatus::Fail,
            "INVALID_FORMAT: the simulator rejects templates whose name contains \"reject\"".into(),
        );
    }
    let linted = (|| {
        let draft = TemplateDraft {
            name: row.name.clone(),
            language: row.language.clone(),
            category: Category::parse(&row.category)?,
            components: template::parse_components(&row.components)?,
            example: template::parse_example(&row.example)?,
            message_send_ttl_seconds: row.message_send_ttl,
            category_change_paused: row.category_change_paused,
            product_set_id: row.product_set_id.clone(),
        };
        template::lint(&draft)
    })();
    match linted {
        Ok(()) => (AuditStatus::Pass, String::new()),
        Err(e) => (AuditStatus::Fail, format!("INVALID_FORMAT: {}", e.message)),
    }
}

/// The audit event of a decision.
pub fn audit_event(row: &TemplateRow, status: AuditStatus, reason: &str) -> NewEvent {
    events::audit_event(
        row.account_id,
        &row.space_id,
        &row.code,
        &row.name,
        &row.language,
        status,
        reason,
    )
}

/// Reviews claimed per pass.
const REVIEW_BATCH: u32 = 100;

/// How long a claimed review is held: a pass that dies before recording its decisions leaves
/// them to be claimed again (by any node) once this lapses.
pub const REVIEW_LEASE_MS: i64 = 30_000;

/// Claims every review due now for `owner` and decides it; returns how many were decided.
pub async fn review_due(store: &dyn Store, clock: &dyn Clock, owner: &str) -> usize {
    let now = clock.now_ms();
    match due(store, owner, now).await {
        Some(rows) => record(store, owner, now, rows).await,
        None => 0,
    }
}

/// The reviews due at `now` (at most one pass's worth), leased to `owner`; `None` when they
/// cannot be claimed.
async fn due(store: &dyn Store, owner: &str, now: i64) -> Option<Vec<TemplateRow>> {
    match store
        .claim_template_reviews(owner, now, REVIEW_LEASE_MS, REVIEW_BATCH)
        .await
    {
        Ok(d) => Some(d),
        Err(e) => {
            tracing::warn!(error = %e, "cannot claim due template reviews");
            None
        }
    }
}

/// Decides and records each review `owner` still holds (which ends its lease); returns how many
/// were recorded.
async fn record(store: &dyn Store, owner: &str, now: i64, due: Vec<TemplateRow>) -> usize {
    let mut n = 0;
    for row in due {
        let (status, reason) = decide(&row);
        let event = audit_event(&row, status, &reason);
        match store
            .finish_template_review(row.id, owner, status, &reason, Some(event), now)
            .await
        {
            Ok(Some(_)) => n += 1,
            Ok(None) => {
                tracing::info!(template = %row.code, "a review's lease passed on before its decision; not recorded")
            }
            Err(e) => tracing::warn!(error = %e, template = %row.code, "recording a review failed"),
        }
    }
    n
}

/// The simulated reviewer as a claim-loop worker. One item is a whole pass's reviews (claimed
/// at `now` for `owner`) and the loop runs one item at a time: a pass claims only after the
/// previous pass recorded its decisions. The lease keeps other nodes' reviewers off them.
pub struct Reviewer {
    pub store: Arc<dyn Store>,
    pub clock: Arc<dyn Clock>,
    /// The lease owner, unique to this node's reviewer.
    pub owner: String,
}

impl Reviewer {
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>, owner: String) -> Arc<Self> {
        Arc::new(Self {
            store,
            clock,
            owner,
        })
    }

    /// One pass at the clock's now; returns how many templates were decided.
    pub async fn tick(&self) -> usize {
        review_due(self.store.as_ref(), self.clock.as_ref(), &self.owner).await
    }
}

impl Claimer for Reviewer {
    type Item = (i64, Vec<TemplateRow>);

    async fn claim(&self, limit: u32) -> (Vec<(i64, Vec<TemplateRow>)>, bool) {
        if limit == 0 {
            return (Vec::new(), false);
        }
        let now = self.clock.now_ms();
        match due(self.store.as_ref(), &self.owner, now).await {
            Some(rows) if !rows.is_empty() => (vec![(now, rows)], false),
            _ => (Vec::new(), false),
        }
    }

    async fn process(&self, (now, rows): (i64, Vec<TemplateRow>)) {
        record(self.store.as_ref(), &self.owner, now, rows).await;
    }
}

/// Polls for due reviews every `tick` until shut down, claiming them as `owner`.
pub async fn run(
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    owner: String,
    tick: Duration,
    shutdown: CancellationToken,
) {
    let config = LoopConfig {
        concurrency: 1,
        batch: 1,
        poll_ms: u64::try_from(tick.as_millis()).unwrap_or(u64::MAX),
    };
    claim_loop::run(Reviewer::new(store, clock, owner), config, shutdown).await;
}
