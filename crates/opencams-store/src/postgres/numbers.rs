//! Sender numbers on PostgreSQL; their channel credentials are sealed at rest (with the same
//! additional data as on SQLite, so sealed values move between the backends unchanged).

use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

use super::PgStore;
use crate::common::{no_cloud_settings, not_registered, number_aad, still_queued};
use crate::*;

const NUMBER_COLS: &str = "id, account_id, space_id, phone, channel, status, verified_name, quality_rating, \
     messaging_limit_tier, throughput_mps, phone_number_id, waba_id, access_token_sealed, app_secret_sealed, \
     api_base, api_version, created_at";

fn throughput(r: &Row, idx: usize) -> Result<u32> {
    let v: i64 = r.try_get(idx)?;
    u32::try_from(v).map_err(|_| {
        StoreError::Database(format!(
            "stored throughput {v} out of range in column {idx}"
        ))
    })
}

fn number_row(r: &Row, cipher: &Cipher) -> Result<Number> {
    let phone: String = r.try_get(3)?;
    let open = |sealed: Option<&[u8]>, what: &str| -> Result<Option<Secret>> {
        sealed
            .map(|s| cipher.open(&number_aad(&phone, what), s))
            .transpose()
    };
    let cloud = match r.try_get::<_, Option<String>>(10)? {
        None => None,
        Some(phone_number_id) => Some(CloudSettings {
            phone_number_id,
            waba_id: r.try_get::<_, Option<String>>(11)?.unwrap_or_default(),
            access_token: open(r.try_get(12)?, "access_token")?,
            app_secret: open(r.try_get(13)?, "app_secret")?,
            api_base: r.try_get(14)?,
            api_version: r.try_get(15)?,
        }),
    };
    Ok(Number {
        id: r.try_get(0)?,
        account_id: r.try_get(1)?,
        space_id: r.try_get(2)?,
        status: r.try_get(5)?,
        channel: r.try_get(4)?,
        verified_name: r.try_get(6)?,
        quality_rating: r.try_get(7)?,
        messaging_limit_tier: r.try_get(8)?,
        throughput_mps: throughput(r, 9)?,
        cloud,
        created_at: r.try_get(16)?,
        phone,
    })
}

/// Sets what is given (`$2`..`$5`, NULL keeps the value), unless secrets are given (`$6`) to a
/// number without Cloud API settings: such a number reads back no secret (see `number_row`).
static UPDATE_NUMBER_SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!(
        "UPDATE numbers SET verified_name = COALESCE($2, verified_name), \
         throughput_mps = COALESCE($3, throughput_mps), \
         access_token_sealed = COALESCE($4, access_token_sealed), \
         app_secret_sealed = COALESCE($5, app_secret_sealed) \
         WHERE phone = $1 AND (phone_number_id IS NOT NULL OR NOT $6) RETURNING {NUMBER_COLS}"
    )
});

/// Counts the number's queued messages and deletes it only when there are none, in one
/// statement. It is a guard for the operator, not a lock: a send accepted meanwhile by a node
/// that still caches the number is queued after the count, and fails when it is sent (the
/// dispatcher finds its sender no longer registered).
const REMOVE_NUMBER_SQL: &str = "WITH waiting AS ( \
       SELECT COUNT(*) AS n FROM queue q JOIN messages m ON m.id = q.message_id \
       WHERE m.sender = $1), \
     deleted AS ( \
       DELETE FROM numbers WHERE phone = $1 AND (SELECT n FROM waiting) = 0 RETURNING id) \
     SELECT (SELECT n FROM waiting), (SELECT COUNT(*) FROM deleted)";

