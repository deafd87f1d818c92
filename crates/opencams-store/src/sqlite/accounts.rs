//! Accounts, spaces, access keys, sender numbers and nonces on SQLite, and the one `impl Store`
//! (its template and message methods delegate to `templates.rs` and `messages.rs`).

use rand::Rng;
use rand::distributions::Alphanumeric;
use rusqlite::{Connection, OptionalExtension, Row, params};

use super::SqliteStore;
use crate::*;

fn random_alnum(n: usize) -> String {
    rand::thread_rng()
        .sample_iter(&Alphanumeric)
        .take(n)
        .map(char::from)
        .collect()
}

fn new_space_id() -> String {
    format!("cams-{}", random_alnum(12).to_ascii_lowercase())
}

fn key_aad(id: &str) -> String {
    format!("access_key:{id}")
}

fn number_aad(phone: &str, what: &str) -> String {
    format!("number:{phone}:{what}")
}

fn list_to_text(list: &Option<Vec<String>>) -> Option<String> {
    list.as_ref().map(|l| l.join(","))
}

fn text_to_list(text: Option<String>) -> Option<Vec<String>> {
    text.map(|t| {
        t.split(',')
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect()
    })
}

const ACCOUNT_COLS: &str = "id, name, status, default_space, created_at";

fn account_row(r: &Row<'_>) -> rusqlite::Result<Account> {
    Ok(Account {
        id: r.get(0)?,
        name: r.get(1)?,
        status: AccountStatus::parse(&r.get::<_, String>(2)?),
        default_space: r.get(3)?,
        created_at: r.get(4)?,
    })
}

fn space_row(r: &Row<'_>) -> rusqlite::Result<Space> {
    Ok(Space {
        id: r.get(0)?,
        account_id: r.get(1)?,
        name: r.get(2)?,
        created_at: r.get(3)?,
    })
}

const KEY_SELECT: &str = "SELECT k.id, k.secret_sealed, k.account_id, a.name, k.enabled, k.actions, k.spaces, k.created_at \
     FROM access_keys k JOIN accounts a ON a.id = k.account_id";

fn key_row(r: &Row<'_>, cipher: &Cipher) -> rusqlite::Result<Result<AccessKey>> {
    let id: String = r.get(0)?;
    let sealed: Vec<u8> = r.get(1)?;
    let secret = match cipher.open(&key_aad(&id), &sealed) {
        Ok(s) => s,
        Err(e) => return Ok(Err(e)),
    };
    Ok(Ok(AccessKey {
        id,
        secret,
        account_id: r.get(2)?,
        account_name: r.get(3)?,
        enabled: r.get::<_, i64>(4)? != 0,
        actions: text_to_list(r.get(5)?),
        spaces: text_to_list(r.get(6)?),
        created_at: r.get(7)?,
    }))
}

fn query_keys(
    conn: &Connection,
    cipher: &Cipher,
    filter: &str,
    p: &[&dyn rusqlite::ToSql],
) -> Result<Vec<AccessKey>> {
    let mut stmt = conn.prepare_cached(&format!(
        "{KEY_SELECT} {filter} ORDER BY k.created_at, k.id"
    ))?;
    let rows = stmt.query_map(p, |r| key_row(r, cipher))?;
    let mut out = Vec::new();
    for row in rows {
        out.push(row??);
    }
    Ok(out)
}

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

fn get_account(conn: &Connection, name: &str) -> Result<Option<Account>> {
    Ok(conn
        .prepare_cached(&format!(
            "SELECT {ACCOUNT_COLS} FROM accounts WHERE name = ?1"
        ))?
        .query_row([name], account_row)
        .optional()?)
}

#[async_trait::async_trait]
impl Store for SqliteStore {
    async fn is_empty(&self) -> Result<bool> {
        self.read(|c, _| {
            Ok(c.query_row("SELECT COUNT(*) FROM accounts", [], |r| r.get::<_, i64>(0))? == 0)
        })
        .await
    }

    async fn ping(&self) -> Result<()> {
        self.read(|c, _| {
            Ok(c.query_row("SELECT 1", [], |r| r.get::<_, i64>(0))
                .map(|_| ())?)
        })
        .await
    }

