//! Template language versions on PostgreSQL. Each write is one statement, followed by its event
//! (appended last, in the same transaction) when it has one; the live-name rule is the partial
//! unique index `templates_live_name`, so two nodes creating the same name at once get one
//! template and one conflict.

use std::sync::LazyLock;

use opencams_domain::template::AuditStatus;
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

use super::{PgStore, append_events, enum_col};
use crate::*;

const COLS: &str = "id, account_id, space_id, code, name, language, category, template_type, components, \
     example, audit_status, reason, quality_score, message_send_ttl, category_change_paused, product_set_id, \
     provider_id, review_due_at, created_at, updated_at";

/// Leases up to `$4` reviews due at `$3` (not held by a live lease) to `$1` until `$2`, skipping
/// those another claimer holds locked, earliest due first (ties in id order, as SQLite walks its
/// (review_due_at, rowid) index).
static CLAIM_REVIEWS_SQL: LazyLock<String> = LazyLock::new(|| {
    format!(
        "WITH due AS ( \
           SELECT id AS due_id FROM templates \
           WHERE review_due_at IS NOT NULL AND review_due_at <= $3 AND deleted_at IS NULL \
           AND (review_lease_until IS NULL OR review_lease_until <= $3) \
           ORDER BY review_due_at, id LIMIT $4 FOR UPDATE SKIP LOCKED), \
         claimed AS ( \
           UPDATE templates SET review_owner = $1, review_lease_until = $2 FROM due \
           WHERE templates.id = due.due_id \
           RETURNING {COLS}) \
         SELECT {COLS} FROM claimed ORDER BY review_due_at, id"
    )
});

/// The unique index that keeps one live template per (space, name, language).
const LIVE_NAME_INDEX: &str = "templates_live_name";

fn row(r: &Row) -> Result<TemplateRow> {
    Ok(TemplateRow {
        id: r.try_get(0)?,
        account_id: r.try_get(1)?,
        space_id: r.try_get(2)?,
        code: r.try_get(3)?,
        name: r.try_get(4)?,
        language: r.try_get(5)?,
        category: r.try_get(6)?,
        template_type: r.try_get(7)?,
        components: r.try_get(8)?,
        example: r.try_get(9)?,
        audit_status: enum_col(r, 10, AuditStatus::from_stored)?,
        reason: r.try_get(11)?,
        quality_score: r.try_get(12)?,
        message_send_ttl: r.try_get(13)?,
        category_change_paused: r.try_get(14)?,
        product_set_id: r.try_get(15)?,
        provider_id: r.try_get(16)?,
        review_due_at: r.try_get(17)?,
        created_at: r.try_get(18)?,
        updated_at: r.try_get(19)?,
    })
}

fn name_taken(t: &TemplateWrite) -> StoreError {
    StoreError::Conflict(format!(
        "a template named {:?} in language {} already exists",
        t.name, t.language
    ))
}

impl PgStore {
    /// Records a review outcome or quality change; with `owner`, only while that reviewer holds
    /// the review. `None` when no live template (held by `owner`) has that id; every node hears
    /// of a change.
    async fn record_status(
        &self,
        id: i64,
        owner: Option<&str>,
        status: AuditStatus,
        reason: &str,
        event: Option<NewEvent>,
        now: i64,
    ) -> Result<Option<TemplateRow>> {
        let params: [&(dyn ToSql + Sync); 5] = [&status.as_str(), &reason, &now, &id, &owner];
        let sql = format!(
            "UPDATE templates SET audit_status = $1, reason = $2, review_due_at = NULL, review_owner = NULL, \
             review_lease_until = NULL, updated_at = $3 \
             WHERE id = $4 AND deleted_at IS NULL AND ($5::text IS NULL OR review_owner = $5) \
             RETURNING {COLS}"
        );
        let recorded = self
            .write_template(&sql, &params, event, now, StoreError::from)
            .await?;
        if recorded.is_some() {
            self.changed(Change::Templates).await;
        }
        Ok(recorded)
    }

