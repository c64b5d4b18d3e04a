//! MySQL plans, offline: the explicit `ALGORITHM`/`LOCK` of each statement, the whole
//! column in `MODIFY COLUMN`, fills before NOT NULL, and what MySQL cannot hold.

use super::support::{schema, with_rows};
use dataflow::{model, plan_offline, DbEnum, Dialect, Model, Plan, PlanOptions, Schema};
use insta::assert_snapshot;

fn plan(current: &Schema, desired: &Schema) -> Plan {
    super::support::plan_in(Dialect::Mysql, current, desired)
}

/// The schema as MySQL stores it (what introspection would read back).
fn shaped(models: &[dataflow::ModelDef]) -> Schema {
    dataflow::schema::dialect::mysql::shape::shape(&schema(models)).expect("shape").0
}

#[derive(DbEnum)]
enum Status {
    Active,
    Banned,
}

#[derive(Model)]
#[dataflow(table = "orgs")]
struct Org {
    #[dataflow(primary_key, auto)]
    id: i64,
    #[dataflow(unique, max_length = 100, comment = "shown on invoices")]
    name: String,
}

#[derive(Model)]
#[dataflow(table = "order", index(columns("email")), check = "total >= 0")]
struct OrderV1 {
    #[dataflow(primary_key, auto)]
    id: i64,
    #[dataflow(max_length = 60)]
    email: String,
    fullname: String,
    status: Status,
    #[dataflow(sql_type = "numeric(10,2)", default = 0)]
    total: f64,
    #[dataflow(references = "orgs.id", on_delete = "cascade")]
    org_id: Option<i64>,
    age: Option<i32>,
}

#[derive(DbEnum)]
#[dataflow(name = "status")]
enum StatusV2 {
    Active,
    Banned,
    Archived,
}

#[derive(Model)]
#[dataflow(table = "order", index(columns("email")), check = "total >= 0")]
struct OrderV2 {
    #[dataflow(primary_key, auto)]
    id: i64,
    #[dataflow(max_length = 120)]
    email: String,
    #[dataflow(renamed_from = "fullname")]
    display_name: String,
    status: StatusV2,
    #[dataflow(sql_type = "numeric(10,2)", default = 0)]
    total: f64,
    #[dataflow(references = "orgs.id", on_delete = "cascade")]
    org_id: Option<i64>,
    #[dataflow(default = 18)]
    age: i64,
    phone: Option<String>,
    #[dataflow(backfill = "lower(email)")]
    email_lower: String,
}

#[test]
fn create_tables_with_keys_checks_indexes_and_foreign_keys() {
    assert_snapshot!(plan(&Schema::default(), &schema(&[model::<Org>(), model::<OrderV1>()])));
}

/// Instant columns, a staged backfilled column, a varchar growth across 255 bytes (a
/// copy: its length prefix grows, utf8mb4), a copying integer widening with its NULLs
/// filled first, an enum value appended in place.
#[test]
fn evolve_a_populated_table() {
    let v1 = with_rows(shaped(&[model::<Org>(), model::<OrderV1>()]), "order", 2_000_000);
    assert_snapshot!(plan(&v1, &schema(&[model::<Org>(), model::<OrderV2>()])));
}

#[test]
fn what_mysql_cannot_hold_is_an_error_naming_the_fix() {
    #[derive(Model)]
    #[dataflow(table = "t", index(columns("body")))]
    struct Unbounded {
        #[dataflow(primary_key)]
        id: i64,
        body: String,
    }
    #[derive(Model)]
    #[dataflow(table = "t", index(columns("body"), predicate = "id > 0"))]
    struct Partial {
        #[dataflow(primary_key)]
        id: i64,
        #[dataflow(max_length = 10)]
        body: String,
    }
    for (desired, needle) in [
        (schema(&[model::<Unbounded>()]), "give the field a `max_length`"),
        (schema(&[model::<Partial>()]), "remove `predicate`"),
    ] {
        let error =
            plan_offline(&Schema::default(), &desired, Dialect::Mysql, &PlanOptions::default())
                .expect_err("not representable on MySQL");
        assert!(error.to_string().contains(needle), "{error}");
    }
}
