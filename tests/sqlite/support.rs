//! A database file per test, and the plan → apply → converge → roll back loop.

use crate::common::applied::{
    apply_and_reverse, double_quoted, double_quoted_table, Inspect, Reversal,
};
use dataflow::{
    plan_models, schema_of, Dialect, ModelDef, Plan, PlanOptions, QualifiedName, Schema, Sqlite,
};
use sqlx::Row;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

static NEXT: AtomicUsize = AtomicUsize::new(0);

/// A fresh database file, removed when the test ends (also on failure).
pub struct TestFile {
    pub path: PathBuf,
    pub url: String,
    pub db: Sqlite,
}

impl TestFile {
    pub async fn new(label: &str) -> TestFile {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!("df_{label}_{}_{n}.db", std::process::id()));
        remove(&path);
        let url = format!("sqlite://{}", path.display());
        let db = Sqlite::connect(&url).await.unwrap_or_else(|e| panic!("open {url}: {e}"));
        TestFile { path, url, db }
    }

    pub async fn exec(&self, sql: &str) {
        sqlx::raw_sql(sql).execute(self.db.pool()).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
    }

    /// Each row as `a|b|c` (NULL as `∅`), in the query's order.
    pub async fn rows(&self, sql: &str) -> Vec<String> {
        let rows = sqlx::query(sql)
            .fetch_all(self.db.pool())
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
        rows.iter()
            .map(|row| {
                (0..row.len())
                    .map(|i| {
                        row.try_get::<Option<String>, _>(i)
                            .ok()
                            .flatten()
                            .or_else(|| {
                                row.try_get::<Option<i64>, _>(i)
                                    .ok()
                                    .flatten()
                                    .map(|v| v.to_string())
                            })
                            .or_else(|| {
                                row.try_get::<Option<f64>, _>(i)
                                    .ok()
                                    .flatten()
                                    .map(|v| v.to_string())
                            })
                            .unwrap_or_else(|| "∅".to_owned())
                    })
                    .collect::<Vec<_>>()
                    .join("|")
            })
            .collect()
    }

    pub async fn schema(&self) -> Schema {
        self.db.introspect().await.unwrap_or_else(|e| panic!("introspect: {e}")).schema
    }

    /// The model-mode plan from the live schema to `desired`.
    pub async fn plan(&self, desired: &Schema) -> Plan {
        plan_models(&self.schema().await, desired, Dialect::Sqlite, &PlanOptions::default())
            .unwrap_or_else(|e| panic!("plan: {e}"))
    }

    /// Plans, applies, and checks that planning again finds nothing to do, through the
    /// assertion path: rolled back to the exact schema and rows it started from, then
    /// applied again (see [`crate::common::applied`]). Returns the final plan.
    pub async fn migrate(&self, desired: &Schema) -> Plan {
        self.migrate_with(desired, Reversal::Restores).await
    }

    /// [`TestFile::migrate`], with the rollback check given by `reversal`.
    pub async fn migrate_with(&self, desired: &Schema, reversal: Reversal) -> Plan {
        let apply = async || {
            let plan = self.plan(desired).await;
            self.db.apply(&plan).await.unwrap_or_else(|e| panic!("apply: {e}\n{plan}"));
            self.assert_converged(desired).await;
            plan
        };
        let roll_back = async |plan: &Plan| {
            self.db.rollback(plan).await.unwrap_or_else(|e| panic!("rollback: {e}\n{plan}"));
        };
        apply_and_reverse(self, reversal, apply, roll_back).await
    }

    pub async fn assert_converged(&self, desired: &Schema) {
        let again = self.plan(desired).await;
        assert!(again.is_empty(), "not converged, re-plan:\n{again}");
    }

    /// Rolls `plan` back and checks the schema is `before` again.
    pub async fn rollback_to(&self, plan: &Plan, before: &Schema) {
        self.db.rollback(plan).await.unwrap_or_else(|e| panic!("rollback: {e}\n{plan}"));
        self.assert_converged(before).await;
    }
}

impl Inspect for TestFile {
    const DIALECT: Dialect = Dialect::Sqlite;

    async fn live_schema(&self) -> Schema {
        self.schema().await
    }

    /// `quote()` keeps NULL, text, integers, reals and blobs apart.
    async fn table_rows(&self, table: &QualifiedName, columns: &[String]) -> Vec<String> {
        let list: Vec<String> =
            columns.iter().map(|c| format!("quote({})", double_quoted(c))).collect();
        let sql = format!(
            "SELECT {} FROM {} ORDER BY 1",
            list.join(" || '|' || "),
            double_quoted_table(table)
        );
        sqlx::query_scalar(&sql)
            .fetch_all(self.db.pool())
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
    }
}

impl Drop for TestFile {
    fn drop(&mut self) {
        remove(&self.path);
    }
}

fn remove(path: &Path) {
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
}

/// The desired schema of `defs` (panics with the error: test input is ours).
pub fn models(defs: &[ModelDef]) -> Schema {
    schema_of(defs).unwrap_or_else(|e| panic!("model set is invalid: {e}"))
}

/// Migrates a populated database from `v1` to `v2` and back: `seed` fills it under v1,
/// `probe` (a query over columns both versions share) must return the same rows after the
/// upgrade and after the rollback. Returns the upgrade plan for further checks.
pub async fn round_trip(
    label: &str,
    v1: &[ModelDef],
    v2: &[ModelDef],
    seed: &str,
    probe: &str,
) -> (TestFile, Plan) {
    let file = TestFile::new(label).await;
    let (v1, v2) = (models(v1), models(v2));
    file.migrate(&v1).await;
    file.exec(seed).await;
    let before = file.rows(probe).await;
    assert!(!before.is_empty(), "the probe sees the seeded rows");
    let plan = file.migrate(&v2).await;
    assert!(!plan.is_empty(), "v1 → v2 has changes");
    assert_eq!(file.rows(probe).await, before, "the upgrade kept the rows\n{plan}");
    file.rollback_to(&plan, &v1).await;
    assert_eq!(file.rows(probe).await, before, "the rollback kept the rows\n{plan}");
    // And forward again: the rollback left a schema the plan applies to.
    file.migrate(&v2).await;
    (file, plan)
}
