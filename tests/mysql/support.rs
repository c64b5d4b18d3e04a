//! Test databases for the MySQL suite: one database per test on the shared server.

use crate::common::applied::{auto_migrate_and_reverse, Inspect, Reversal};
use dataflow::{
    schema_of, DataFlow, Dialect, MigrateOptions, MigrationReport, Mode, ModelDef, QualifiedName,
    RiskLevel, Schema,
};
use sqlx::{Connection, Executor, MySqlConnection, Row};
use std::sync::atomic::{AtomicUsize, Ordering};

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// The admin URL (the server's `test` database by default).
pub fn admin_url() -> String {
    std::env::var("DATAFLOW_TEST_MYSQL")
        .unwrap_or_else(|_| "mysql://root@127.0.0.1:3306/test".into())
}

/// `admin_url` with another database name.
pub fn url_for(database: &str) -> String {
    let admin = admin_url();
    match admin.rsplit_once('/') {
        Some((base, _)) => format!("{base}/{database}"),
        None => admin,
    }
}

/// Whether the server is reachable; if not, the test skips visibly (and fails under
/// `CI=true`: see [`crate::common::skip`]).
pub async fn server_available() -> bool {
    match MySqlConnection::connect(&admin_url()).await {
        Ok(connection) => {
            let _ = connection.close().await;
            true
        }
        Err(error) => {
            crate::common::skip::skip(&format!(
                "MySQL/MariaDB is unreachable at {} ({error})",
                admin_url()
            ));
            false
        }
    }
}

/// Runs statements on an admin connection.
pub async fn admin(statements: &[&str]) {
    let mut connection = MySqlConnection::connect(&admin_url()).await.expect("admin connection");
    for sql in statements {
        connection.execute(*sql).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
    }
    let _ = connection.close().await;
}

/// Creates (or re-creates) a database.
pub async fn create_database(name: &str) {
    admin(&[&format!("DROP DATABASE IF EXISTS `{name}`"), &format!("CREATE DATABASE `{name}`")])
        .await;
}

/// Drops a database.
pub async fn drop_database(name: &str) {
    admin(&[&format!("DROP DATABASE IF EXISTS `{name}`")]).await;
}

/// A fresh database `df_<label>_<pid>_<n>`, dropped by [`TestDb::drop_db`] (left for
/// inspection when a test fails).
pub struct TestDb {
    pub name: String,
    pub url: String,
    connection: tokio::sync::Mutex<MySqlConnection>,
}

/// `AutoConfirm` (tests never wait for an answer) with every risk allowed.
pub fn unattended() -> MigrateOptions {
    MigrateOptions::default().with_mode(Mode::AutoConfirm).with_max_risk(RiskLevel::High)
}

/// The desired schema of a model set.
pub fn models(defs: &[ModelDef]) -> Schema {
    schema_of(defs).unwrap_or_else(|e| panic!("invalid models: {e}"))
}

impl TestDb {
    pub async fn new(label: &str) -> TestDb {
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let name = format!("df_{label}_{}_{n}", std::process::id());
        create_database(&name).await;
        let url = url_for(&name);
        let connection =
            MySqlConnection::connect(&url).await.expect("connect to the test database");
        TestDb { name, url, connection: tokio::sync::Mutex::new(connection) }
    }

    /// A database that exists already, at `url` (e.g. on another server).
    pub async fn at(name: String, url: String) -> TestDb {
        let connection =
            MySqlConnection::connect(&url).await.expect("connect to the test database");
        TestDb { name, url, connection: tokio::sync::Mutex::new(connection) }
    }

    /// Runs SQL (several statements allowed).
    pub async fn exec(&self, sql: &str) {
        let mut connection = self.connection.lock().await;
        for statement in sql.split(";\n").map(str::trim).filter(|s| !s.is_empty()) {
            connection.execute(statement).await.unwrap_or_else(|e| panic!("{statement}\n→ {e}"));
        }
    }

    /// Each row as `a|b|c` (NULL as `∅`); cast columns to CHAR in the query. A value
    /// that decodes as neither text nor an integer fails: it is never read as NULL.
    pub async fn rows(&self, sql: &str) -> Vec<String> {
        let mut connection = self.connection.lock().await;
        let rows = sqlx::query(sql)
            .fetch_all(&mut *connection)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
        rows.iter()
            .map(|row| {
                (0..row.len())
                    .map(|i| {
                        let value = match row.try_get::<Option<String>, _>(i) {
                            Ok(text) => text,
                            Err(_) => row
                                .try_get::<Option<i64>, _>(i)
                                .unwrap_or_else(|e| panic!("{sql}: column {i}: {e}"))
                                .map(|v| v.to_string()),
                        };
                        value.unwrap_or_else(|| "∅".to_owned())
                    })
                    .collect::<Vec<_>>()
                    .join("|")
            })
            .collect()
    }

