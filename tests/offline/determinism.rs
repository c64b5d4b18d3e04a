//! The same inputs give byte-identical plans: the order in which models are registered
//! and fields declared does not matter.

use super::support::schema;
use dataflow::{Plan, PlanOptions};

use dataflow::{model, Model, ModelDef};

/// Plans without recording a case: these plans are compared with each other, not snapshotted.
fn plan(current: &dataflow::Schema, desired: &dataflow::Schema) -> Plan {
    dataflow::plan_offline(current, desired, dataflow::Dialect::Postgres, &PlanOptions::default())
        .unwrap_or_else(|e| panic!("planning failed: {e}"))
}

#[derive(Model)]
#[dataflow(table = "users")]
struct UserV1 {
    #[dataflow(primary_key, auto)]
    id: i64,
    email: String,
    name: String,
}

#[derive(Model)]
#[dataflow(table = "users", index(columns("full_name", "email")), unique(columns("email")))]
struct UserV2 {
    #[dataflow(primary_key, auto)]
    id: i64,
    email: String,
    #[dataflow(renamed_from = "name")]
    full_name: String,
    #[dataflow(default = true)]
    active: bool,
    phone: Option<String>,
    #[dataflow(references = "orgs.id")]
    org_id: Option<i64>,
    #[dataflow(check = "age >= 0")]
    age: Option<i32>,
}

#[derive(Model)]
#[dataflow(table = "orgs")]
struct Org {
    #[dataflow(primary_key, auto)]
    id: i64,
    #[dataflow(unique)]
    name: String,
}

#[derive(Model)]
#[dataflow(table = "audit_log")]
struct AuditLog {
    #[dataflow(primary_key, auto)]
    id: i64,
    #[dataflow(references = "users.id")]
    user_id: i64,
}

/// A deterministic permutation (no RNG needed): rotate by `k`, reverse on odd `k`.
fn permute<T: Clone>(items: &[T], k: usize) -> Vec<T> {
    let mut out: Vec<T> =
        items.iter().cycle().skip(k % items.len().max(1)).take(items.len()).cloned().collect();
    if k % 2 == 1 {
        out.reverse();
    }
    out
}

/// Shuffles the columns of every table, and every constraint list, of each model.
fn shuffle_fields(defs: &[ModelDef], k: usize) -> Vec<ModelDef> {
    defs.iter()
        .map(|def| {
            let mut def = def.clone();
            def.table.columns = permute(&def.table.columns, k + 1);
            def.table.indexes = permute(&def.table.indexes, k);
            def.table.checks = permute(&def.table.checks, k);
            def.table.foreign_keys = permute(&def.table.foreign_keys, k);
            def.table.uniques = permute(&def.table.uniques, k);
            def
        })
        .collect()
}

#[derive(Model)]
#[dataflow(table = "orgs")]
struct OrgV1 {
    #[dataflow(primary_key, auto)]
    id: i64,
    name: String,
}

#[test]
fn field_and_registration_order_do_not_change_the_plan_of_existing_tables() {
    let current_models = [model::<UserV1>(), model::<OrgV1>(), model::<AuditLog>()];
    let desired_models = [model::<UserV2>(), model::<Org>(), model::<AuditLog>()];
    let reference = plan(&schema(&current_models), &schema(&desired_models));
    assert!(reference.steps.len() >= 8, "the evolution should exercise many change kinds");
    for k in 0..12 {
        let current = schema(&shuffle_fields(&permute(&current_models, k + 1), k + 3));
        let desired = schema(&shuffle_fields(&permute(&desired_models, k), k));
        let again = plan(&current, &desired);
        assert_eq!(again.to_string(), reference.to_string(), "permutation {k}");
        assert_eq!(again.to_json(), reference.to_json(), "permutation {k}");
    }
}

#[test]
fn new_tables_keep_declared_column_order_and_everything_else_is_identical() {
    // A new table is created with its columns in declaration order: that order is the
    // table's shape (`SELECT *`), so it is the one thing a field shuffle may change.
    let desired_models = [model::<UserV2>(), model::<Org>(), model::<AuditLog>()];
    let reference = plan(&schema(&[model::<UserV1>()]), &schema(&desired_models));
    let without_creates = |p: &dataflow::Plan| -> Vec<String> {
        p.steps
            .iter()
            .filter(|s| s.operation != dataflow::Operation::CreateTable)
            .map(|s| format!("{} {:?} {:?}", s.number, s.up, s.down))
            .collect()
    };
    for k in 0..12 {
        let shuffled = shuffle_fields(&permute(&desired_models, k), k);
        let again = plan(&schema(&[model::<UserV1>()]), &schema(&shuffled));
        assert_eq!(without_creates(&again), without_creates(&reference), "permutation {k}");
    }
}

#[test]
fn model_registration_order_alone_gives_byte_identical_plans_and_json() {
    let desired_models = [model::<UserV2>(), model::<Org>(), model::<AuditLog>()];
    let reference = plan(&schema(&[model::<UserV1>()]), &schema(&desired_models));
    for k in 0..6 {
        let again = plan(&schema(&[model::<UserV1>()]), &schema(&permute(&desired_models, k)));
        assert_eq!(again.to_string(), reference.to_string());
        assert_eq!(again.to_json(), reference.to_json());
        assert_eq!(again.plan_checksum, reference.plan_checksum);
    }
}
