//! SQLite migrations, applied in order; `PRAGMA user_version` records how many ran.

const MIGRATIONS: &[&str] = &[
    // 1: accounts, spaces, keys, numbers, nonces, account settings
    r#"
    CREATE TABLE accounts (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        status TEXT NOT NULL DEFAULT 'active',
        default_space TEXT NOT NULL,
        created_at INTEGER NOT NULL
    );
    CREATE TABLE spaces (
        id TEXT PRIMARY KEY,
        account_id INTEGER NOT NULL REFERENCES accounts(id),
        name TEXT NOT NULL,
        created_at INTEGER NOT NULL
    );
    CREATE TABLE access_keys (
        id TEXT PRIMARY KEY,
        account_id INTEGER NOT NULL REFERENCES accounts(id),
        secret_sealed BLOB NOT NULL,
        enabled INTEGER NOT NULL DEFAULT 1,
        actions TEXT,
        spaces TEXT,
        created_at INTEGER NOT NULL
    );
    CREATE TABLE numbers (
        id INTEGER PRIMARY KEY,
        account_id INTEGER NOT NULL REFERENCES accounts(id),
        space_id TEXT NOT NULL REFERENCES spaces(id),
        phone TEXT NOT NULL UNIQUE,
        channel TEXT NOT NULL,
        status TEXT NOT NULL DEFAULT 'CONNECTED',
        verified_name TEXT NOT NULL DEFAULT '',
        quality_rating TEXT NOT NULL DEFAULT 'GREEN',
        messaging_limit_tier TEXT NOT NULL DEFAULT 'TIER_1K',
        throughput_mps INTEGER NOT NULL DEFAULT 80,
        phone_number_id TEXT,
        waba_id TEXT,
        access_token_sealed BLOB,
        app_secret_sealed BLOB,
        api_base TEXT,
        api_version TEXT,
        created_at INTEGER NOT NULL
    );
    CREATE TABLE nonces (
        key_id TEXT NOT NULL,
        nonce TEXT NOT NULL,
        expires_at INTEGER NOT NULL,
        PRIMARY KEY (key_id, nonce)
    ) WITHOUT ROWID;
    CREATE INDEX nonces_expiry ON nonces(expires_at);
    CREATE TABLE account_settings (
        account_id INTEGER NOT NULL REFERENCES accounts(id),
        key TEXT NOT NULL,
        value TEXT NOT NULL,
        PRIMARY KEY (account_id, key)
    ) WITHOUT ROWID;
    "#,
    // 2: templates, messages with their durable queue, the 24-hour window, the event log
    r#"
    CREATE TABLE templates (
        id INTEGER PRIMARY KEY,
        account_id INTEGER NOT NULL REFERENCES accounts(id),
        space_id TEXT NOT NULL REFERENCES spaces(id),
        code TEXT NOT NULL,
        name TEXT NOT NULL,
        language TEXT NOT NULL,
        category TEXT NOT NULL,
        template_type TEXT NOT NULL DEFAULT 'WHATSAPP',
        components TEXT NOT NULL,
        example TEXT NOT NULL DEFAULT '{}',
        audit_status TEXT NOT NULL,
        reason TEXT NOT NULL DEFAULT '',
        quality_score TEXT NOT NULL DEFAULT 'UNKNOWN',
        message_send_ttl INTEGER,
        category_change_paused INTEGER NOT NULL DEFAULT 0,
        product_set_id TEXT,
        provider_id TEXT,
        review_due_at INTEGER,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        deleted_at INTEGER,
        UNIQUE (code, language)
    );
    CREATE UNIQUE INDEX templates_live_name ON templates(space_id, name, language) WHERE deleted_at IS NULL;
    CREATE INDEX templates_space ON templates(space_id, updated_at);
    CREATE INDEX templates_review ON templates(review_due_at) WHERE review_due_at IS NOT NULL;

    CREATE TABLE messages (
        id TEXT PRIMARY KEY,
        account_id INTEGER NOT NULL,
        space_id TEXT NOT NULL,
        direction TEXT NOT NULL,
        sender TEXT NOT NULL,
        recipient TEXT NOT NULL,
        send_type TEXT NOT NULL,
        message_type TEXT NOT NULL,
        template_code TEXT,
        template_name TEXT,
        language TEXT,
        body TEXT NOT NULL,
        task_id TEXT,
        tag TEXT,
        tracking_data TEXT,
        label TEXT,
        ttl_secs INTEGER,
        fallback_id TEXT,
        fallback_content TEXT,
        fallback_duration INTEGER,
        fallback_rule TEXT,
        group_id TEXT,
        context_id TEXT,
        status TEXT NOT NULL,
        error_code TEXT,
        error_description TEXT,
        provider_id TEXT,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL
    );
    CREATE INDEX messages_sender_time ON messages(account_id, sender, created_at);
    CREATE INDEX messages_group ON messages(group_id) WHERE group_id IS NOT NULL;
    CREATE UNIQUE INDEX messages_provider ON messages(provider_id) WHERE provider_id IS NOT NULL;

    CREATE TABLE queue (
        message_id TEXT PRIMARY KEY,
        due_at INTEGER NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        lease_until INTEGER,
        lease_owner TEXT
    ) WITHOUT ROWID;
    CREATE INDEX queue_due ON queue(due_at);

    CREATE TABLE windows (
        sender TEXT NOT NULL,
        user TEXT NOT NULL,
        last_inbound_at INTEGER NOT NULL,
        PRIMARY KEY (sender, user)
    ) WITHOUT ROWID;

    CREATE TABLE events (
        id INTEGER PRIMARY KEY,
        account_id INTEGER NOT NULL,
        kind TEXT NOT NULL,
        message_id TEXT,
        payload TEXT NOT NULL,
        created_at INTEGER NOT NULL
    );
    CREATE INDEX events_message ON events(message_id) WHERE message_id IS NOT NULL;
    "#,
    // 3: fallback policies
    r#"
    CREATE TABLE policies (
        id TEXT NOT NULL,
        account_id INTEGER NOT NULL REFERENCES accounts(id),
        name TEXT NOT NULL,
        channel TEXT NOT NULL,
        sender_id TEXT NOT NULL,
        connection_sealed BLOB NOT NULL,
        created_at INTEGER NOT NULL,
        deleted_at INTEGER,
        PRIMARY KEY (account_id, id)
    );
    "#,
    // 4: receipts — webhook destinations, per-account callback signing secrets, the callback
    // outbox (endpoints with their retry state, pending deliveries in event order, the routing
    // cursor over `events`) and the indexes ListChatappMessage and replay need
    r#"
    CREATE TABLE webhook_settings (
        space_id TEXT NOT NULL,
        phone TEXT NOT NULL DEFAULT '',
        account_id INTEGER NOT NULL,
        status_url TEXT,
        up_url TEXT,
        http_flag INTEGER,
        queue_flag INTEGER,
        updated_at INTEGER NOT NULL,
        PRIMARY KEY (space_id, phone)
    ) WITHOUT ROWID;
    CREATE TABLE callback_secrets (
        account_id INTEGER PRIMARY KEY,
        secret_sealed BLOB NOT NULL,
        created_at INTEGER NOT NULL
    );
    CREATE TABLE callback_endpoints (
        id INTEGER PRIMARY KEY,
        account_id INTEGER NOT NULL,
        url TEXT NOT NULL,
        enabled INTEGER NOT NULL DEFAULT 1,
        disabled_reason TEXT,
        disabled_at INTEGER,
        failures INTEGER NOT NULL DEFAULT 0,
        first_failure_at INTEGER,
        last_error TEXT,
        last_attempt_at INTEGER,
        last_success_at INTEGER,
        delivered INTEGER NOT NULL DEFAULT 0,
        due_at INTEGER NOT NULL DEFAULT 0,
        lease_owner TEXT,
        lease_until INTEGER,
        created_at INTEGER NOT NULL,
        UNIQUE (account_id, url)
    );
    CREATE TABLE callback_deliveries (
        endpoint_id INTEGER NOT NULL,
        event_id INTEGER NOT NULL,
        enqueued_at INTEGER NOT NULL,
        PRIMARY KEY (endpoint_id, event_id)
    ) WITHOUT ROWID;
    CREATE TABLE callback_cursor (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        event_id INTEGER NOT NULL
    );
    INSERT INTO callback_cursor (id, event_id) SELECT 1, COALESCE(MAX(id), 0) FROM events;
    CREATE INDEX events_time ON events(created_at);
    CREATE INDEX messages_space_sender_time ON messages(space_id, sender, created_at);
    "#,
    // 5: fallback timers and the SMS ids they sent
    r#"
    CREATE TABLE fallbacks (
        message_id TEXT PRIMARY KEY,
        account_id INTEGER NOT NULL,
        policy_id TEXT NOT NULL,
        state TEXT NOT NULL,
        due_at INTEGER,
        lease_owner TEXT,
        lease_until INTEGER,
        attempts INTEGER NOT NULL DEFAULT 0,
        sms_ids TEXT,
        text TEXT,
        error TEXT,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL
    ) WITHOUT ROWID;
    CREATE INDEX fallbacks_active ON fallbacks(state, due_at);
    CREATE TABLE fallback_sms (
        sms_id TEXT PRIMARY KEY,
        message_id TEXT NOT NULL
    ) WITHOUT ROWID;
    "#,
    // 6: nonces in arrival order. Keyed by (key, nonce), every insert landed on a random page of
    // a large B-tree, so each commit wrote one WAL page per request; appended by time they share
    // pages. Uniqueness is the in-memory cache's job; this table only survives restarts.
    r#"
    CREATE TABLE nonces_by_time (
        expires_at INTEGER NOT NULL,
        key_id TEXT NOT NULL,
        nonce TEXT NOT NULL
    );
    CREATE INDEX nonces_by_time_expiry ON nonces_by_time(expires_at);
    INSERT INTO nonces_by_time (expires_at, key_id, nonce)
        SELECT expires_at, key_id, nonce FROM nonces ORDER BY expires_at;
    DROP TABLE nonces;
    ALTER TABLE nonces_by_time RENAME TO nonces;
    -- no query reads messages by (account, sender, time) (ListChatappMessage goes by space), and
    -- with one insertion point per sender it cost a WAL page per sender and commit
    DROP INDEX messages_sender_time;
    "#,
    // 7: the message history index by (space, time). With the sender between them, every
    // insert landed on one of the space's per-sender pages (a WAL page per sender and commit),
    // and the history query, whose sender filter is optional, could not use the index for its
    // time order anyway
    r#"
    DROP INDEX messages_space_sender_time;
    CREATE INDEX messages_space_time ON messages(space_id, created_at);
    "#,
    // 8: who holds a template's simulated review and until when. Reviews are claimed with a
    // lease like queue entries and fallbacks (the PostgreSQL schema has had these columns from
    // the start), so a review is decided once, with one audit event, however many workers poll
    r#"
    ALTER TABLE templates ADD COLUMN review_owner TEXT;
    ALTER TABLE templates ADD COLUMN review_lease_until INTEGER;
    "#,
    // 9: web-console users (emails stored lowercased, so UNIQUE is case-insensitive) and their
    // sessions, found by the hash of their token. The console's hourly message counts need no
    // index of their own: they read an account's spaces through messages_space_time, and one
    // more index on messages would cost every accepted send a write
    r#"
    CREATE TABLE console_users (
        id INTEGER PRIMARY KEY,
        account_id INTEGER NOT NULL REFERENCES accounts(id),
        email TEXT NOT NULL UNIQUE,
        role TEXT NOT NULL,
        password_hash TEXT NOT NULL,
        enabled INTEGER NOT NULL DEFAULT 1,
        created_at INTEGER NOT NULL
    );
    CREATE INDEX console_users_account ON console_users(account_id, email);
    CREATE TABLE console_sessions (
        token_hash TEXT PRIMARY KEY,
        user_id INTEGER NOT NULL REFERENCES console_users(id),
        csrf_token TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL
    ) WITHOUT ROWID;
    CREATE INDEX console_sessions_expiry ON console_sessions(expires_at);
    CREATE INDEX console_sessions_user ON console_sessions(user_id);
    "#,
    // 10: the console overview's fallback counts per hour: an account's fallbacks by the time
    // their message was created, with their state, so the count reads the index alone. Only
    // messages that name a FallBackId have a fallback, so most sends never write to it
    r#"
    CREATE INDEX fallbacks_account_time ON fallbacks(account_id, created_at, state);
    "#,
    // 11: the callback delivery log: one row per attempt (one HTTP request, or one dropped
    // record), written in the settle's transaction, with the receiver's answer cut to 512 bytes;
    // purged after seven days from the settle path. The ids an attempt carried are kept as text
    // (one row per request, not per record) and found through the interval they span: filed
    // under the bit length of that span, an attempt holding event p starts within 2^class of p,
    // so a message's attempts are a few short ranges of callback_attempts_events per endpoint
    // of its account, never a scan (see receipts.rs)
    r#"
    CREATE TABLE callback_attempts (
        id INTEGER PRIMARY KEY,
        endpoint_id INTEGER NOT NULL,
        first_event_id INTEGER NOT NULL,
        last_event_id INTEGER NOT NULL,
        span_class INTEGER NOT NULL,
        event_ids TEXT NOT NULL,
        at INTEGER NOT NULL,
        outcome TEXT NOT NULL CHECK (outcome IN ('delivered', 'failed', 'dropped')),
        status INTEGER,
        answer TEXT NOT NULL
    );
    CREATE INDEX callback_attempts_events
        ON callback_attempts(endpoint_id, span_class, first_event_id, last_event_id);
    "#,
    // 12: a user's messages and a TaskId's, newest first, as index ranges (the console's search
    // and ListChatappMessage); the TaskId index holds only the messages that have one
    r#"
    CREATE INDEX messages_recipient ON messages(space_id, recipient, created_at);
    CREATE INDEX messages_task ON messages(space_id, task_id, created_at) WHERE task_id IS NOT NULL;
    "#,
    // 13: failed console sign-ins per email and per client address, in fixed windows
    r#"
    CREATE TABLE login_failures (
        key TEXT PRIMARY KEY,
        failures INTEGER NOT NULL,
        since INTEGER NOT NULL
    );
    "#,
];

pub(crate) fn migrate(conn: &rusqlite::Connection) -> rusqlite::Result<()> {
    let done: usize = conn.query_row("PRAGMA user_version", [], |r| r.get::<_, i64>(0))? as usize;
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(done) {
        let tx = conn.unchecked_transaction()?;
        tx.execute_batch(sql)?;
        tx.execute_batch(&format!("PRAGMA user_version = {}", i + 1))?;
        tx.commit()?;
    }
    Ok(())
}
