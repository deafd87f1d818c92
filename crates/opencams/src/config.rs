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
            bail!("--database-url {url:?} is not supported: use sqlite:PATH");
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
}
