//! Settings in layers: defaults < TOML file (`--config`) < `OPENCAMS_*` environment < flags
//! (clap reads flag and environment; the file and the defaults fill what is left).

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::Args;
use serde::Deserialize;

pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
pub const DEFAULT_DATA_DIR: &str = "./opencams-data";

/// Where the data lives; every command takes these.
#[derive(Debug, Clone, Args)]
pub struct StorageArgs {
    /// Data directory (SQLite database, master key) [default: ./opencams-data]
    #[arg(long, env = "OPENCAMS_DATA_DIR", global = true)]
    pub data_dir: Option<PathBuf>,
    /// Database URL: sqlite:PATH (default: <data-dir>/opencams.db)
    #[arg(long, env = "OPENCAMS_DATABASE_URL", global = true)]
    pub database_url: Option<String>,
    /// TOML configuration file
    #[arg(long, env = "OPENCAMS_CONFIG", global = true)]
    pub config: Option<PathBuf>,
}

/// The optional TOML file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub listen: Option<String>,
    pub data_dir: Option<PathBuf>,
    pub database_url: Option<String>,
    pub debug_signatures: Option<bool>,
    pub template_review_delay_ms: Option<u64>,
    pub node_id: Option<String>,
}

impl FileConfig {
    pub fn load(path: Option<&Path>) -> anyhow::Result<Self> {
        let Some(path) = path else {
            return Ok(Self::default());
        };
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read config file {}", path.display()))?;
        toml::from_str(&text)
            .with_context(|| format!("config file {} is not valid", path.display()))
    }
}

/// Resolved storage settings.
#[derive(Debug, Clone)]
pub struct Storage {
    pub data_dir: PathBuf,
    pub database_url: Option<String>,
}

impl StorageArgs {
    pub fn resolve(&self) -> anyhow::Result<(Storage, FileConfig)> {
        let file = FileConfig::load(self.config.as_deref())?;
        let data_dir = self
            .data_dir
            .clone()
            .or_else(|| file.data_dir.clone())
            .unwrap_or_else(|| DEFAULT_DATA_DIR.into());
        let database_url = self
            .database_url
            .clone()
            .or_else(|| file.database_url.clone());
        if let Some(url) = &database_url
            && !(url.starts_with("sqlite:")
                || url.starts_with("postgres://")
                || url.starts_with("postgresql://"))
        {
            bail!(
                "--database-url {url:?} is not supported: use sqlite:PATH or postgres://user@host:port/db"
            );
        }
        Ok((
            Storage {
                data_dir,
                database_url,
            },
            file,
        ))
    }
}

/// This `serve` process's name among the nodes sharing a database: it names the leases the
/// process takes (`{node}/dispatch`, `{node}/callbacks`, `{node}/fallback`). Process ids do not
/// tell nodes apart (in containers every node is pid 1), so it is random unless set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeId(String);

impl NodeId {
    const MAX_LEN: usize = 64;

    /// `node-` and 12 random letters and digits.
    pub fn random() -> Self {
        use rand::Rng;
        let tail: String = rand::thread_rng()
            .sample_iter(&rand::distributions::Alphanumeric)
            .take(12)
            .map(char::from)
            .collect();
        Self(format!("node-{tail}"))
    }

    /// 1 to 64 characters of `A-Z a-z 0-9 . _ -`; `setting` names where the value came from.
    pub fn parse(raw: &str, setting: &str) -> anyhow::Result<Self> {
        let valid = (1..=Self::MAX_LEN).contains(&raw.len())
            && raw
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
        if !valid {
            bail!(
                "{setting} {raw:?} is not a valid node id: use 1 to {} characters of A-Z, a-z, 0-9, '.', '_' and '-'",
                Self::MAX_LEN
            );
        }
        Ok(Self(raw.to_string()))
    }

    /// The flag or environment value, else the file's `node_id`, else a random id.
    pub fn resolve(flag_or_env: Option<&str>, file: Option<&str>) -> anyhow::Result<Self> {
        match (flag_or_env, file) {
            (Some(raw), _) => Self::parse(raw, "--node-id (OPENCAMS_NODE_ID)"),
            (None, Some(raw)) => Self::parse(raw, "node_id in the config file"),
            (None, None) => Ok(Self::random()),
        }
    }

    /// The owner name of one of this node's leases: `{node}/{role}`.
    pub fn owner(&self, role: &str) -> String {
        format!("{}/{role}", self.0)
    }
}

impl std::fmt::Display for NodeId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_fills_what_flags_and_env_leave() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(&path, "listen = \"0.0.0.0:9\"\ndata_dir = \"/from-file\"\n").unwrap();
        let args = StorageArgs {
            data_dir: Some("/from-flag".into()),
            database_url: None,
            config: Some(path.clone()),
        };
        let (s, f) = args.resolve().unwrap();
        assert_eq!(s.data_dir, PathBuf::from("/from-flag"));
        assert_eq!(f.listen.as_deref(), Some("0.0.0.0:9"));
        let args = StorageArgs {
            data_dir: None,
            database_url: None,
            config: Some(path),
        };
        assert_eq!(
            args.resolve().unwrap().0.data_dir,
            PathBuf::from("/from-file")
        );
        let args = StorageArgs {
            data_dir: None,
            database_url: None,
            config: None,
        };
        assert_eq!(
            args.resolve().unwrap().0.data_dir,
            PathBuf::from(DEFAULT_DATA_DIR)
        );
        std::fs::write(dir.path().join("bad.toml"), "lisen = 1").unwrap();
        let args = StorageArgs {
            data_dir: None,
            database_url: None,
            config: Some(dir.path().join("bad.toml")),
        };
        assert!(args.resolve().is_err());
    }

    #[test]
    fn node_ids_are_validated_and_layered() {
        for ok in ["a", "node-AbC123xyz789", "eu-west-1.pod_7", &"x".repeat(64)] {
            assert_eq!(NodeId::parse(ok, "--node-id").unwrap().to_string(), ok);
        }
        for bad in ["", "has space", "a/b", "ünïcode", "tab\t", &"x".repeat(65)] {
            let e = NodeId::parse(bad, "--node-id (OPENCAMS_NODE_ID)").unwrap_err();
            let msg = e.to_string();
            assert!(msg.starts_with("--node-id (OPENCAMS_NODE_ID) "), "{msg}");
            assert!(msg.contains("1 to 64 characters"), "{msg}");
        }
        let e = NodeId::resolve(None, Some("no good")).unwrap_err();
        assert!(
            e.to_string().starts_with("node_id in the config file"),
            "{e}"
        );
        let n = NodeId::resolve(Some("from-flag"), Some("from-file")).unwrap();
        assert_eq!(n.owner("dispatch"), "from-flag/dispatch");
        let n = NodeId::resolve(None, Some("from-file")).unwrap();
        assert_eq!(n.to_string(), "from-file");
        let (a, b) = (
            NodeId::resolve(None, None).unwrap(),
            NodeId::resolve(None, None).unwrap(),
        );
        assert_ne!(a, b);
        for n in [a, b] {
            let s = n.to_string();
            assert_eq!(s.len(), 17, "{s}");
            assert!(s.starts_with("node-"), "{s}");
            assert!(NodeId::parse(&s, "random").is_ok());
        }
    }
}
