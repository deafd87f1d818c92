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
