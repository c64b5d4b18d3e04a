//! Test databases and assertions for the PostgreSQL suite.

use dataflow::schema::introspect::postgres::Introspected;
use dataflow_core::Postgres;
use sqlx::Connection;
use sqlx::Executor;
use std::sync::atomic::{AtomicUsize, Ordering};

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// The admin URL (a database the tests may connect to and create databases from).
pub fn admin_url() -> String {
    std::env::var("DATAFLOW_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// `admin_url` with another database name.
pub fn url_for(database: &str) -> String {
    let admin = admin_url();
    match admin.rsplit_once('/') {
        Some((base, _)) => format!("{base}/{database}"),
        None => admin,
    }
}

/// A fresh database, dropped by [`TestDb::drop_db`] (or left for inspection on panic).
pub struct TestDb {
    pub name: String,
    pub url: String,
    pub db: Postgres,
}

/// Whether the server is reachable; under CI an unreachable server is a failure.
pub async fn server_available() -> bool {
    match sqlx::PgConnection::connect(&admin_url()).await {
        Ok(connection) => {
            let _ = connection.close().await;
            true
        }
        Err(error) => {
            if std::env::var("CI").is_ok() {
                panic!("PostgreSQL is unreachable at {} under CI: {error}", admin_url());
            }
            eprintln!("SKIPPED: PostgreSQL is unreachable at {} ({error})", admin_url());
            false
        }
    }
}

/// Runs statements on the admin connection, each on its own (CREATE/DROP DATABASE
/// cannot run in a transaction block).
pub async fn admin(statements: &[&str]) {
    let mut connection = sqlx::PgConnection::connect(&admin_url()).await.expect("admin connection");
    for sql in statements {
        connection.execute(sqlx::raw_sql(sql)).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
    }
    let _ = connection.close().await;
}

/// Creates (or re-creates) a database.
pub async fn create_database(name: &str) {
    admin(&[
        &format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"),
        &format!("CREATE DATABASE \"{name}\""),
    ])
    .await;
}

/// Drops a database.
pub async fn drop_database(name: &str) {
    admin(&[&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)")]).await;
}

impl TestDb {
    /// Creates `df_<label>_<pid>_<n>`.
    pub async fn new(label: &str) -> TestDb {
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let name = format!("df_{label}_{}_{n}", std::process::id());
        create_database(&name).await;
        let url = url_for(&name);
        let db = Postgres::connect(&url).await.expect("connect to the test database");
        TestDb { name, url, db }
    }

    /// Runs SQL in this database.
    pub async fn exec(&self, sql: &str) {
        sqlx::raw_sql(sql).execute(self.db.pool()).await.unwrap_or_else(|e| panic!("{sql}\n→ {e}"));
    }

    /// One value.
    pub async fn scalar<T>(&self, sql: &str) -> T
    where
        T: for<'r> sqlx::Decode<'r, sqlx::Postgres> + sqlx::Type<sqlx::Postgres> + Send + Unpin,
    {
        sqlx::query_scalar(sql)
            .fetch_one(self.db.pool())
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
    }

    /// Introspects `public`.
    pub async fn introspect(&self) -> Introspected {
        self.db.introspect(&["public".to_owned()]).await.expect("introspection")
    }

    /// Drops the database.
    pub async fn drop_db(self) {
        self.db.pool().close().await;
        drop_database(&self.name).await;
    }
}
