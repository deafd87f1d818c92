//! One module per subcommand, and what they share: opening the store and printing results.

pub mod account;
pub mod copy;
pub mod key;
pub mod message;
pub mod number;
pub mod policy;
pub mod send;
pub mod serve;
pub mod simulate;
pub mod simulator;
pub mod space;
pub mod template;
pub mod user;
pub mod webhook;

use std::sync::Arc;

use anyhow::Context;
use opencams_store::{Account, Cipher, Store};
use serde_json::Value;

use crate::config::{Storage, StorageArgs};

pub fn now_ms() -> i64 {
    use opencams_domain::Clock;
    opencams_domain::SystemClock.now_ms()
}

/// Opens the configured store with the master key.
pub async fn open_store(storage: &Storage) -> anyhow::Result<Arc<dyn Store>> {
    std::fs::create_dir_all(&storage.data_dir).with_context(|| {
        format!(
            "cannot create the data directory {}",
            storage.data_dir.display()
        )
    })?;
    let master = std::env::var("OPENCAMS_MASTER_KEY").ok();
    let cipher = Cipher::load_or_create(&storage.data_dir, master.as_deref())?;
    let store =
        opencams_store::open(storage.database_url.as_deref(), &storage.data_dir, cipher).await?;
    // every node must hold the key the database's secrets were sealed with
    if let Err(opencams_store::StoreError::Crypto(_)) = store.list_keys(None).await {
        store.close().await;
        anyhow::bail!(
            "this master key cannot open the secrets in the database: give this process the key \
             the database was written with (OPENCAMS_MASTER_KEY, or that install's master.key in \
             the data directory); on several nodes every node needs the same one"
        );
    }
    Ok(store)
}

/// Resolves the storage flags and opens the store (admin commands).
pub async fn admin_store(args: &StorageArgs) -> anyhow::Result<Arc<dyn Store>> {
    let (storage, _) = args.resolve()?;
    open_store(&storage).await
}

/// Opens the store, runs `f` on it, and closes it cleanly whatever `f` returned.
pub async fn with_store<T>(
    args: &StorageArgs,
    f: impl AsyncFnOnce(&dyn Store) -> anyhow::Result<T>,
) -> anyhow::Result<T> {
    let store = admin_store(args).await?;
    let result = f(store.as_ref()).await;
    store.close().await;
    result
}

pub async fn find_account(store: &dyn Store, name: &str) -> anyhow::Result<Account> {
    store
        .account(name)
        .await?
        .with_context(|| format!("no account named {name:?} (see `opencams account list`)"))
}

/// The id of the account `name` gives, or `None` (every account) when it gives none.
pub async fn account_filter(store: &dyn Store, name: Option<&str>) -> anyhow::Result<Option<i64>> {
    Ok(match name {
        Some(n) => Some(find_account(store, n).await?.id),
        None => None,
    })
}

/// Prints one JSON object (`--json`) or the human text.
pub fn print(json: bool, value: &Value, human: impl FnOnce() -> String) {
    if json {
        println!("{value}");
    } else {
        println!("{}", human());
    }
}
