//! Template language versions on SQLite.

use rusqlite::{Connection, Row, params};

use opencams_domain::template::AuditStatus;

use super::events::insert_event;
use super::{SqliteStore, enum_col};

use crate::*;

pub(super) const COLS: &str = "id, account_id, space_id, code, name, language, category, template_type, components, \
     example, audit_status, reason, quality_score, message_send_ttl, category_change_paused, product_set_id, \
     provider_id, review_due_at, created_at, updated_at";

pub(super) fn row(r: &Row<'_>) -> rusqlite::Result<TemplateRow> {
    Ok(TemplateRow {
        id: r.get(0)?,
        account_id: r.get(1)?,
        space_id: r.get(2)?,
        code: r.get(3)?,
        name: r.get(4)?,
        language: r.get(5)?,
        category: r.get(6)?,
        template_type: r.get(7)?,
        components: r.get(8)?,
        example: r.get(9)?,
        audit_status: enum_col(r, 10, AuditStatus::from_stored)?,
        reason: r.get(11)?,
        quality_score: r.get(12)?,
        message_send_ttl: r.get(13)?,
        category_change_paused: r.get::<_, i64>(14)? != 0,
        product_set_id: r.get(15)?,
        provider_id: r.get(16)?,
        review_due_at: r.get(17)?,
        created_at: r.get(18)?,
        updated_at: r.get(19)?,
    })
}

pub(super) fn by_id(c: &Connection, id: i64) -> Result<TemplateRow> {
    c.prepare_cached(&format!("SELECT {COLS} FROM templates WHERE id = ?1"))?
        .query_row([id], row)
        .map_err(|e| match e {
            rusqlite::Error::QueryReturnedNoRows => StoreError::NotFound(format!("template {id}")),
            other => other.into(),
        })
}

pub(super) fn select(
    c: &Connection,
    filter: &str,
    p: &[&dyn rusqlite::ToSql],
) -> Result<Vec<TemplateRow>> {
    let mut stmt = c.prepare_cached(&format!(
        "SELECT {COLS} FROM templates WHERE deleted_at IS NULL AND {filter} ORDER BY id"
    ))?;
    let rows = stmt.query_map(p, row)?;
    Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
}

pub(super) fn insert(
    c: &Connection,
    t: &TemplateWrite,
    event: Option<&NewEvent>,
    now: i64,
) -> Result<TemplateRow> {
    let taken: i64 = c.query_row(
        "SELECT COUNT(*) FROM templates WHERE space_id = ?1 AND name = ?2 AND language = ?3 AND deleted_at IS NULL",
        params![t.space_id, t.name, t.language],
        |r| r.get(0),
    )?;
    if taken > 0 {
        return Err(StoreError::Conflict(format!(
            "a template named {:?} in language {} already exists",
            t.name, t.language
        )));
    }
    c.execute(
        "INSERT INTO templates (account_id, space_id, code, name, language, category, components, example, audit_status, \
         message_send_ttl, category_change_paused, product_set_id, review_due_at, created_at, updated_at, provider_id) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 'auditing', ?9, ?10, ?11, ?12, ?13, ?13, ?14)",
        params![
            t.account_id,
            t.space_id,
            t.code,
            t.name,
            t.language,
            t.category,
            t.components,
            t.example,
            t.message_send_ttl,
            t.category_change_paused as i64,
            t.product_set_id,
            t.review_due_at,
            now,
            t.provider_id
        ],
    )?;
    let id = c.last_insert_rowid();
    if let Some(e) = event {
        insert_event(c, e, now)?;
    }
    by_id(c, id)
}

pub(super) fn modify(
    c: &Connection,
    id: i64,
    t: &TemplateWrite,
    event: Option<&NewEvent>,
    now: i64,
) -> Result<TemplateRow> {
    let n = c.execute(
        "UPDATE templates SET components = ?1, example = ?2, message_send_ttl = ?3, category_change_paused = ?4, \
         product_set_id = ?5, review_due_at = ?6, review_owner = NULL, review_lease_until = NULL, \
         audit_status = 'auditing', reason = '', updated_at = ?7, provider_id = COALESCE(?9, provider_id) \
         WHERE id = ?8 AND deleted_at IS NULL",
        params![
            t.components,
            t.example,
            t.message_send_ttl,
            t.category_change_paused as i64,
            t.product_set_id,
            t.review_due_at,
            now,
            id,
            t.provider_id
        ],
    )?;
    if n == 0 {
        return Err(StoreError::NotFound(format!("template {id}")));
    }
    if let Some(e) = event {
        insert_event(c, e, now)?;
    }
    by_id(c, id)
}

/// Records a review outcome or quality change; with `owner`, only while that reviewer holds
/// the review. `None` when no live template (held by `owner`) has that id.
pub(super) fn set_status(
    c: &Connection,
    id: i64,
    owner: Option<&str>,
    status: AuditStatus,
    reason: &str,
    event: Option<&NewEvent>,
    now: i64,
) -> Result<Option<TemplateRow>> {
    let n = c.execute(
        "UPDATE templates SET audit_status = ?1, reason = ?2, review_due_at = NULL, review_owner = NULL, \
         review_lease_until = NULL, updated_at = ?3 \
         WHERE id = ?4 AND deleted_at IS NULL AND (?5 IS NULL OR review_owner = ?5)",
        params![status.as_str(), reason, now, id, owner],
    )?;
    if n == 0 {
        return Ok(None);
    }
    if let Some(e) = event {
        insert_event(c, e, now)?;
    }
    by_id(c, id).map(Some)
}