#[async_trait::async_trait]
impl NumberStore for PgStore {
    async fn add_number(&self, n: NewNumber, now: i64) -> Result<Number> {
        self.notifying(Change::Numbers, async {
            let cloud = n.cloud.as_ref();
            let seal = |s: Option<&Secret>, what: &str| -> Result<Option<Vec<u8>>> {
                s.map(|s| self.cipher.seal(&number_aad(&n.phone, what), s.expose()))
                    .transpose()
            };
            let token = seal(cloud.and_then(|c| c.access_token.as_ref()), "access_token")?;
            let app_secret = seal(cloud.and_then(|c| c.app_secret.as_ref()), "app_secret")?;
            let throughput = i64::from(n.throughput_mps);
            let phone_number_id = cloud.map(|c| c.phone_number_id.as_str());
            let waba_id = cloud.map(|c| c.waba_id.as_str());
            let api_base = cloud.and_then(|c| c.api_base.as_deref());
            let api_version = cloud.and_then(|c| c.api_version.as_deref());
            let params: [&(dyn ToSql + Sync); 13] = [
                &n.account_id,
                &n.space_id,
                &n.phone,
                &n.channel,
                &n.verified_name,
                &throughput,
                &phone_number_id,
                &waba_id,
                &token,
                &app_secret,
                &api_base,
                &api_version,
                &now,
            ];
            let c = self.client().await?;
            let stmt = c
                .prepare_cached(&format!(
                    "INSERT INTO numbers (account_id, space_id, phone, channel, status, verified_name, throughput_mps, \
                     phone_number_id, waba_id, access_token_sealed, app_secret_sealed, api_base, api_version, created_at) \
                     VALUES ($1, $2, $3, $4, 'CONNECTED', $5, $6, $7, $8, $9, $10, $11, $12, $13) \
                     RETURNING {NUMBER_COLS}"
                ))
                .await?;
            // as on SQLite, any refusal of the row (the phone taken, an unknown space) reads as the
            // phone being registered already
            let row = c
                .query_one(&stmt, &params)
                .await
                .map_err(|e| match StoreError::from(e) {
                    StoreError::Conflict(_) => {
                        StoreError::Conflict(format!("number {} is already registered", n.phone))
                    }
                    other => other,
                })?;
            number_row(&row, &self.cipher)
        })
        .await
    }

    async fn number(&self, phone: &str) -> Result<Option<Number>> {
        let c = self.client().await?;
        let stmt = c
            .prepare_cached(&format!(
                "SELECT {NUMBER_COLS} FROM numbers WHERE phone = $1"
            ))
            .await?;
        c.query_opt(&stmt, &[&phone])
            .await?
            .map(|r| number_row(&r, &self.cipher))
            .transpose()
    }

    async fn list_numbers(&self, f: NumberFilter) -> Result<Vec<Number>> {
        let c = self.client().await?;
        let stmt = c
            .prepare_cached(&format!(
                "SELECT {NUMBER_COLS} FROM numbers WHERE ($1::bigint IS NULL OR account_id = $1) \
                 AND ($2::text IS NULL OR space_id = $2) AND ($3::text IS NULL OR status = $3) ORDER BY id"
            ))
            .await?;
        let params: [&(dyn ToSql + Sync); 3] = [&f.account_id, &f.space_id, &f.status];
        c.query(&stmt, &params)
            .await?
            .iter()
            .map(|r| number_row(r, &self.cipher))
            .collect()
    }

    // no column records when a number changed (nothing reads it), so `now` is not stored
    async fn update_number(&self, phone: &str, u: NumberUpdate, _now: i64) -> Result<Number> {
        self.notifying(Change::Numbers, async {
            let seal = |s: Option<&Secret>, what: &str| -> Result<Option<Vec<u8>>> {
                s.map(|s| self.cipher.seal(&number_aad(phone, what), s.expose()))
                    .transpose()
            };
            let token = seal(u.access_token.as_ref(), "access_token")?;
            let app_secret = seal(u.app_secret.as_ref(), "app_secret")?;
            let throughput = u.throughput_mps.map(i64::from);
            let sets_secrets = u.sets_secrets();
            let params: [&(dyn ToSql + Sync); 6] = [
                &phone,
                &u.verified_name,
                &throughput,
                &token,
                &app_secret,
                &sets_secrets,
            ];
            let c = self.client().await?;
            let stmt = c.prepare_cached(&UPDATE_NUMBER_SQL).await?;
            if let Some(row) = c.query_opt(&stmt, &params).await? {
                return number_row(&row, &self.cipher);
            }
            // nothing updated: tell a missing number from one that takes no secrets
            let found = c
                .query_opt("SELECT channel FROM numbers WHERE phone = $1", &[&phone])
                .await?;
            match found {
                None => Err(not_registered(phone)),
                Some(r) => Err(no_cloud_settings(phone, r.try_get(0)?)),
            }
        })
        .await
    }

    async fn remove_number(&self, phone: &str) -> Result<()> {
        self.notifying(Change::Numbers, async {
            let c = self.client().await?;
            let stmt = c.prepare_cached(REMOVE_NUMBER_SQL).await?;
            let r = c.query_one(&stmt, &[&phone]).await?;
            let (waiting, deleted): (i64, i64) = (r.try_get(0)?, r.try_get(1)?);
            if waiting > 0 {
                return Err(still_queued(phone, waiting));
            }
            if deleted == 0 {
                return Err(not_registered(phone));
            }
            Ok(())
        })
        .await
    }
}