    /// Runs `sql`, which writes at most one template and returns it, then appends `event` in the
    /// same transaction when a template was written. Errors of `sql` go through `on_error`.
    async fn write_template(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
        event: Option<NewEvent>,
        now: i64,
        on_error: impl Fn(tokio_postgres::Error) -> StoreError + Send + Sync,
    ) -> Result<Option<TemplateRow>> {
        let mut c = self.client().await?;
        let Some(event) = event else {
            let stmt = c.prepare_cached(sql).await?;
            return c
                .query_opt(&stmt, params)
                .await
                .map_err(on_error)?
                .map(|r| row(&r))
                .transpose();
        };
        let tx = c.transaction().await?;
        let stmt = tx.prepare_cached(sql).await?;
        // nothing written: the transaction rolls back as it drops
        let Some(written) = tx.query_opt(&stmt, params).await.map_err(on_error)? else {
            return Ok(None);
        };
        let written = row(&written)?;
        append_events(&tx, &[event], now).await?;
        tx.commit().await?;
        Ok(Some(written))
    }

    /// Live templates of a space matching `filter` (parameters `$1` the space, `$2` the value).
    async fn select_templates(
        &self,
        space_id: &str,
        filter: &str,
        value: &str,
    ) -> Result<Vec<TemplateRow>> {
        let c = self.client().await?;
        let stmt = c
            .prepare_cached(&format!(
                "SELECT {COLS} FROM templates WHERE deleted_at IS NULL AND space_id = $1 AND {filter} \
                 ORDER BY id"
            ))
            .await?;
        c.query(&stmt, &[&space_id, &value])
            .await?
            .iter()
            .map(row)
            .collect()
    }
}

#[async_trait::async_trait]
impl TemplateStore for PgStore {
    async fn insert_template(
        &self,
        t: TemplateWrite,
        event: Option<NewEvent>,
        now: i64,
    ) -> Result<TemplateRow> {
        self.notifying(Change::Templates, async {
            // the name is checked first (as on SQLite, it wins over a taken code); a creation racing
            // this one past the check is refused by the live-name index, and reads the same
            let params: [&(dyn ToSql + Sync); 14] = [
                &t.account_id,
                &t.space_id,
                &t.code,
                &t.name,
                &t.language,
                &t.category,
                &t.components,
                &t.example,
                &t.message_send_ttl,
                &t.category_change_paused,
                &t.product_set_id,
                &t.review_due_at,
                &now,
                &t.provider_id,
            ];
            let sql = format!(
                "INSERT INTO templates (account_id, space_id, code, name, language, category, components, example, \
                 audit_status, message_send_ttl, category_change_paused, product_set_id, review_due_at, created_at, \
                 updated_at, provider_id) \
                 SELECT $1::bigint, $2::text, $3::text, $4::text, $5::text, $6::text, $7::text, $8::text, 'auditing', \
                 $9::bigint, $10::boolean, $11::text, $12::bigint, $13::bigint, $13::bigint, $14::text \
                 WHERE NOT EXISTS (SELECT 1 FROM templates WHERE space_id = $2 AND name = $4 AND language = $5 \
                 AND deleted_at IS NULL) \
                 RETURNING {COLS}"
            );
            let on_error = |e: tokio_postgres::Error| {
                let live_name = e
                    .as_db_error()
                    .is_some_and(|db| db.constraint() == Some(LIVE_NAME_INDEX));
                if live_name { name_taken(&t) } else { e.into() }
            };
            self.write_template(&sql, &params, event, now, on_error)
                .await?
                .ok_or_else(|| name_taken(&t))
        })
        .await
    }

    async fn templates_by_code(&self, space_id: &str, code: &str) -> Result<Vec<TemplateRow>> {
        self.select_templates(space_id, "code = $2", code).await
    }

    async fn templates_by_name(&self, space_id: &str, name: &str) -> Result<Vec<TemplateRow>> {
        self.select_templates(space_id, "name = $2", name).await
    }

    async fn modify_template(
        &self,
        id: i64,
        t: TemplateWrite,
        event: Option<NewEvent>,
        now: i64,
    ) -> Result<TemplateRow> {
        self.notifying(Change::Templates, async {
            let params: [&(dyn ToSql + Sync); 9] = [
                &t.components,
                &t.example,
                &t.message_send_ttl,
                &t.category_change_paused,
                &t.product_set_id,
                &t.review_due_at,
                &now,
                &id,
                &t.provider_id,
            ];
            let sql = format!(
                "UPDATE templates SET components = $1, example = $2, message_send_ttl = $3, \
                 category_change_paused = $4, product_set_id = $5, review_due_at = $6, review_owner = NULL, \
                 review_lease_until = NULL, audit_status = 'auditing', reason = '', updated_at = $7, \
                 provider_id = COALESCE($9, provider_id) \
                 WHERE id = $8 AND deleted_at IS NULL RETURNING {COLS}"
            );
            self.write_template(&sql, &params, event, now, StoreError::from)
                .await?
                .ok_or_else(|| StoreError::NotFound(format!("template {id}")))
        })
        .await
    }

