//! Who is calling: an access key with its account and the account's settings, cached for a
//! moment so the hot path does not read the database per request. The cache is short-lived
//! (`TTL`) so that a key disabled from the CLI (another process) stops working within seconds.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use opencams_protocol::CamsError;
use opencams_store::{AccessKey, Account, Store};

use crate::context::internal;

const TTL: Duration = Duration::from_secs(2);

/// An authenticated caller's identity.
#[derive(Debug, Clone)]
pub struct Principal {
    pub key: AccessKey,
    pub account: Account,
    pub settings: BTreeMap<String, String>,
}

impl Principal {
    /// A numeric account setting, e.g. `qps.SendChatappMessage`.
    pub fn setting_u32(&self, key: &str) -> Option<u32> {
        self.settings.get(key).and_then(|v| v.parse().ok())
    }
}

/// When an entry was loaded, and what (None: no such key).
type Entry = (Instant, Option<Arc<Principal>>);

#[derive(Default)]
pub struct PrincipalCache {
    entries: RwLock<HashMap<String, Entry>>,
}

impl PrincipalCache {
    /// The principal of `key_id`, `None` for an unknown key.
    pub async fn get(
        &self,
        store: &dyn Store,
        key_id: &str,
    ) -> Result<Option<Arc<Principal>>, CamsError> {
        if let Ok(map) = self.entries.read()
            && let Some((at, p)) = map.get(key_id)
            && at.elapsed() < TTL
        {
            return Ok(p.clone());
        }
        let loaded = load(store, key_id).await?;
        if let Ok(mut map) = self.entries.write() {
            if map.len() > 100_000 {
                map.clear(); // bounded: unknown ids from an attacker must not grow it forever
            }
            map.insert(key_id.to_string(), (Instant::now(), loaded.clone()));
        }
        Ok(loaded)
    }

    /// Drops every cached entry (after a change made through this process).
    pub fn invalidate(&self) {
        if let Ok(mut map) = self.entries.write() {
            map.clear();
        }
    }
}

async fn load(store: &dyn Store, key_id: &str) -> Result<Option<Arc<Principal>>, CamsError> {
    let Some(key) = store.key(key_id).await.map_err(internal)? else {
        return Ok(None);
    };
    let Some(account) = store
        .account_by_id(key.account_id)
        .await
        .map_err(internal)?
    else {
        return Ok(None);
    };
    let settings = store.account_settings(account.id).await.map_err(internal)?;
    Ok(Some(Arc::new(Principal {
        key,
        account,
        settings,
    })))
}
