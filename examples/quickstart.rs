//! Quickstart: what dataflow plans when your structs change.
//!
//! Run it with `cargo run --example quickstart` — no database needed. It:
//! 1. defines version 1 of two models and plans creating them on an empty database;
//! 2. defines version 2 (a column with a default, a NOT NULL column filled from existing
//!    data, an index, a rename hinted with `renamed_from`) and plans the evolution;
//! 3. plans the same evolution against a production snapshot with 2.4M rows, where the
//!    same changes are rated differently;
//! 4. prints the plan's JSON checksum, what `expected_plan` and reviewed plans pin.
//!
//! Applying plans to a database comes with the connectors (PostgreSQL, SQLite, MySQL);
//! the plans printed here are exactly what will run there.

use dataflow::{model, plan_offline, schema_of, Dialect, Plan, PlanOptions, Schema, TableStats};

/// Version 1: what the application shipped first. (The fields are only declared here,
/// never read, hence `dead_code`.)
#[allow(dead_code)]
mod v1 {
    use dataflow::Model;

    #[derive(Model)]
    #[dataflow(table = "users")]
    pub struct User {
        #[dataflow(primary_key, auto)]
        pub id: i64,
        #[dataflow(unique, max_length = 255)]
        pub email: String,
        pub fullname: String,
    }

    #[derive(Model)]
    #[dataflow(table = "posts")]
    pub struct Post {
        #[dataflow(primary_key, auto)]
        pub id: i64,
        #[dataflow(references = "users.id", on_delete = "cascade")]
        pub author_id: i64,
        pub title: String,
    }
}

/// Version 2: the same structs after a sprint.
#[allow(dead_code)]
mod v2 {
    use dataflow::Model;

    #[derive(Model)]
    #[dataflow(table = "users")]
    pub struct User {
        #[dataflow(primary_key, auto)]
        pub id: i64,
        #[dataflow(unique, max_length = 255)]
        pub email: String,
        /// Renamed: the hint makes this a rename, not a drop (data loss) plus an add.
        #[dataflow(renamed_from = "fullname")]
        pub display_name: String,
        /// New, with a default for existing and new rows.
        #[dataflow(default = true)]
        pub is_active: bool,
        /// New and NOT NULL: existing rows are filled from their email.
        #[dataflow(backfill = "lower(email)")]
        pub email_lower: String,
    }

    #[derive(Model)]
    #[dataflow(table = "posts", index(columns("author_id", "published_at")))]
    pub struct Post {
        #[dataflow(primary_key, auto)]
        pub id: i64,
        #[dataflow(references = "users.id", on_delete = "cascade")]
        pub author_id: i64,
        pub title: String,
        /// New and nullable: instant on any table size.
        #[dataflow(sql_type = "timestamptz")]
        pub published_at: Option<String>,
    }
}

fn plan(current: &Schema, desired: &Schema) -> Result<Plan, Box<dyn std::error::Error>> {
    Ok(plan_offline(current, desired, Dialect::Postgres, &PlanOptions::default())?)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let first = schema_of(&[model::<v1::User>(), model::<v1::Post>()])?;
    let second = schema_of(&[model::<v2::User>(), model::<v2::Post>()])?;

    println!("== 1. A new, empty database: create version 1\n");
    println!("{}", plan(&Schema::default(), &first)?);

    println!("== 2. Version 1 → version 2, table sizes unknown (treated as large)\n");
    println!("{}", plan(&first, &second)?);

    println!("== 3. The same evolution against production statistics\n");
    // In a real project this comes from `dataflow snapshot --db $URL > schema.json`.
    let mut production = first.clone();
    for table in &mut production.tables {
        let rows = if table.name.name == "users" { 2_400_000 } else { 300 };
        table.stats = Some(TableStats { rows: Some(rows), bytes: Some(rows * 120) });
    }
    let sized = plan(&production, &second)?;
    println!("{sized}");

    println!("== 4. Pinning it\n");
    println!(
        "plan checksum (what a reviewed plan and `expected_plan` pin): {}",
        sized.plan_checksum
    );
    println!("from schema {} to schema {}", &sized.from_checksum[..12], &sized.to_checksum[..12]);
    println!(
        "\nNext: snapshot-test this plan in your own tests with insta::assert_snapshot!(plan), \
         see tests/offline/workflow.rs."
    );
    Ok(())
}