    /// One integer.
    pub async fn count(&self, sql: &str) -> i64 {
        let mut connection = self.connection.lock().await;
        sqlx::query_scalar(sql)
            .fetch_one(&mut *connection)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
    }

    /// A flow on this database with `defs` registered.
    pub async fn flow(&self, defs: &[ModelDef]) -> DataFlow {
        DataFlow::connect(&self.url).await.expect("connect").models(defs.iter().cloned())
    }

    /// Migrates to `defs` and checks convergence (a second plan is empty), through the
    /// assertion path: rolled back to the exact schema and rows it started from, then
    /// applied again (see [`crate::common::applied`]). Returns the final report.
    pub async fn migrate(&self, defs: &[ModelDef]) -> MigrationReport {
        self.migrate_with(defs, Reversal::Restores).await
    }

    /// [`TestDb::migrate`], with the rollback check given by `reversal`.
    pub async fn migrate_with(&self, defs: &[ModelDef], reversal: Reversal) -> MigrationReport {
        let flow = self.flow(defs).await;
        auto_migrate_and_reverse(self, &flow, unattended(), reversal).await
    }

    /// Rolls `version` back and checks the database matches `defs` again.
    pub async fn rollback_to(&self, version: &str, defs: &[ModelDef]) {
        let flow = self.flow(defs).await;
        flow.rollback_migration(version).await.unwrap_or_else(|e| panic!("rollback: {e}"));
        let again = flow.plan().await.expect("plan");
        assert!(again.is_empty(), "rollback did not restore the schema, re-plan:\n{again}");
    }

    pub async fn drop_db(self) {
        let _ = self.connection.into_inner().close().await;
        drop_database(&self.name).await;
    }
}

impl Inspect for TestDb {
    const DIALECT: Dialect = Dialect::Mysql;

    async fn live_schema(&self) -> Schema {
        let db = dataflow::Mysql::connect(&self.url).await.expect("connect");
        let schema = db.introspect().await.expect("introspection").schema;
        db.pool().close().await;
        schema
    }

    /// `QUOTE()` keeps NULL (`NULL`) apart from text; the row is cast to text so that
    /// binary columns read as text too, and a value that cannot be decoded fails.
    async fn table_rows(&self, table: &QualifiedName, columns: &[String]) -> Vec<String> {
        let list: Vec<String> =
            columns.iter().map(|c| format!("QUOTE(`{}`)", c.replace('`', "``"))).collect();
        let sql = format!(
            "SELECT CAST(CONCAT_WS('|', {}) AS CHAR) FROM `{}` ORDER BY 1",
            list.join(", "),
            table.name.replace('`', "``")
        );
        let mut connection = self.connection.lock().await;
        sqlx::query_scalar(&sql)
            .fetch_all(&mut *connection)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
    }
}

/// Migrates a populated database from `v1` to `v2` and back: `seed` fills it under v1,
/// `probe` (a query over columns both versions share, cast to CHAR) returns the same rows
/// after the upgrade and after the rollback; then forward again. Returns the upgrade.
pub async fn round_trip(
    label: &str,
    v1: &[ModelDef],
    v2: &[ModelDef],
    seed: &str,
    probe: &str,
) -> (TestDb, MigrationReport) {
    round_trip_with(label, v1, v2, seed, probe, Reversal::Restores).await
}

/// [`round_trip`], with the assertion path's rollback check of v1 → v2 given by
/// `reversal` (the probe's rows are compared either way).
pub async fn round_trip_with(
    label: &str,
    v1: &[ModelDef],
    v2: &[ModelDef],
    seed: &str,
    probe: &str,
    reversal: Reversal,
) -> (TestDb, MigrationReport) {
    let db = TestDb::new(label).await;
    db.migrate(v1).await;
    db.exec(seed).await;
    let before = db.rows(probe).await;
    assert!(!before.is_empty(), "the probe sees the seeded rows");
    let report = db.migrate_with(v2, reversal).await;
    assert!(report.applied, "v1 → v2 has changes");
    assert_eq!(db.rows(probe).await, before, "the upgrade kept the rows\n{}", report.plan);
    let version = report.version.clone().expect("a version");
    db.rollback_to(&version, v1).await;
    assert_eq!(db.rows(probe).await, before, "the rollback kept the rows\n{}", report.plan);
    let again =
        db.flow(v2).await.auto_migrate(unattended().with_force(true)).await.expect("forward again");
    assert!(again.applied, "forward again applies");
    (db, report)
}
