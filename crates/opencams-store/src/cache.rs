//! A small read-through cache with a time-to-live, for rows the hot path reads on every request
//! (sender numbers, templates). Entries live briefly so changes made by the CLI in another
//! process show within the TTL; a miss is cached too, bounded so junk keys cannot grow it.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::RwLock;
use std::time::{Duration, Instant};

pub struct TtlCache<K, V> {
    ttl: Duration,
    entries: RwLock<HashMap<K, (Instant, V)>>,
}

impl<K: Eq + Hash + Clone, V: Clone> TtlCache<K, V> {
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            entries: RwLock::new(HashMap::new()),
        }
    }

    pub fn get(&self, key: &K) -> Option<V> {
        let map = self.entries.read().ok()?;
        let (at, v) = map.get(key)?;
        (at.elapsed() < self.ttl).then(|| v.clone())
    }

    pub fn put(&self, key: K, value: V) {
        if let Ok(mut map) = self.entries.write() {
            if map.len() > 50_000 {
                map.clear();
            }
            map.insert(key, (Instant::now(), value));
        }
    }

    pub fn clear(&self) {
        if let Ok(mut map) = self.entries.write() {
            map.clear();
        }
    }
}

/// How long the shared cache trusts what it read: a change made by the CLI in another process
/// (or, later, on another node) reaches sends within it.
pub const STORE_CACHE_TTL: Duration = Duration::from_secs(1);

/// A template language version as the hot paths use it: the row, and its components parsed
/// once per cache fill rather than on every send (parsing was about a tenth of a template
/// send's own work).
#[derive(Debug)]
pub struct TemplateVersion {
    pub row: crate::TemplateRow,
    /// The parsed template, or why the stored components do not parse.
    pub parsed: Result<std::sync::Arc<ParsedTemplate>, String>,
}

/// A template version whose components parse.
#[derive(Debug, Clone)]
pub struct ParsedTemplate {
    pub row: crate::TemplateRow,
    pub components: Vec<opencams_domain::template::Component>,
    pub category: opencams_domain::template::Category,
}

impl TemplateVersion {
    pub fn new(row: crate::TemplateRow) -> Self {
        use opencams_domain::template::{Category, parse_components};
        let parsed = parse_components(&row.components)
            .map_err(|e| e.to_string())
            .and_then(|components| {
                let category = Category::parse(&row.category).map_err(|e| e.to_string())?;
                Ok(std::sync::Arc::new(ParsedTemplate {
                    row: row.clone(),
                    components,
                    category,
                }))
            });
        Self { row, parsed }
    }
}

/// The live versions of one template (by code or by name) in a space.
pub type TemplateVersions = std::sync::Arc<[TemplateVersion]>;

/// The one read-through cache over the store for what the hot paths read on every message:
/// sender numbers, spaces and templates. The API, the dispatcher and the built-in simulator
/// share one, so a process reads each at most once per [`STORE_CACHE_TTL`].
pub struct StoreCache {
    store: std::sync::Arc<dyn crate::Store>,
    numbers: TtlCache<String, Option<crate::Number>>,
    spaces: TtlCache<String, Option<crate::Space>>,
    /// By (space, `c:` code or `n:` name).
    templates: TtlCache<(String, String), TemplateVersions>,
}

impl StoreCache {
    pub fn new(store: std::sync::Arc<dyn crate::Store>, ttl: Duration) -> Self {
        Self {
            store,
            numbers: TtlCache::new(ttl),
            spaces: TtlCache::new(ttl),
            templates: TtlCache::new(ttl),
        }
    }

    /// The store this cache reads.
    pub fn store(&self) -> &std::sync::Arc<dyn crate::Store> {
        &self.store
    }

    /// A sender number by phone (a miss is cached too).
    pub async fn number(&self, phone: &str) -> crate::Result<Option<crate::Number>> {
        let key = phone.to_string();
        if let Some(n) = self.numbers.get(&key) {
            return Ok(n);
        }
        let n = self.store.number(phone).await?;
        self.numbers.put(key, n.clone());
        Ok(n)
    }

    /// A space by id (a miss is cached too).
    pub async fn space(&self, id: &str) -> crate::Result<Option<crate::Space>> {
        let key = id.to_string();
        if let Some(s) = self.spaces.get(&key) {
            return Ok(s);
        }
        let s = self.store.space(id).await?;
        self.spaces.put(key, s.clone());
        Ok(s)
    }

    /// The live versions of a template code in a space.
    pub async fn templates_by_code(
        &self,
        space_id: &str,
        code: &str,
    ) -> crate::Result<TemplateVersions> {
        self.templates(space_id, code, true).await
    }

    /// The live versions of a template name in a space.
    pub async fn templates_by_name(
        &self,
        space_id: &str,
        name: &str,
    ) -> crate::Result<TemplateVersions> {
        self.templates(space_id, name, false).await
    }

    async fn templates(
        &self,
        space_id: &str,
        key: &str,
        by_code: bool,
    ) -> crate::Result<TemplateVersions> {
        let cache_key = (
            space_id.to_string(),
            format!("{}:{key}", if by_code { "c" } else { "n" }),
        );
        if let Some(v) = self.templates.get(&cache_key) {
            return Ok(v);
        }
        let rows = if by_code {
            self.store.templates_by_code(space_id, key).await?
        } else {
            self.store.templates_by_name(space_id, key).await?
        };
        let versions: TemplateVersions = rows.into_iter().map(TemplateVersion::new).collect();
        self.templates.put(cache_key, versions.clone());
        Ok(versions)
    }

    /// Forgets every template: this process changed one (a review came in).
    pub fn clear_templates(&self) {
        self.templates.clear();
    }

    /// Forgets what `change` (made on another node) may have made stale.
    pub fn forget(&self, change: crate::Change) {
        use crate::Change::*;
        match change {
            Numbers => self.numbers.clear(),
            Templates => self.templates.clear(),
            Accounts | Keys | Webhooks => {}
            Everything => {
                self.numbers.clear();
                self.spaces.clear();
                self.templates.clear();
            }
        }
    }
}
