//! A fresh PostgreSQL database per test, dropped when the test ends.
//!
//! The server is `OPENCAMS_TEST_DATABASE_URL` (default `postgres://postgres@127.0.0.1:5432/postgres`,
//! the trust-auth server of the CI machines). When it cannot be reached, a test is skipped with a
//! message saying how to point the tests at one — unless `CI` or `OPENCAMS_REQUIRE_POSTGRES` is
//! set, where a missing server fails the test loudly.

use rand::Rng;

/// The default server of the tests.
pub const DEFAULT_ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// A database created for one test; dropped (with its connections) when this is dropped.
pub struct TestDatabase {
    /// The URL of the new database.
    pub url: String,
    name: String,
    admin_url: String,
}

fn admin_url() -> String {
    std::env::var("OPENCAMS_TEST_DATABASE_URL")
        .ok()
        .filter(|u| !u.trim().is_empty())
        .unwrap_or_else(|| DEFAULT_ADMIN_URL.to_string())
}

fn required() -> bool {
    ["CI", "OPENCAMS_REQUIRE_POSTGRES"]
        .iter()
        .any(|v| std::env::var(v).is_ok_and(|v| !v.is_empty() && v != "0" && v != "false"))
}

/// The URL of database `name` on the server of `admin`.
fn with_database(admin: &str, name: &str) -> String {
    match url::Url::parse(admin) {
        Ok(mut u) => {
            u.set_path(&format!("/{name}"));
            u.to_string()
        }
        Err(_) => format!("{admin} dbname={name}"),
    }
}

async fn connect(url: &str) -> Result<tokio_postgres::Client, tokio_postgres::Error> {
    let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls).await?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(client)
}

impl TestDatabase {
    /// Creates a database named `opencams_test_<random>`. `None` (after printing why) when no
    /// server is reachable and none is required; panics when one is required.
    pub async fn create() -> Option<Self> {
        let admin_url = admin_url();
        let admin = match connect(&admin_url).await {
            Ok(c) => c,
            Err(e) => {
                let msg = format!(
                    "PostgreSQL is not reachable at {admin_url} ({e}). The PostgreSQL tests need a \
                     server: start one (e.g. `sudo apt install postgresql && sudo service postgresql \
                     start`, trust auth for 127.0.0.1) or point OPENCAMS_TEST_DATABASE_URL at one \
                     (postgres://user@host:port/db, a user that may CREATE DATABASE)."
                );
                if required() {
                    panic!("{msg}");
                }
                eprintln!("skipped: {msg}");
                return None;
            }
        };
        let name = format!(
            "opencams_test_{}",
            rand::thread_rng().gen_range(0..u64::MAX) & 0xffff_ffff_ffff
        );
        if let Err(e) = admin
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .await
        {
            panic!("cannot create the test database {name} at {admin_url}: {e}");
        }
        Some(Self {
            url: with_database(&admin_url, &name),
            name,
            admin_url,
        })
    }
}

impl TestDatabase {
    /// Takes the database away from its clients (`false`: new connections are refused and the
    /// open ones ended, as when the server goes down) or gives it back (`true`).
    pub async fn set_reachable(&self, reachable: bool) {
        let admin = connect(&self.admin_url)
            .await
            .unwrap_or_else(|e| panic!("cannot reach the test server: {e}"));
        let name = &self.name;
        let sql = if reachable {
            format!("ALTER DATABASE {name} ALLOW_CONNECTIONS true")
        } else {
            format!(
                "ALTER DATABASE {name} ALLOW_CONNECTIONS false; \
                 SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"
            )
        };
        if let Err(e) = admin.batch_execute(&sql).await {
            panic!("cannot change whether {name} is reachable: {e}");
        }
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let (admin_url, name) = (self.admin_url.clone(), self.name.clone());
        // on a thread of its own: drop may run inside a runtime, which cannot block on another
        let dropped = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            rt.block_on(async {
                let admin = connect(&admin_url).await.ok()?;
                admin
                    .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .await
                    .ok()
            })
        })
        .join();
        if !matches!(dropped, Ok(Some(()))) {
            eprintln!("could not drop the test database {}", self.name);
        }
    }
}