    async fn create_account(&self, name: &str, now: i64) -> Result<Account> {
        let name = name.to_string();
        self.write(move |c, _| {
            if get_account(c, &name)?.is_some() {
                return Err(StoreError::Conflict(format!("account {name:?} already exists")));
            }
            let space = new_space_id();
            c.execute(
                "INSERT INTO accounts (name, status, default_space, created_at) VALUES (?1, 'active', ?2, ?3)",
                params![name, space, now],
            )?;
            let id = c.last_insert_rowid();
            c.execute(
                "INSERT INTO spaces (id, account_id, name, created_at) VALUES (?1, ?2, 'default', ?3)",
                params![space, id, now],
            )?;
            Ok(Account { id, name: name.clone(), status: AccountStatus::Active, default_space: space, created_at: now })
        })
        .await
    }

    async fn account(&self, name: &str) -> Result<Option<Account>> {
        let name = name.to_string();
        self.read(move |c, _| get_account(c, &name)).await
    }

    async fn account_by_id(&self, id: i64) -> Result<Option<Account>> {
        self.read(move |c, _| {
            Ok(c.prepare_cached(&format!(
                "SELECT {ACCOUNT_COLS} FROM accounts WHERE id = ?1"
            ))?
            .query_row([id], account_row)
            .optional()?)
        })
        .await
    }