pub(super) fn claim_reviews(
    c: &Connection,
    owner: &str,
    now: i64,
    lease_ms: i64,
    limit: u32,
) -> Result<Vec<TemplateRow>> {
    // one statement picks and leases (in the writer), so two claimers never take the same review
    let mut stmt = c.prepare_cached(&format!(
        "UPDATE templates SET review_owner = ?1, review_lease_until = ?2 WHERE id IN ( \
           SELECT id FROM templates WHERE review_due_at IS NOT NULL AND review_due_at <= ?3 \
           AND deleted_at IS NULL AND (review_lease_until IS NULL OR review_lease_until <= ?3) \
           ORDER BY review_due_at, id LIMIT ?4) \
         RETURNING {COLS}"
    ))?;
    let mut rows = stmt
        .query_map(params![owner, now + lease_ms, now, limit], row)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    // RETURNING comes in no promised order
    rows.sort_by_key(|t| (t.review_due_at, t.id));
    Ok(rows)
}

pub(super) fn list(c: &Connection, f: &TemplateFilter) -> Result<(u64, Vec<TemplateRow>)> {
    let cond = "deleted_at IS NULL AND space_id = ?1 AND (?2 IS NULL OR name = ?2) AND (?3 IS NULL OR code = ?3) \
                AND (?4 IS NULL OR language = ?4) AND (?5 IS NULL OR audit_status = ?5) AND (?6 IS NULL OR category = ?6)";
    let audit_status = f.audit_status.map(AuditStatus::as_str);
    let p = params![
        f.space_id,
        f.name,
        f.code,
        f.language,
        audit_status,
        f.category
    ];
    let total: i64 = c
        .prepare_cached(&format!("SELECT COUNT(*) FROM templates WHERE {cond}"))?
        .query_row(p, |r| r.get(0))?;
    let mut stmt = c.prepare_cached(&format!(
        "SELECT {COLS} FROM templates WHERE {cond} ORDER BY created_at DESC, id DESC LIMIT ?7 OFFSET ?8"
    ))?;
    let rows = stmt.query_map(
        params![
            f.space_id,
            f.name,
            f.code,
            f.language,
            audit_status,
            f.category,
            f.limit,
            f.offset as i64
        ],
        row,
    )?;
    Ok((total as u64, rows.collect::<rusqlite::Result<Vec<_>>>()?))
}

#[async_trait::async_trait]
impl TemplateStore for SqliteStore {
    async fn insert_template(
        &self,
        t: TemplateWrite,
        event: Option<NewEvent>,
        now: i64,
    ) -> Result<TemplateRow> {
        self.write(move |c, _| insert(c, &t, event.as_ref(), now))
            .await
    }

    async fn templates_by_code(&self, space_id: &str, code: &str) -> Result<Vec<TemplateRow>> {
        let (s, k) = (space_id.to_string(), code.to_string());
        self.read(move |c, _| select(c, "space_id = ?1 AND code = ?2", &[&s, &k]))
            .await
    }

    async fn templates_by_name(&self, space_id: &str, name: &str) -> Result<Vec<TemplateRow>> {
        let (s, n) = (space_id.to_string(), name.to_string());
        self.read(move |c, _| select(c, "space_id = ?1 AND name = ?2", &[&s, &n]))
            .await
    }

    async fn modify_template(
        &self,
        id: i64,
        t: TemplateWrite,
        event: Option<NewEvent>,
        now: i64,
    ) -> Result<TemplateRow> {
        self.write(move |c, _| modify(c, id, &t, event.as_ref(), now))
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
        let reason = reason.to_string();
        self.write(move |c, _| {
            set_status(c, id, None, status, &reason, event.as_ref(), now)?
                .ok_or_else(|| StoreError::NotFound(format!("template {id}")))
        })
        .await
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
        let (owner, reason) = (owner.to_string(), reason.to_string());
        self.write(move |c, _| {
            set_status(c, id, Some(&owner), status, &reason, event.as_ref(), now)
        })
        .await
    }

    async fn delete_templates(&self, ids: Vec<i64>, now: i64) -> Result<()> {
        self.write(move |c, _| {
            let mut stmt = c.prepare_cached(
                "UPDATE templates SET deleted_at = ?1, review_due_at = NULL, review_owner = NULL, \
                 review_lease_until = NULL WHERE id = ?2",
            )?;
            for id in &ids {
                stmt.execute(params![now, id])?;
            }
            Ok(())
        })
        .await
    }

    async fn list_templates(&self, filter: TemplateFilter) -> Result<(u64, Vec<TemplateRow>)> {
        self.read(move |c, _| list(c, &filter)).await
    }

    async fn claim_template_reviews(
        &self,
        owner: &str,
        now: i64,
        lease_ms: i64,
        limit: u32,
    ) -> Result<Vec<TemplateRow>> {
        let owner = owner.to_string();
        self.write(move |c, _| claim_reviews(c, &owner, now, lease_ms, limit))
            .await
    }
}
