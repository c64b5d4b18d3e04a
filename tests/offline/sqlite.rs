//! SQLite plans, offline: what `ALTER TABLE` does in place, what becomes a table rebuild,
//! and what SQLite cannot represent (clear errors).

use super::support::{schema, with_rows};
use dataflow::{model, plan_offline, DbEnum, Dialect, Model, Plan, PlanOptions, Schema};
use insta::assert_snapshot;

fn plan(current: &Schema, desired: &Schema) -> Plan {
    super::support::plan_in(Dialect::Sqlite, current, desired)
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
    id: i32,
    #[dataflow(unique, comment = "not stored on SQLite")]
    name: String,
}

#[derive(Model)]
#[dataflow(table = "users", index(columns("email"), predicate = "status = 'active'"))]
struct UserV1 {
    #[dataflow(primary_key, auto)]
    id: i64,
    email: String,
    fullname: String,
    status: Status,
    #[dataflow(references = "orgs.id", on_delete = "cascade")]
    org_id: Option<i64>,
}

#[derive(Model)]
#[dataflow(table = "users", index(columns("email"), predicate = "status = 'active'"))]
struct UserV2 {
    #[dataflow(primary_key, auto)]
    id: i64,
    email: String,
    #[dataflow(renamed_from = "fullname")]
    display_name: String,
    status: Status,
    #[dataflow(references = "orgs.id", on_delete = "cascade")]
    org_id: Option<i64>,
    phone: Option<String>,
    #[dataflow(backfill = "lower(email)")]
    email_lower: String,
}

#[test]
fn create_tables_with_keys_checks_and_indexes() {
    assert_snapshot!(plan(&Schema::default(), &schema(&[model::<Org>(), model::<UserV1>()])));
}

/// The backfilled NOT NULL column cannot be added in place, so the table is rebuilt, and
/// the rename and the nullable column go into the same copy.
#[test]
fn rename_and_backfill_rebuild_the_table() {
    // The current side is what SQLite holds: the shaped v1 (as introspection reads it).
    let v1 = with_rows(shaped(&[model::<Org>(), model::<UserV1>()]), "users", 50_000);
    assert_snapshot!(plan(&v1, &schema(&[model::<Org>(), model::<UserV2>()])));
}

#[test]
fn nullable_and_defaulted_columns_and_indexes_are_added_in_place() {
    #[derive(Model)]
    #[dataflow(
        table = "users",
        index(columns("email"), predicate = "status = 'active'"),
        index(columns("fullname"))
    )]
    struct UserV3 {
        #[dataflow(primary_key, auto)]
        id: i64,
        email: String,
        fullname: String,
        status: Status,
        #[dataflow(references = "orgs.id", on_delete = "cascade")]
        org_id: Option<i64>,
        phone: Option<String>,
        #[dataflow(default = 0)]
        logins: i32,
    }
    let v1 = with_rows(shaped(&[model::<Org>(), model::<UserV1>()]), "users", 50_000);
    assert_snapshot!(plan(&v1, &schema(&[model::<Org>(), model::<UserV3>()])));
}

#[test]
fn what_sqlite_cannot_hold_is_an_error() {
    #[derive(Model)]
    #[dataflow(table = "t", schema = "app")]
    struct Namespaced {
        #[dataflow(primary_key)]
        id: i64,
    }
    #[derive(Model)]
    #[dataflow(table = "t")]
    struct WithArray {
        #[dataflow(primary_key)]
        id: i64,
        #[dataflow(sql_type = "text[]")]
        tags: String,
    }
    for desired in [schema(&[model::<Namespaced>()]), schema(&[model::<WithArray>()])] {
        let error =
            plan_offline(&Schema::default(), &desired, Dialect::Sqlite, &PlanOptions::default())
                .expect_err("not representable on SQLite");
        assert!(error.to_string().contains("SQLite"), "{error}");
    }
}

/// The schema as SQLite stores it (what introspection would read back).
fn shaped(models: &[dataflow::ModelDef]) -> Schema {
    dataflow::schema::dialect::sqlite::shape::shape(&schema(models)).expect("shape").0
}