    async fn list_accounts(&self) -> Result<Vec<Account>> {
        self.read(|c, _| {
            let mut stmt =
                c.prepare_cached(&format!("SELECT {ACCOUNT_COLS} FROM accounts ORDER BY id"))?;
            let rows = stmt.query_map([], account_row)?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
        .await
    }

    async fn set_account_status(&self, name: &str, status: AccountStatus) -> Result<Account> {
        let name = name.to_string();
        self.write(move |c, _| {
            let n = c.execute(
                "UPDATE accounts SET status = ?1 WHERE name = ?2",
                params![status.as_str(), name],
            )?;
            if n == 0 {
                return Err(StoreError::NotFound(format!("account {name:?}")));
            }
            get_account(c, &name)?.ok_or_else(|| StoreError::NotFound(format!("account {name:?}")))
        })
        .await
    }

    async fn create_space(&self, account_id: i64, name: &str, now: i64) -> Result<Space> {
        let name = name.to_string();
        self.write(move |c, _| {
            let id = new_space_id();
            c.execute(
                "INSERT INTO spaces (id, account_id, name, created_at) VALUES (?1, ?2, ?3, ?4)",
                params![id, account_id, name, now],
            )?;
            Ok(Space {
                id,
                account_id,
                name: name.clone(),
                created_at: now,
            })
        })
        .await
    }

    async fn space(&self, id: &str) -> Result<Option<Space>> {
        let id = id.to_string();
        self.read(move |c, _| {
            Ok(c.prepare_cached(
                "SELECT id, account_id, name, created_at FROM spaces WHERE id = ?1",
            )?
            .query_row([id], space_row)
            .optional()?)
        })
        .await
    }

    async fn list_spaces(&self, account_id: Option<i64>) -> Result<Vec<Space>> {
        self.read(move |c, _| {
            let mut stmt = c.prepare_cached(
                "SELECT id, account_id, name, created_at FROM spaces WHERE ?1 IS NULL OR account_id = ?1 ORDER BY created_at, id",
            )?;
            let rows = stmt.query_map([account_id], space_row)?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
        .await
    }

    async fn account_settings(
        &self,
        account_id: i64,
    ) -> Result<std::collections::BTreeMap<String, String>> {
        self.read(move |c, _| {
            let mut stmt =
                c.prepare_cached("SELECT key, value FROM account_settings WHERE account_id = ?1")?;
            let rows = stmt.query_map([account_id], |r| Ok((r.get(0)?, r.get(1)?)))?;
            Ok(rows.collect::<rusqlite::Result<_>>()?)
        })
        .await
    }

    async fn set_account_setting(
        &self,
        account_id: i64,
        key: &str,
        value: Option<&str>,
    ) -> Result<()> {
        let (key, value) = (key.to_string(), value.map(String::from));
        self.write(move |c, _| {
            match &value {
                Some(v) => c.execute(
                    "INSERT INTO account_settings (account_id, key, value) VALUES (?1, ?2, ?3) \
                     ON CONFLICT (account_id, key) DO UPDATE SET value = excluded.value",
                    params![account_id, key, v],
                )?,
                None => c.execute(
                    "DELETE FROM account_settings WHERE account_id = ?1 AND key = ?2",
                    params![account_id, key],
                )?,
            };
            Ok(())
        })
        .await
    }

    async fn create_key(&self, key: NewKey, now: i64) -> Result<AccessKey> {
        self.write(move |c, cipher| {
            let id = format!("LTAI{}", random_alnum(20));
            let secret = random_alnum(30);
            let sealed = cipher.seal(&key_aad(&id), &secret)?;
            c.execute(
                "INSERT INTO access_keys (id, account_id, secret_sealed, enabled, actions, spaces, created_at) \
                 VALUES (?1, ?2, ?3, 1, ?4, ?5, ?6)",
                params![id, key.account_id, sealed, list_to_text(&key.actions), list_to_text(&key.spaces), now],
            )?;
            let mut keys = query_keys(c, cipher, "WHERE k.id = ?1", &[&id])?;
            keys.pop().ok_or_else(|| StoreError::NotFound(format!("access key {id}")))
        })
        .await
    }

    async fn key(&self, id: &str) -> Result<Option<AccessKey>> {
        let id = id.to_string();
        self.read(move |c, cipher| Ok(query_keys(c, cipher, "WHERE k.id = ?1", &[&id])?.pop()))
            .await
    }

    async fn list_keys(&self, account_id: Option<i64>) -> Result<Vec<AccessKey>> {
        self.read(move |c, cipher| {
            query_keys(
                c,
                cipher,
                "WHERE ?1 IS NULL OR k.account_id = ?1",
                &[&account_id],
            )
        })
        .await
    }

    async fn set_key_enabled(&self, id: &str, enabled: bool) -> Result<AccessKey> {
        let id = id.to_string();
        self.write(move |c, cipher| {
            c.execute(
                "UPDATE access_keys SET enabled = ?1 WHERE id = ?2",
                params![enabled as i64, id],
            )?;
            query_keys(c, cipher, "WHERE k.id = ?1", &[&id])?
                .pop()
                .ok_or_else(|| StoreError::NotFound(format!("access key {id:?}")))
        })
        .await
    }

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
        self.read(move |c, cipher| {
            let mut stmt = c.prepare_cached(&format!(
                "SELECT {NUMBER_COLS} FROM numbers WHERE phone = ?1"
            ))?;
            stmt.query_row([phone], |r| number_row(r, cipher))
                .optional()?
                .transpose()
        })
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

    async fn record_nonces(&self, nonces: Vec<NonceRecord>) -> Result<()> {
        if nonces.is_empty() {
            return Ok(());
        }
        self.write(move |c, _| {
            let mut ins = c.prepare_cached(
                "INSERT INTO nonces (key_id, nonce, expires_at) VALUES (?1, ?2, ?3)",
            )?;
            let mut min_exp = i64::MAX;
            for n in &nonces {
                ins.execute(params![n.key_id, n.nonce, n.expires_at])?;
                min_exp = min_exp.min(n.expires_at);
            }
            // expired nonces can go: anything that expired an hour before the oldest new one
            c.prepare_cached("DELETE FROM nonces WHERE expires_at < ?1")?
                .execute([min_exp - 3_600_000])?;
            Ok(())
        })
        .await
    }

    async fn live_nonces(&self, now: i64) -> Result<Vec<NonceRecord>> {
        self.read(move |c, _| {
            let mut stmt = c.prepare_cached(
                "SELECT key_id, nonce, expires_at FROM nonces WHERE expires_at > ?1",
            )?;
            let rows = stmt.query_map([now], |r| {
                Ok(NonceRecord {
                    key_id: r.get(0)?,
                    nonce: r.get(1)?,
                    expires_at: r.get(2)?,
                })
            })?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
        .await
    }

    async fn insert_template(
        &self,
        t: TemplateWrite,
        event: Option<NewEvent>,
        now: i64,
    ) -> Result<TemplateRow> {
        self.write(move |c, _| super::templates::insert(c, &t, event.as_ref(), now))
            .await
    }

    async fn templates_by_code(&self, space_id: &str, code: &str) -> Result<Vec<TemplateRow>> {
        let (s, k) = (space_id.to_string(), code.to_string());
        self.read(move |c, _| super::templates::select(c, "space_id = ?1 AND code = ?2", &[&s, &k]))
            .await
    }

    async fn templates_by_name(&self, space_id: &str, name: &str) -> Result<Vec<TemplateRow>> {
        let (s, n) = (space_id.to_string(), name.to_string());
        self.read(move |c, _| super::templates::select(c, "space_id = ?1 AND name = ?2", &[&s, &n]))
            .await
    }

    async fn modify_template(
        &self,
        id: i64,
        t: TemplateWrite,
        event: Option<NewEvent>,
        now: i64,
    ) -> Result<TemplateRow> {
        self.write(move |c, _| super::templates::modify(c, id, &t, event.as_ref(), now))
            .await
    }

    async fn set_template_status(
        &self,
        id: i64,
        status: &str,
        reason: &str,
        event: Option<NewEvent>,
        now: i64,
    ) -> Result<TemplateRow> {
        let (status, reason) = (status.to_string(), reason.to_string());
        self.write(move |c, _| {
            super::templates::set_status(c, id, &status, &reason, event.as_ref(), now)
        })
        .await
    }

    async fn delete_templates(&self, ids: Vec<i64>, now: i64) -> Result<()> {
        self.write(move |c, _| {
            let mut stmt = c.prepare_cached(
                "UPDATE templates SET deleted_at = ?1, review_due_at = NULL WHERE id = ?2",
            )?;
            for id in &ids {
                stmt.execute(params![now, id])?;
            }
            Ok(())
        })
        .await
    }

    async fn list_templates(&self, filter: TemplateFilter) -> Result<(u64, Vec<TemplateRow>)> {
        self.read(move |c, _| super::templates::list(c, &filter))
            .await
    }

    async fn due_template_reviews(&self, now: i64, limit: u32) -> Result<Vec<TemplateRow>> {
        self.read(move |c, _| {
            let mut stmt = c.prepare_cached(&format!(
                "SELECT {} FROM templates WHERE review_due_at IS NOT NULL AND review_due_at <= ?1 \
                 AND deleted_at IS NULL ORDER BY review_due_at LIMIT ?2",
                super::templates::COLS
            ))?;
            let rows = stmt.query_map(params![now, limit], super::templates::row)?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
        .await
    }

    async fn insert_messages(
        &self,
        messages: Vec<MessageRow>,
        events: Vec<NewEvent>,
    ) -> Result<()> {
        self.write(move |c, _| super::messages::insert_all(c, &messages, &events))
            .await
    }

    async fn message(&self, id: &str) -> Result<Option<MessageRow>> {
        let id = id.to_string();
        self.read(move |c, _| super::messages::get(c, &id)).await
    }

    async fn count_messages(&self) -> Result<u64> {
        self.read(|c, _| {
            Ok(c.query_row("SELECT COUNT(*) FROM messages", [], |r| r.get::<_, i64>(0))? as u64)
        })
        .await
    }

    async fn claim_due(
        &self,
        owner: &str,
        now: i64,
        lease_ms: i64,
        limit: u32,
    ) -> Result<Vec<Claimed>> {
        let owner = owner.to_string();
        self.write(move |c, _| super::messages::claim(c, &owner, now, lease_ms, limit))
            .await
    }

    async fn settle(&self, id: &str, owner: &str, outcome: Settlement, now: i64) -> Result<bool> {
        let (id, owner) = (id.to_string(), owner.to_string());
        self.write(move |c, _| super::messages::settle(c, &id, &owner, &outcome, now))
            .await
    }

    async fn apply_status(
        &self,
        update: StatusUpdate,
        event: EventBuilder,
    ) -> Result<Option<(MessageStatus, bool)>> {
        self.write(move |c, _| super::messages::apply_status(c, &update, &event))
            .await
    }

    async fn apply_statuses(
        &self,
        updates: Vec<(StatusUpdate, EventBuilder)>,
    ) -> Result<Vec<Option<(MessageStatus, bool)>>> {
        self.write(move |c, _| {
            updates
                .iter()
                .map(|(u, event)| super::messages::apply_status(c, u, event))
                .collect()
        })
        .await
    }

    async fn record_inbound(&self, message: MessageRow, event: Option<NewEvent>) -> Result<bool> {
        self.write(move |c, _| super::messages::record_inbound(c, &message, event.as_ref()))
            .await
    }

    async fn queue_len(&self) -> Result<u64> {
        self.read(|c, _| {
            Ok(c.query_row("SELECT COUNT(*) FROM queue", [], |r| r.get::<_, i64>(0))? as u64)
        })
        .await
    }

    async fn record_inbound_window(&self, sender: &str, user: &str, at: i64) -> Result<()> {
        let (s, u) = (sender.to_string(), user.to_string());
        self.write(move |c, _| super::messages::record_window(c, &s, &u, at))
            .await
    }

    async fn last_inbound(&self, sender: &str, user: &str) -> Result<Option<i64>> {
        let (s, u) = (sender.to_string(), user.to_string());
        self.read(move |c, _| super::messages::last_inbound(c, &s, &u))
            .await
    }

    async fn events_after(&self, after_id: i64, limit: u32) -> Result<Vec<EventRow>> {
        self.read(move |c, _| super::messages::events_after(c, after_id, limit))
            .await
    }

    async fn message_events(&self, message_id: &str) -> Result<Vec<EventRow>> {
        let id = message_id.to_string();
        self.read(move |c, _| super::messages::message_events(c, &id))
            .await
    }

    async fn create_policy(&self, p: NewPolicy, now: i64) -> Result<Policy> {
        self.write(move |c, cipher| super::policies::create(c, cipher, &p, now))
            .await
    }

    async fn policy(&self, account_id: i64, id: &str) -> Result<Option<Policy>> {
        let id = id.to_string();
        self.read(move |c, cipher| {
            Ok(super::policies::select(c, cipher, account_id, Some(&id))?.pop())
        })
        .await
    }

    async fn list_policies(&self, account_id: i64) -> Result<Vec<Policy>> {
        self.read(move |c, cipher| super::policies::select(c, cipher, account_id, None))
            .await
    }

    async fn delete_policy(&self, account_id: i64, id: &str, now: i64) -> Result<()> {
        let id = id.to_string();
        self.write(move |c, _| super::policies::delete(c, account_id, &id, now))
            .await
    }

    async fn claim_fallbacks(
        &self,
        owner: &str,
        now: i64,
        lease_ms: i64,
        limit: u32,
    ) -> Result<Vec<(FallbackRow, MessageRow)>> {
        let owner = owner.to_string();
        self.write(move |c, _| super::fallbacks::claim(c, &owner, now, lease_ms, limit))
            .await
    }

    async fn settle_fallback(
        &self,
        message_id: &str,
        owner: &str,
        outcome: FallbackOutcome,
        events: Vec<NewEvent>,
        now: i64,
    ) -> Result<bool> {
        let (id, owner) = (message_id.to_string(), owner.to_string());
        self.write(move |c, _| super::fallbacks::settle(c, &id, &owner, &outcome, &events, now))
            .await
    }

    async fn fallback_report(
        &self,
        sms_id: &str,
        delivered: bool,
        events: EventsFor,
        now: i64,
    ) -> Result<Option<(FallbackRow, MessageRow)>> {
        let sms_id = sms_id.to_string();
        self.write(move |c, _| super::fallbacks::report(c, &sms_id, delivered, &events, now))
            .await
    }

    async fn fallback(&self, message_id: &str) -> Result<Option<FallbackRow>> {
        let id = message_id.to_string();
        self.read(move |c, _| super::fallbacks::get(c, &id)).await
    }

    async fn close(&self) {
        self.shutdown();
    }
}
