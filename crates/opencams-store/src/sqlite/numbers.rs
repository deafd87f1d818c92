//! Sender numbers on SQLite; their channel credentials are sealed at rest.

use rusqlite::{Connection, OptionalExtension, Row, params};

use super::SqliteStore;
use crate::common::{no_cloud_settings, not_registered, number_aad, still_queued};
use crate::*;

const NUMBER_COLS: &str = "id, account_id, space_id, phone, channel, status, verified_name, quality_rating, \
     messaging_limit_tier, throughput_mps, phone_number_id, waba_id, access_token_sealed, app_secret_sealed, \
     api_base, api_version, created_at";

fn number_row(r: &Row<'_>, cipher: &Cipher) -> rusqlite::Result<Result<Number>> {
    let phone: String = r.get(3)?;
    let phone_number_id: Option<String> = r.get(10)?;
    let open = |sealed: Option<Vec<u8>>, what: &str| -> Result<Option<Secret>> {
        sealed
            .map(|s| cipher.open(&number_aad(&phone, what), &s))
            .transpose()
    };
    let cloud = match phone_number_id {
        None => None,
        Some(phone_number_id) => {
            let access_token = match open(r.get(12)?, "access_token") {
                Ok(v) => v,
                Err(e) => return Ok(Err(e)),
            };
            let app_secret = match open(r.get(13)?, "app_secret") {
                Ok(v) => v,
                Err(e) => return Ok(Err(e)),
            };
            Some(CloudSettings {
                phone_number_id,
                waba_id: r.get::<_, Option<String>>(11)?.unwrap_or_default(),
                access_token,
                app_secret,
                api_base: r.get(14)?,
                api_version: r.get(15)?,
            })
        }
    };
    Ok(Ok(Number {
        id: r.get(0)?,
        account_id: r.get(1)?,
        space_id: r.get(2)?,
        status: r.get(5)?,
        channel: r.get(4)?,
        verified_name: r.get(6)?,
        quality_rating: r.get(7)?,
        messaging_limit_tier: r.get(8)?,
        throughput_mps: r.get(9)?,
        cloud,
        created_at: r.get(16)?,
        phone,
    }))
}

fn select_number(c: &Connection, cipher: &Cipher, phone: &str) -> Result<Option<Number>> {
    let mut stmt = c.prepare_cached(&format!(
        "SELECT {NUMBER_COLS} FROM numbers WHERE phone = ?1"
    ))?;
    stmt.query_row([phone], |r| number_row(r, cipher))
        .optional()?
        .transpose()
}