    async fn set_template_status(
        &self,
        id: i64,
        status: AuditStatus,
        reason: &str,
        event: Option<NewEvent>,
        now: i64,
    ) -> Result<TemplateRow> {
        self.record_status(id, None, status, reason, event, now)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("template {id}")))
    }

    async fn finish_template_review(
        &self,
        id: i64,
        owner: &str,
        status: AuditStatus,
        reason: &str,
        event: Option<NewEvent>,
        now: i64,
    ) -> Result<Option<TemplateRow>> {
        self.record_status(id, Some(owner), status, reason, event, now)
            .await
    }

    async fn delete_templates(&self, ids: Vec<i64>, now: i64) -> Result<()> {
        self.notifying(Change::Templates, async {
            if ids.is_empty() {
                return Ok(());
            }
            let c = self.client().await?;
            let stmt = c
                .prepare_cached(
                    "UPDATE templates SET deleted_at = $1, review_due_at = NULL, review_owner = NULL, \
                     review_lease_until = NULL WHERE id = ANY($2)",
                )
                .await?;
            let params: [&(dyn ToSql + Sync); 2] = [&now, &ids];
            c.execute(&stmt, &params).await?;
            Ok(())
        })
        .await
    }

    async fn list_templates(&self, f: TemplateFilter) -> Result<(u64, Vec<TemplateRow>)> {
        let cond = "deleted_at IS NULL AND space_id = $1 AND ($2::text IS NULL OR name = $2) \
                    AND ($3::text IS NULL OR code = $3) AND ($4::text IS NULL OR language = $4) \
                    AND ($5::text IS NULL OR audit_status = $5) AND ($6::text IS NULL OR category = $6)";
        let audit_status = f.audit_status.map(AuditStatus::as_str);
        let limit = i64::from(f.limit);
        // an offset past any table is an empty page
        let offset = i64::try_from(f.offset).unwrap_or(i64::MAX);
        let c = self.client().await?;
        let count_sql = format!("SELECT COUNT(*) FROM templates WHERE {cond}");
        let page_sql = format!(
            "SELECT {COLS} FROM templates WHERE {cond} ORDER BY created_at DESC, id DESC \
             LIMIT $7 OFFSET $8"
        );
        let (count, page) = tokio::join!(c.prepare_cached(&count_sql), c.prepare_cached(&page_sql));
        let (count, page) = (count?, page?);
        let count_params: [&(dyn ToSql + Sync); 6] = [
            &f.space_id,
            &f.name,
            &f.code,
            &f.language,
            &audit_status,
            &f.category,
        ];
        let page_params: [&(dyn ToSql + Sync); 8] = [
            &f.space_id,
            &f.name,
            &f.code,
            &f.language,
            &audit_status,
            &f.category,
            &limit,
            &offset,
        ];
        // pipelined: both go out before either answer comes back
        let (total, rows) = tokio::join!(
            c.query_one(&count, &count_params),
            c.query(&page, &page_params)
        );
        let total: i64 = total?.try_get(0)?;
        let rows = rows?.iter().map(row).collect::<Result<Vec<_>>>()?;
        Ok((u64::try_from(total).unwrap_or(0), rows))
    }

    async fn claim_template_reviews(
        &self,
        owner: &str,
        now: i64,
        lease_ms: i64,
        limit: u32,
    ) -> Result<Vec<TemplateRow>> {
        let c = self.client().await?;
        let stmt = c.prepare_cached(&CLAIM_REVIEWS_SQL).await?;
        let (until, limit) = (now + lease_ms, i64::from(limit));
        let params: [&(dyn ToSql + Sync); 4] = [&owner, &until, &now, &limit];
        c.query(&stmt, &params).await?.iter().map(row).collect()
    }
}
