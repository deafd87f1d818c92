//! The Store conformance suite: the contracts of every aggregate trait, written against
//! `Arc<dyn Store>` only, each case an `async fn(Place)`. [`conformance!`] runs every case on
//! every backend, unchanged: `sqlite::<case>` in a temporary directory and `postgres::<case>`
//! in a fresh database of its own (dropped after), on the server of `OPENCAMS_TEST_DATABASE_URL`
//! (default: the trust-auth server at 127.0.0.1:5432). What is particular to one backend is
//! tested beside it (`tests/sqlite.rs`, `tests/postgres.rs`).
#![allow(clippy::unwrap_used, reason = "test code: a panic is a failed test")]

use std::sync::Arc;

use opencams_store::postgres::testdb::TestDatabase;
use opencams_store::*;

mod cases;
mod console;
mod deliveries;
mod metrics;
mod numbers;
mod overview;
mod receipts;

fn cipher() -> Cipher {
    Cipher::from_key(&[42; 32])
}

/// Where a case keeps its data: a backend's place, opened (and reopened) by the case.
pub enum Place {
    Sqlite(tempfile::TempDir),
    Postgres(TestDatabase),
}

impl Place {
    /// The backend under test, opened on this place with the suite's master key.
    pub async fn open(&self) -> Arc<dyn Store> {
        self.open_with(cipher()).await
    }

    /// The backend opened with another master key.
    pub async fn open_with(&self, cipher: Cipher) -> Arc<dyn Store> {
        match self {
            Place::Sqlite(dir) => open(None, dir.path(), cipher).await.unwrap(),
            Place::Postgres(db) => open(Some(&db.url), std::path::Path::new("."), cipher)
                .await
                .unwrap(),
        }
    }

    /// Every byte the backend keeps, to look for secrets in: the SQLite files, or every row of
    /// every table as PostgreSQL prints it.
    pub async fn raw_contents(&self) -> Vec<u8> {
        match self {
            Place::Sqlite(dir) => {
                let mut all = Vec::new();
                for entry in std::fs::read_dir(dir.path()).unwrap() {
                    all.extend(std::fs::read(entry.unwrap().path()).unwrap());
                }
                all
            }
            Place::Postgres(db) => {
                let (client, conn) = tokio_postgres::connect(&db.url, tokio_postgres::NoTls)
                    .await
                    .unwrap();
                tokio::spawn(conn);
                let tables = client
                    .query(
                        "SELECT tablename FROM pg_tables WHERE schemaname = 'public'",
                        &[],
                    )
                    .await
                    .unwrap();
                let mut all = Vec::new();
                for t in tables {
                    let name: String = t.get(0);
                    for row in client
                        .query(&format!("SELECT t::text FROM {name} t"), &[])
                        .await
                        .unwrap()
                    {
                        all.extend(row.get::<_, String>(0).into_bytes());
                    }
                }
                all
            }
        }
    }
}

/// Runs each case on SQLite and on PostgreSQL (skipped, with a message, when no server is
/// reachable and none is required; see `opencams_store::postgres::testdb`).
macro_rules! conformance {
    ($($m:ident :: $name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    crate::$m::$name(crate::Place::Sqlite(tempfile::tempdir().unwrap())).await
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    if let Some(db) = opencams_store::postgres::testdb::TestDatabase::create().await {
                        crate::$m::$name(crate::Place::Postgres(db)).await
                    }
                }
            )*
        }
    };
}

conformance! {
    cases::accounts_keys_numbers_survive_restart_and_secrets_are_sealed,
    cases::group_commit_keeps_every_write_and_isolates_failures,
    cases::nonces_persist_until_they_expire,
    cases::a_nonce_is_claimed_once_while_it_lives,
    cases::token_buckets_grant_refill_and_wait,
    cases::templates_versions_review_list_and_delete,
    cases::template_reviews_are_leased_to_one_owner,
    cases::message_batches_are_all_or_nothing_and_windows_only_move_forward,
    cases::queue_leases_are_exclusive_and_expire,
    cases::statuses_apply_monotonically_and_inbound_once,
    cases::a_failure_records_its_error_and_a_later_delivery_wins_over_it,
    cases::statuses_that_overtake_the_settlement_find_the_message_by_its_id,
    numbers::an_update_changes_only_what_it_names_and_reseals_secrets,
    numbers::a_number_is_removed_only_once_none_of_its_messages_is_queued,
    receipts::outbox_keeps_event_order_leases_retries_disables_and_replays,
    receipts::message_history_filters_and_pages,
    deliveries::attempts_are_logged_with_their_answers_and_found_per_message,
    deliveries::answers_are_cut_at_512_bytes_on_a_char_boundary,
    deliveries::attempts_older_than_seven_days_are_purged_as_new_ones_are_logged,
    console::console_users_are_found_by_email_in_any_case_and_listed_per_account,
    console::a_password_change_or_disabling_ends_that_users_sessions_only,
    console::console_sessions_expire_and_are_deleted,
    console::sign_in_failures_count_per_key_in_fixed_windows,
    console::hourly_counts_bucket_one_accounts_messages_by_hour_status_and_direction,
    overview::waiting_counts_one_accounts_queued_messages_per_sender,
    overview::hourly_fallbacks_count_one_accounts_fallbacks_by_hour_and_state,
    metrics::number_metrics_count_one_spaces_messages_per_sender_and_bucket,
    metrics::template_metrics_count_a_templates_messages_and_the_taps_on_its_buttons,
}
