//! Helpers shared by the offline tests.

use dataflow::{plan_offline, schema_of, Dialect, ModelDef, Plan, PlanOptions, Schema, TableStats};

/// The desired schema of a model set (panics with the error: test input is ours).
pub fn schema(models: &[ModelDef]) -> Schema {
    schema_of(models).unwrap_or_else(|e| panic!("model set is invalid: {e}"))
}

/// The PostgreSQL plan from `current` to `desired` with default options.
pub fn plan(current: &Schema, desired: &Schema) -> Plan {
    plan_in(Dialect::Postgres, current, desired)
}

/// The plan from `current` to `desired` on `dialect` with default options, recorded as a
/// case the database suites run on a real server (see [`record`]).
pub fn plan_in(dialect: Dialect, current: &Schema, desired: &Schema) -> Plan {
    let plan = plan_offline(current, desired, dialect, &PlanOptions::default())
        .unwrap_or_else(|e| panic!("planning failed: {e}"));
    record(dialect, current, desired, &plan);
    plan
}

/// Records a snapshotted plan as `tests/cases/<dialect>/<test>[-n].json` (the schemas on
/// both sides and the plan), so `tests/common/snapshot_cases.rs` runs every up and down
/// statement a snapshot shows against a real server. A case that changed is rewritten
/// (commit it with the snapshot); under `CI=true` a stale case fails instead, as insta
/// does for snapshots.
pub fn record(dialect: Dialect, current: &Schema, desired: &Schema, plan: &Plan) {
    thread_local! {
        static PLANS_IN_THIS_TEST: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
    }
    let n = PLANS_IN_THIS_TEST.with(|n| {
        n.set(n.get() + 1);
        n.get()
    });
    let test = std::thread::current().name().unwrap_or("unnamed").replace("::", "__");
    let name = if n == 1 { test } else { format!("{test}-{n}") };
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/cases")
        .join(dialect.to_string().to_ascii_lowercase());
    let path = dir.join(format!("{name}.json"));
    let case = serde_json::json!({
        "current": serde_json::from_str::<serde_json::Value>(&current.to_json()).expect("json"),
        "desired": serde_json::from_str::<serde_json::Value>(&desired.to_json()).expect("json"),
        "plan": serde_json::from_str::<serde_json::Value>(&plan.to_json()).expect("json"),
    });
    let text = format!("{}\n", serde_json::to_string_pretty(&case).expect("json"));
    if std::fs::read_to_string(&path).ok().as_deref() == Some(text.as_str()) {
        return;
    }
    assert!(
        std::env::var("CI").map_or(true, |ci| ci != "true"),
        "{} is out of date: run `cargo test --test offline` and commit it",
        path.display()
    );
    std::fs::create_dir_all(&dir).expect("tests/cases");
    std::fs::write(&path, text).expect("write the case");
}

/// The plan between two model sets, rendered.
pub fn evolve(v1: &[ModelDef], v2: &[ModelDef]) -> String {
    plan(&schema(v1), &schema(v2)).to_string()
}

/// `schema` with a row estimate on `table` (as a snapshot from a live database has).
pub fn with_rows(mut schema: Schema, table: &str, rows: u64) -> Schema {
    let table = schema
        .tables
        .iter_mut()
        .find(|t| t.name.name == table)
        .unwrap_or_else(|| panic!("no table {table}"));
    table.stats = Some(TableStats { rows: Some(rows), bytes: Some(rows * 100) });
    schema
}
