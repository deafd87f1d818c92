//! The built-in simulator as template reviewer: after a configurable delay it decides each
//! template awaiting review. It approves what the linter accepts, with one rule of its own so
//! tests can exercise rejection: a template whose name contains `reject` is rejected. Each
//! decision is a ChatAppAudit event.

use std::sync::Arc;
use std::time::Duration;

use opencams_domain::Clock;
use opencams_domain::template::{self, AuditStatus, Category, TemplateDraft};
use opencams_store::{NewEvent, Store, TemplateRow, events};
use tokio_util::sync::CancellationToken;

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

/// Decides every due review once; returns how many were decided.
pub async fn review_due(store: &dyn Store, clock: &dyn Clock) -> usize {
    let now = clock.now_ms();
    let due = match store.due_template_reviews(now, 100).await {
        Ok(d) => d,
        Err(e) => {
            tracing::warn!(error = %e, "cannot read due template reviews");
            return 0;
        }
    };
    let mut n = 0;
    for row in due {
        let (status, reason) = decide(&row);
        let event = audit_event(&row, status, &reason);
        match store
            .set_template_status(row.id, status, &reason, Some(event), now)
            .await
        {
            Ok(_) => n += 1,
            Err(e) => tracing::warn!(error = %e, template = %row.code, "recording a review failed"),
        }
    }
    n
}

/// Polls for due reviews until shut down.
pub async fn run(
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    tick: Duration,
    shutdown: CancellationToken,
) {
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = tokio::time::sleep(tick) => {}
        }
        review_due(store.as_ref(), clock.as_ref()).await;
    }
}
