//! The user-facing workflow (DESIGN.md "Snapshot-testing migrations"), written the way an
//! application's own test would be:
//!
//! 1. `dataflow snapshot --db $PROD > tests/fixtures/production_schema.json` (committed);
//! 2. a test builds the desired schema from the models and plans against that file;
//! 3. `insta::assert_snapshot!(plan)` pins exactly what the next deploy will run, so a
//!    model change that alters the plan shows up in code review.

use dataflow::{model, schema_of, Dialect, Model, PlanOptions, Schema};

const PRODUCTION: &str = include_str!("../fixtures/production_schema.json");

/// The application's models as they are in this commit.
mod app {
    use dataflow::Model;

    #[derive(Model)]
    #[dataflow(table = "users")]
    pub struct User {
        #[dataflow(primary_key, auto)]
        pub id: i64,
        #[dataflow(unique, max_length = 255)]
        pub email: String,
        #[dataflow(renamed_from = "name")]
        pub display_name: String,
        #[dataflow(default = true)]
        pub is_active: bool,
        pub phone: Option<String>,
    }

    #[derive(Model)]
    #[dataflow(table = "orders", index(columns("user_id", "created_at")))]
    pub struct Order {
        #[dataflow(primary_key, auto)]
        pub id: i64,
        #[dataflow(references = "users.id", on_delete = "cascade")]
        pub user_id: i64,
        #[dataflow(sql_type = "numeric(10,2)")]
        pub total: String,
        #[dataflow(default_sql = "now()", sql_type = "timestamptz")]
        pub created_at: String,
    }
}

#[test]
fn pin_the_plan_the_next_deploy_will_run() {
    let production = Schema::from_json(PRODUCTION).expect("the committed snapshot parses");
    let desired =
        schema_of(&[model::<app::User>(), model::<app::Order>()]).expect("models are valid");
    let plan = super::support::plan_in(Dialect::Postgres, &production, &desired);
    insta::assert_snapshot!(plan);
}

#[test]
fn the_snapshot_file_is_the_stable_json_form() {
    // Reading and writing the committed file gives the same bytes: key order, sorting and
    // formatting are stable, so regenerating it produces no diff noise.
    let production = Schema::from_json(PRODUCTION).expect("the committed snapshot parses");
    assert_eq!(production.to_json(), PRODUCTION.trim_end());
    assert_eq!(production.tables.len(), 1);
    assert_eq!(production.tables[0].stats.and_then(|s| s.rows), Some(2_400_000));
}

#[test]
fn desired_schema_round_trips_through_json() {
    #[derive(dataflow::DbEnum)]
    enum Tier {
        Free,
        Pro,
    }
    #[derive(Model)]
    #[dataflow(
        table = "accounts",
        schema = "billing",
        check = "credit >= 0",
        index(columns("credit"), predicate = "credit > 0", method = "brin")
    )]
    struct Account {
        #[dataflow(primary_key, auto)]
        id: i64,
        tier: Tier,
        #[dataflow(default = -5, backfill_case(when("id < 10", "0"), else = "1"))]
        credit: i64,
        #[dataflow(renamed_from = "label", backfill = "upper(label)")]
        title: String,
    }
    let schema = schema_of(&[model::<Account>(), model::<app::User>()]).expect("models are valid");
    let json = schema.to_json();
    let back = Schema::from_json(&json).expect("our own JSON parses");
    assert_eq!(back, schema);
    assert_eq!(back.to_json(), json);
    insta::assert_snapshot!(json);
}

/// Registering a model twice is registering it once; two different models on one table
/// are named by their Rust types.
#[test]
fn the_same_model_twice_is_one_and_two_models_on_one_table_are_named() {
    mod other {
        use dataflow::Model;

        #[derive(Model)]
        #[dataflow(table = "users")]
        pub struct Account {
            #[dataflow(primary_key)]
            pub id: i64,
        }
    }
    let once = schema_of(&[model::<app::User>()]).expect("one model");
    let twice = schema_of(&[model::<app::User>(), model::<app::User>()]).expect("the same twice");
    assert_eq!(once, twice);
    let error = schema_of(&[model::<app::User>(), model::<other::Account>()])
        .expect_err("two models on one table");
    let message = error.to_string();
    assert!(
        message.contains("app::User`") && message.contains("other::Account`"),
        "names both Rust types: {message}"
    );
    assert!(message.contains("table users") && message.contains("#[dataflow(table"), "{message}");
}

/// A foreign key to a table no registered model names and the current schema does not
/// have is refused at plan time, naming both (PostgreSQL used to create the table, then fail
/// at the key; SQLite applied a key to nothing). A table the database already has is fine.
#[test]
fn a_foreign_key_to_an_unregistered_table_is_refused_at_plan_time() {
    use dataflow::{plan_models, PlanError};
    #[derive(Model)]
    #[dataflow(table = "orders")]
    struct Order {
        #[dataflow(primary_key)]
        id: i64,
        #[dataflow(references = "customers.id")]
        customer_id: i64,
    }
    #[derive(Model)]
    #[dataflow(table = "customers")]
    struct Customer {
        #[dataflow(primary_key)]
        id: i64,
    }
    let desired = schema_of(&[model::<Order>()]).expect("models");
    let options = PlanOptions::default();
    let error = plan_models(&Schema::default(), &desired, Dialect::Sqlite, &options)
        .expect_err("customers is nowhere");
    assert!(
        matches!(&error, PlanError::UnknownReferencedTable { target, .. } if target == "customers")
    );
    let message = error.to_string();
    assert!(message.contains("orders") && message.contains(".model::<"), "{message}");
    let existing = schema_of(&[model::<Customer>()]).expect("customers");
    assert!(
        plan_models(&existing, &desired, Dialect::Postgres, &options).is_ok(),
        "in the database"
    );
    let both = schema_of(&[model::<Order>(), model::<Customer>()]).expect("models");
    assert!(plan_models(&Schema::default(), &both, Dialect::Postgres, &options).is_ok());
}
