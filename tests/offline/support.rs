//! Helpers shared by the offline tests.

use dataflow::{plan_offline, schema_of, Dialect, ModelDef, Plan, PlanOptions, Schema, TableStats};

/// The desired schema of a model set (panics with the error: test input is ours).
pub fn schema(models: &[ModelDef]) -> Schema {
    schema_of(models).unwrap_or_else(|e| panic!("model set is invalid: {e}"))
}

/// The PostgreSQL plan from `current` to `desired` with default options.
pub fn plan(current: &Schema, desired: &Schema) -> Plan {
    plan_offline(current, desired, Dialect::Postgres, &PlanOptions::default())
        .unwrap_or_else(|e| panic!("planning failed: {e}"))
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
