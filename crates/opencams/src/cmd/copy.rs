//! `opencams copy --from sqlite:PATH --to postgres://…`: moves a single-node install to
//! PostgreSQL with everything in it. The master key stays the same: give every node the key of
//! the install copied from (`OPENCAMS_MASTER_KEY`, or its `master.key`).

use clap::Args;
use serde_json::json;

use super::print;
use crate::config::StorageArgs;

#[derive(Args)]
pub struct CopyArgs {
    /// The SQLite database to copy from (`sqlite:PATH`; default: `<data-dir>/opencams.db`)
    #[arg(long)]
    from: Option<String>,
    /// The PostgreSQL database to copy into (`postgres://user@host:port/db`); it must be empty
    #[arg(long)]
    to: String,
    #[arg(long)]
    json: bool,
}

pub async fn run(storage: &StorageArgs, args: CopyArgs) -> anyhow::Result<()> {
    let (storage, _) = storage.resolve()?;
    let from = match args.from.as_deref() {
        None => storage.data_dir.join("opencams.db"),
        Some(url) if url.starts_with("sqlite:") => url
            .trim_start_matches("sqlite://")
            .trim_start_matches("sqlite:")
            .into(),
        Some(other) => {
            anyhow::bail!("--from {other:?}: copy reads a SQLite database (sqlite:PATH)")
        }
    };
    if !(args.to.starts_with("postgres://") || args.to.starts_with("postgresql://")) {
        anyhow::bail!(
            "--to {:?}: copy writes a PostgreSQL database (postgres://user@host:port/db)",
            args.to
        );
    }
    let master = std::env::var("OPENCAMS_MASTER_KEY").ok();
    let cipher = opencams_store::Cipher::load_or_create(&storage.data_dir, master.as_deref())?;
    let report = opencams_store::copy::sqlite_to_postgres(&from, &args.to, cipher).await?;
    let total: u64 = report.tables.iter().map(|(_, n)| n).sum();
    let tables: serde_json::Map<String, serde_json::Value> = report
        .tables
        .iter()
        .map(|(t, n)| (t.clone(), json!(n)))
        .collect();
    print(
        args.json,
        &json!({"from": from.display().to_string(), "rows": total, "tables": tables}),
        || {
            let mut out = format!("copied {total} rows from {}\n", from.display());
            for (t, n) in &report.tables {
                out.push_str(&format!("  {t:<22} {n}\n"));
            }
            out.push_str(
                "start the nodes with --database-url pointing at the target and the same master key",
            );
            out
        },
    );
    Ok(())
}
