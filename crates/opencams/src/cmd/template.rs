//! `opencams template list|show|approve|reject`. Approve and reject decide a review by hand for
//! templates the built-in simulator reviews (local testing); they record the same ChatAppAudit
//! events as the automatic review.

use anyhow::{Context, bail};
use clap::Subcommand;
use opencams_domain::template::AuditStatus;
use opencams_store::{Store, TemplateFilter, TemplateRow};
use serde_json::{Value, json};

use super::{find_account, now_ms, print, with_store};
use crate::config::StorageArgs;

#[derive(Subcommand)]
pub enum TemplateCmd {
    /// List an account's templates
    List {
        #[arg(long, default_value = "default")]
        account: String,
        /// Space (default: the account's default space)
        #[arg(long)]
        space: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Show every language version of a template code
    Show {
        code: String,
        #[arg(long, default_value = "default")]
        account: String,
        #[arg(long)]
        json: bool,
    },
    /// Approve a template awaiting the simulator's review
    Approve {
        code: String,
        #[arg(long)]
        language: String,
        #[arg(long, default_value = "default")]
        account: String,
        #[arg(long)]
        json: bool,
    },
    /// Reject a template awaiting the simulator's review
    Reject {
        code: String,
        #[arg(long)]
        language: String,
        #[arg(long, default_value = "manually rejected")]
        reason: String,
        #[arg(long, default_value = "default")]
        account: String,
        #[arg(long)]
        json: bool,
    },
}

fn describe(t: &TemplateRow) -> Value {
    json!({"TemplateCode": t.code, "TemplateName": t.name, "Language": t.language, "Category": t.category,
           "AuditStatus": t.audit_status, "Reason": t.reason, "CustSpaceId": t.space_id,
           "Components": serde_json::from_str::<Value>(&t.components).unwrap_or(Value::Null), "LastUpdateTime": t.updated_at})
}

pub async fn run(args: &StorageArgs, cmd: TemplateCmd) -> anyhow::Result<()> {
    with_store(args, async |store| run_with(store, cmd).await).await
}

async fn versions(
    store: &dyn Store,
    account: &str,
    code: &str,
) -> anyhow::Result<Vec<TemplateRow>> {
    let a = find_account(store, account).await?;
    let mut all = Vec::new();
    for space in store.list_spaces(Some(a.id)).await? {
        all.extend(store.templates_by_code(&space.id, code).await?);
    }
    if all.is_empty() {
        bail!("no template with code {code:?} in account {account} (see `opencams template list`)");
    }
    Ok(all)
}

async fn decide(
    store: &dyn Store,
    account: &str,
    code: &str,
    language: &str,
    status: AuditStatus,
    reason: &str,
    json: bool,
) -> anyhow::Result<()> {
    let row = versions(store, account, code)
        .await?
        .into_iter()
        .find(|t| t.language == language)
        .with_context(|| format!("template {code} has no {language:?} version"))?;
    if row.review_due_at.is_none()
        && row.audit_status != opencams_domain::template::AuditStatus::Auditing
    {
        bail!(
            "template {code} ({language}) is not awaiting review: its status is {}",
            row.audit_status
        );
    }
    let event = opencams_dispatch::review::audit_event(&row, status, reason);
    let row = store
        .set_template_status(row.id, status, reason, Some(event), now_ms())
        .await?;
    print(json, &describe(&row), || {
        format!(
            "template {} ({}) is now {}",
            row.code, row.language, row.audit_status
        )
    });
    Ok(())
}

async fn run_with(store: &dyn Store, cmd: TemplateCmd) -> anyhow::Result<()> {
    match cmd {
        TemplateCmd::List {
            account,
            space,
            json,
        } => {
            let a = find_account(store, &account).await?;
            let space_id = space.unwrap_or(a.default_space.clone());
            let (total, rows) = store
                .list_templates(TemplateFilter {
                    space_id,
                    limit: 1000,
                    ..Default::default()
                })
                .await?;
            let v =
                json!({"Total": total, "Templates": rows.iter().map(describe).collect::<Vec<_>>()});
            print(json, &v, || {
                let mut s = format!(
                    "{:<34} {:<28} {:<8} {:<14} {}",
                    "CODE", "NAME", "LANG", "CATEGORY", "STATUS"
                );
                for t in &rows {
                    s.push_str(&format!(
                        "\n{:<34} {:<28} {:<8} {:<14} {}",
                        t.code, t.name, t.language, t.category, t.audit_status
                    ));
                }
                s
            });
        }
        TemplateCmd::Show {
            code,
            account,
            json,
        } => {
            let rows = versions(store, &account, &code).await?;
            let v = json!({"Templates": rows.iter().map(describe).collect::<Vec<_>>()});
            print(json, &v, || {
                serde_json::to_string_pretty(&v).unwrap_or_default()
            });
        }
        TemplateCmd::Approve {
            code,
            language,
            account,
            json,
        } => {
            decide(
                store,
                &account,
                &code,
                &language,
                AuditStatus::Pass,
                "",
                json,
            )
            .await?
        }
        TemplateCmd::Reject {
            code,
            language,
            reason,
            account,
            json,
        } => {
            decide(
                store,
                &account,
                &code,
                &language,
                AuditStatus::Fail,
                &reason,
                json,
            )
            .await?
        }
    }
    Ok(())
}
