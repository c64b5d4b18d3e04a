//! Every plan the offline snapshots show, run on a real server statement by statement:
//! the schema before it is created, each step's `up` SQL runs in order (a re-plan must then
//! be empty), each step's `down` SQL runs last step first, and the schema must be the one
//! before again. The offline tests record the cases (`tests/cases/<dialect>/*.json`, see
//! `tests/offline/support.rs`), so a down statement a snapshot prints that the server
//! refuses — or that does not give the schema back — fails here, naming the case.
//!
//! A plan runs as the migrator runs it: its drops keep their data (`keep_data`, as
//! `backup_before_destructive` does by default). A printed plan does not show that yet
//! (issue 28.2): its down for a dropped column re-adds the column without its NOT NULL.
//!
//! The cases hold no rows: what a step does to data is the assertion path's
//! (`applied.rs`) and the evolution suites' concern; this runs the exact SQL a person
//! reviews in a snapshot.

use super::applied::Inspect;
use super::evolutions::FreshDb;
use dataflow::{plan_offline, Plan, PlanOptions, Rollback, Schema, Step};

/// A recorded case: its file name, the schema before, the desired schema, the plan.
pub struct Case {
    pub name: String,
    pub current: Schema,
    pub desired: Schema,
    pub plan: Plan,
}

/// The cases recorded for `dialect` (`postgresql`, `mysql`, `sqlite`). Panics when there
/// are none: the directory is part of the repository.
pub fn cases(dialect: &str) -> Vec<Case> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cases").join(dialect);
    let mut paths: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
        .collect();
    paths.sort();
    assert!(!paths.is_empty(), "no recorded cases in {}", dir.display());
    paths
        .into_iter()
        .map(|path| {
            let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{e}"));
            let value: serde_json::Value =
                serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            let schema = |key: &str| {
                Schema::from_json(&value[key].to_string())
                    .unwrap_or_else(|e| panic!("{} {key}: {e}", path.display()))
            };
            Case {
                name: path
                    .file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_default(),
                current: schema("current"),
                desired: schema("desired"),
                plan: serde_json::from_value(value["plan"].clone())
                    .unwrap_or_else(|e| panic!("{} plan: {e}", path.display())),
            }
        })
        .collect()
}

/// Runs every case of `dialect` on a fresh database each; returns how many ran. Panics
/// naming the case at its first failure (the statement and the server's error are in the
/// database's own panic).
pub async fn run_all<D: FreshDb + Inspect>(dialect: &str) -> usize {
    let cases = cases(dialect);
    let mut failures = Vec::new();
    for case in &cases {
        eprintln!("snapshot case {dialect}/{}", case.name);
        let db = D::fresh("snapcase").await;
        if let Err(failure) = run(&db, case).await {
            failures.push(failure);
        }
        db.dispose().await;
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n\n")
    );
    cases.len()
}

/// Runs one case; a schema that is not the expected one is an `Err` naming the case (a
/// statement the server refuses panics in the database's `exec`, naming the statement).
/// The run version the kept data is named after.
const KEPT_AS: &str = "20261206000000_5eed5eed";

async fn run<D: FreshDb + Inspect>(db: &D, case: &Case) -> Result<(), String> {
    let setup =
        plan_offline(&Schema::default(), &case.current, D::DIALECT, &PlanOptions::default())
            .unwrap_or_else(|e| panic!("{}: the schema before cannot be planned: {e}", case.name));
    for step in &setup.steps {
        run_step(db, step, &step.up).await;
    }
    let before = db.live_schema().await;
    // As the migrator runs it: drops keep their data (`backup_before_destructive`, on by
    // default), which also gives a dropped column a down that restores it as it was.
    let mut plan = case.plan.clone();
    D::DIALECT.rules().keep_data(&mut plan, KEPT_AS);
    for step in &plan.steps {
        run_step(db, step, &step.up).await;
    }
    let live = unnamed_not_nulls(db.live_schema().await);
    let desired = unnamed_not_nulls(case.desired.clone());
    let again = plan_offline(&live, &desired, D::DIALECT, &PlanOptions::default())
        .unwrap_or_else(|e| panic!("{}: re-plan: {e}", case.name));
    if !again.is_empty() {
        return Err(format!(
            "{}: the snapshot's SQL does not converge; re-plan:\n{again}",
            case.name
        ));
    }
    for step in plan.steps.iter().rev() {
        match &step.down {
            Rollback::Sql(statements) => run_step(db, step, statements).await,
            // Nothing after it can be compared with the schema before.
            Rollback::Irreversible { .. } => return Ok(()),
        }
    }
    let back = unnamed_not_nulls(db.live_schema().await);
    let left = plan_offline(&back, &unnamed_not_nulls(before), D::DIALECT, &PlanOptions::default())
        .unwrap_or_else(|e| panic!("{}: compare: {e}", case.name));
    if !left.is_empty() {
        return Err(format!(
            "{}: the snapshot's down SQL does not give the schema back; still different:\n{left}",
            case.name
        ));
    }
    Ok(())
}

/// `schema` without the names of its NOT NULL constraints. PostgreSQL 18 makes them
/// catalog objects named after the table and column; a plan made offline, for no server in
/// particular, does not rename them with their table or column (the migrator's plan on a
/// version-18 server does), so they are left out of the comparisons here.
fn unnamed_not_nulls(mut schema: Schema) -> Schema {
    for table in &mut schema.tables {
        for column in &mut table.columns {
            column.not_null_constraint = None;
        }
    }
    schema
}

/// Runs `statements` of `step` as the engine runs a step: a transactional step's in one
/// call (one transaction on one connection — SQLite's table rebuild needs the one
/// connection: a pooled connection's cached schema can miss another's `DROP TABLE`), a
/// non-transactional step's (`CONCURRENTLY`, MySQL's DDL) one by one.
async fn run_step<D: FreshDb>(db: &D, step: &Step, statements: &[String]) {
    if step.transactional {
        db.exec(&statements.join(";\n")).await;
    } else {
        for statement in statements {
            db.exec(statement).await;
        }
    }
}
