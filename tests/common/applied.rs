//! The one assertion path for an applied plan (ARCHITECTURE.md, invariant 4 and the
//! rollback promise), shared by the three database suites:
//!
//! 1. snapshot the live schema and every row of every table,
//! 2. apply — the caller's step, which also asserts that a re-plan is empty,
//! 3. roll back — the caller's step,
//! 4. the live schema equals the snapshot's (the engine's DB-vs-DB diff between them is
//!    empty) and every table holds exactly the snapshot's rows, column by column,
//! 5. apply again, which must converge again.
//!
//! A plan that cannot be undone, or whose undo cannot give back the same rows, goes
//! through [`Reversal::OneWay`] with the reason written at the call site, so every
//! exemption is visible in the test that takes it. `tests/offline/assertion_path.rs`
//! counts the tests that apply plans and how many of them come through here.

use dataflow::{plan_offline, Dialect, PlanOptions, QualifiedName, Schema};
use std::collections::BTreeMap;

/// A database under test, as far as this path reads it.
#[allow(async_fn_in_trait)]
pub trait Inspect {
    /// The dialect whose differ compares two live schemas of this database.
    const DIALECT: Dialect;
    /// The live schema as the engine reads it (its own `_dataflow_*` tables left out).
    async fn live_schema(&self) -> Schema;
    /// Every row of `table`, each rendered as the text of `columns` in that order (NULL
    /// distinct from any text), sorted. Panics when a column is missing or a value cannot
    /// be read: the caller compares these, and a failure to read is not an equal value.
    async fn table_rows(&self, table: &QualifiedName, columns: &[String]) -> Vec<String>;
}

/// Whether undoing the plan must give back the schema and the rows.
#[derive(Debug, Clone, Copy)]
pub enum Reversal {
    /// Roll back, require schema and rows as before, apply again.
    Restores,
    /// No rollback check; the reason says why (the plan has no undo, or its undo cannot
    /// give back every value).
    OneWay(&'static str),
}

/// What a database held before a plan ran.
pub struct Snapshot {
    schema: Schema,
    rows: BTreeMap<String, Vec<String>>,
}

impl Snapshot {
    pub async fn take(db: &impl Inspect) -> Snapshot {
        let schema = db.live_schema().await;
        let mut rows = BTreeMap::new();
        for table in &schema.tables {
            let columns: Vec<String> = table.columns.iter().map(|c| c.name.clone()).collect();
            rows.insert(table.name.to_string(), db.table_rows(&table.name, &columns).await);
        }
        Snapshot { schema, rows }
    }

    /// Asserts the database holds this snapshot's schema and rows again.
    pub async fn assert_restored<D: Inspect>(&self, db: &D, context: &str) {
        let now = db.live_schema().await;
        let difference = plan_offline(&now, &self.schema, D::DIALECT, &PlanOptions::default())
            .unwrap_or_else(|e| panic!("{context}: comparing the schemas: {e}"));
        assert!(
            difference.is_empty(),
            "{context}: the rollback did not restore the schema; still different:\n{difference}"
        );
        for table in &self.schema.tables {
            let columns: Vec<String> = table.columns.iter().map(|c| c.name.clone()).collect();
            let rows = db.table_rows(&table.name, &columns).await;
            let before = &self.rows[&table.name.to_string()];
            if &rows != before {
                panic!(
                    "{context}: the rollback did not restore the rows of {} ({} before, {} now)\n{}",
                    table.name,
                    before.len(),
                    rows.len(),
                    row_difference(before, &rows)
                );
            }
        }
    }

    /// The number of rows the snapshot holds, over all tables.
    pub fn row_count(&self) -> usize {
        self.rows.values().map(Vec::len).sum()
    }
}

/// At most five rows only before and five only now, `(a|b|c)` as read.
fn row_difference(before: &[String], now: &[String]) -> String {
    let only = |these: &[String], those: &[String]| -> Vec<String> {
        these.iter().filter(|row| !those.contains(row)).take(5).cloned().collect()
    };
    format!("  only before: {:?}\n  only now:    {:?}", only(before, now), only(now, before))
}

/// Runs the whole path around `apply` and `roll_back` (see the module doc). `apply` must
/// assert convergence itself (each suite knows how to re-plan); its result of the final
/// application is returned for the test's own assertions.
pub async fn apply_and_reverse<D: Inspect, A>(
    db: &D,
    reversal: Reversal,
    apply: impl AsyncFn() -> A,
    roll_back: impl AsyncFn(&A),
) -> A {
    let before = match reversal {
        Reversal::Restores => Some(Snapshot::take(db).await),
        Reversal::OneWay(_) => None,
    };
    let applied = apply().await;
    let Some(before) = before else { return applied };
    roll_back(&applied).await;
    before.assert_restored(db, "apply → rollback").await;
    apply().await
}

/// `"name"` quoted for PostgreSQL and SQLite (`` `name` `` on MySQL is the caller's).
pub fn double_quoted(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// `"schema"."table"` or `"table"`.
pub fn double_quoted_table(table: &QualifiedName) -> String {
    match &table.schema {
        Some(schema) => format!("{}.{}", double_quoted(schema), double_quoted(&table.name)),
        None => double_quoted(&table.name),
    }
}

/// The path through the migrator: `flow.auto_migrate(options)` (the re-plan after it must
/// be empty), `rollback_migration` of the version it recorded, schema and rows as before,
/// then `auto_migrate` again (forced: the target was rolled back). Returns the last report.
pub async fn auto_migrate_and_reverse<D: Inspect>(
    db: &D,
    flow: &dataflow::DataFlow,
    options: dataflow::MigrateOptions,
    reversal: Reversal,
) -> dataflow::MigrationReport {
    let runs = std::cell::Cell::new(0);
    let apply = async || {
        let forced = runs.get() > 0;
        runs.set(runs.get() + 1);
        let options = options.clone().with_force(options.force || forced);
        let report = flow.auto_migrate(options).await.unwrap_or_else(|e| panic!("migrate: {e}"));
        let again = flow.plan().await.unwrap_or_else(|e| panic!("re-plan: {e}"));
        assert!(
            again.is_empty(),
            "not converged; a second plan is:\n{again}\nafter:\n{}",
            report.plan
        );
        report
    };
    let roll_back = async |report: &dataflow::MigrationReport| {
        if let Some(version) = &report.version {
            flow.rollback_migration(version)
                .await
                .unwrap_or_else(|e| panic!("rollback of {version}: {e}\n{}", report.plan));
        }
    };
    apply_and_reverse(db, reversal, apply, roll_back).await
}