fn update_number(c: &Connection, cipher: &Cipher, phone: &str, u: &NumberUpdate) -> Result<Number> {
    let found: Option<(String, Option<String>)> = c
        .query_row(
            "SELECT channel, phone_number_id FROM numbers WHERE phone = ?1",
            [phone],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    let Some((channel, phone_number_id)) = found else {
        return Err(not_registered(phone));
    };
    // a number reads back Cloud API settings only with a phone number id (see `number_row`): a
    // secret sealed without one could never be read
    if phone_number_id.is_none() && u.sets_secrets() {
        return Err(no_cloud_settings(phone, &channel));
    }
    let seal = |s: Option<&Secret>, what: &str| -> Result<Option<Vec<u8>>> {
        s.map(|s| cipher.seal(&number_aad(phone, what), s.expose()))
            .transpose()
    };
    let token = seal(u.access_token.as_ref(), "access_token")?;
    let app_secret = seal(u.app_secret.as_ref(), "app_secret")?;
    c.execute(
        "UPDATE numbers SET verified_name = COALESCE(?2, verified_name), \
         throughput_mps = COALESCE(?3, throughput_mps), \
         access_token_sealed = COALESCE(?4, access_token_sealed), \
         app_secret_sealed = COALESCE(?5, app_secret_sealed) WHERE phone = ?1",
        params![phone, u.verified_name, u.throughput_mps, token, app_secret],
    )?;
    select_number(c, cipher, phone)?.ok_or_else(|| not_registered(phone))
}

fn remove_number(c: &Connection, phone: &str) -> Result<()> {
    let waiting: i64 = c.query_row(
        "SELECT COUNT(*) FROM queue q JOIN messages m ON m.id = q.message_id WHERE m.sender = ?1",
        [phone],
        |r| r.get(0),
    )?;
    if waiting > 0 {
        return Err(still_queued(phone, waiting));
    }
    if c.execute("DELETE FROM numbers WHERE phone = ?1", [phone])? == 0 {
        return Err(not_registered(phone));
    }
    Ok(())
}

#[async_trait::async_trait]
impl NumberStore for SqliteStore {
    async fn add_number(&self, n: NewNumber, now: i64) -> Result<Number> {
        self.write(move |c, cipher| {
            let cloud = n.cloud.as_ref();
            let seal = |s: Option<&Secret>, what: &str| -> Result<Option<Vec<u8>>> {
                s.map(|s| cipher.seal(&number_aad(&n.phone, what), s.expose())).transpose()
            };
            let token = seal(cloud.and_then(|c| c.access_token.as_ref()), "access_token")?;
            let app_secret = seal(cloud.and_then(|c| c.app_secret.as_ref()), "app_secret")?;
            c.execute(
                "INSERT INTO numbers (account_id, space_id, phone, channel, status, verified_name, throughput_mps, \
                 phone_number_id, waba_id, access_token_sealed, app_secret_sealed, api_base, api_version, created_at) \
                 VALUES (?1, ?2, ?3, ?4, 'CONNECTED', ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
                params![
                    n.account_id,
                    n.space_id,
                    n.phone,
                    n.channel,
                    n.verified_name,
                    n.throughput_mps,
                    cloud.map(|c| c.phone_number_id.clone()),
                    cloud.map(|c| c.waba_id.clone()),
                    token,
                    app_secret,
                    cloud.and_then(|c| c.api_base.clone()),
                    cloud.and_then(|c| c.api_version.clone()),
                    now
                ],
            )
            .map_err(|e| match StoreError::from(e) {
                StoreError::Conflict(_) => StoreError::Conflict(format!("number {} is already registered", n.phone)),
                other => other,
            })?;
            let mut stmt = c.prepare_cached(&format!("SELECT {NUMBER_COLS} FROM numbers WHERE phone = ?1"))?;
            stmt.query_row([&n.phone], |r| number_row(r, cipher))?
        })
        .await
    }

    async fn number(&self, phone: &str) -> Result<Option<Number>> {
        let phone = phone.to_string();
        self.read(move |c, cipher| select_number(c, cipher, &phone))
            .await
    }

    async fn list_numbers(&self, f: NumberFilter) -> Result<Vec<Number>> {
        self.read(move |c, cipher| {
            let mut stmt = c.prepare_cached(&format!(
                "SELECT {NUMBER_COLS} FROM numbers WHERE (?1 IS NULL OR account_id = ?1) \
                 AND (?2 IS NULL OR space_id = ?2) AND (?3 IS NULL OR status = ?3) ORDER BY id"
            ))?;
            let rows = stmt.query_map(params![f.account_id, f.space_id, f.status], |r| {
                number_row(r, cipher)
            })?;
            let mut out = Vec::new();
            for r in rows {
                out.push(r??);
            }
            Ok(out)
        })
        .await
    }

    // no column records when a number changed (nothing reads it), so `now` is not stored
    async fn update_number(&self, phone: &str, update: NumberUpdate, _now: i64) -> Result<Number> {
        let phone = phone.to_string();
        self.write(move |c, cipher| update_number(c, cipher, &phone, &update))
            .await
    }

    async fn remove_number(&self, phone: &str) -> Result<()> {
        let phone = phone.to_string();
        self.write(move |c, _| remove_number(c, &phone)).await
    }
}
