//! Quickstart: dataflow on an embedded SQLite database — no server needed.
//!
//! Run it with `cargo run --example quickstart` (it writes `quickstart.db` in the current
//! directory and starts from scratch each time; `-- --memory` keeps everything in memory).
//! It:
//! 1. migrates version 1 of two models (`users`, `posts`) into the database and adds rows;
//! 2. migrates to version 2 — a column with a default, a NOT NULL column filled from the
//!    existing rows, an index, a column renamed with `renamed_from` — printing the preview
//!    (steps with their risk, SQL, rollback plan, safety summary) before applying;
//! 3. prints the history, rolls version 2 back, and shows the rows intact;
//! 4. plans the same evolution offline for PostgreSQL against production statistics, where
//!    the same changes are rated differently (2.4M rows).

use dataflow::{
    model, plan_offline, schema_of, DataFlow, Dialect, MigrateOptions, Mode, PlanOptions,
    PreviewOptions, TableStats,
};
use sqlx::Row;

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

/// Prints the rows of `sql` (SQLite), one per line.
async fn show(flow: &DataFlow, sql: &str) -> Result<(), Box<dyn std::error::Error>> {
    let pool = flow.sqlite().ok_or("the quickstart runs on SQLite")?.pool();
    for row in sqlx::query(sql).fetch_all(pool).await? {
        let fields: Vec<String> = (0..row.len())
            .map(|i| {
                row.try_get::<Option<String>, _>(i)
                    .ok()
                    .flatten()
                    .or_else(|| row.try_get::<i64, _>(i).ok().map(|n| n.to_string()))
                    .unwrap_or_else(|| "NULL".into())
            })
            .collect();
        println!("   {}", fields.join(" | "));
    }
    Ok(())
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = if std::env::args().any(|a| a == "--memory") {
        "sqlite::memory:".to_owned()
    } else {
        for suffix in ["", "-wal", "-shm", "-journal"] {
            let _ = std::fs::remove_file(format!("quickstart.db{suffix}"));
        }
        "sqlite://quickstart.db".to_owned()
    };
    // What a person would confirm at a terminal, printed here, then applied unasked.
    let migrate = |flow: DataFlow| async move {
        let preview = flow.plan().await?;
        println!("{}", preview.preview(PreviewOptions::default()));
        let options = MigrateOptions::default().with_mode(Mode::AutoConfirm);
        flow.auto_migrate(options).await
    };

    println!("== 1. Version 1 into {url}\n");
    let flow = DataFlow::connect(&url).await?;
    let first = flow.clone().model::<v1::User>().model::<v1::Post>();
    migrate(first.clone()).await?;
    let pool = first.sqlite().ok_or("the quickstart runs on SQLite")?.pool();
    sqlx::raw_sql(
        "INSERT INTO users (email, fullname) VALUES ('Ada@Example.com', 'Ada Lovelace'), \
         ('Alan@Example.com', 'Alan Turing'); \
         INSERT INTO posts (author_id, title) VALUES (1, 'Notes on the Engine'), (2, 'Computable Numbers')",
    )
    .execute(pool)
    .await?;
    println!("\nusers (id | email | fullname):");
    show(&first, "SELECT id, email, fullname FROM users ORDER BY id").await?;

    println!("\n== 2. Version 2: the same structs after a sprint\n");
    let second = flow.clone().model::<v2::User>().model::<v2::Post>();
    let report = migrate(second.clone()).await?;
    let version = report.version.clone().ok_or("version 2 had changes to apply")?;
    println!(
        "\nApplied as {version} in {} ms. users (id | display_name | email_lower | is_active):",
        report.elapsed_ms
    );
    show(&second, "SELECT id, display_name, email_lower, is_active FROM users ORDER BY id").await?;
    println!("A second start finds nothing to do: {} step(s).", second.plan().await?.steps.len());

    println!("\n== 3. History, and rolling version 2 back\n");
    for row in second.history(None).await? {
        println!("   {}  {:<8}  {}", row.version, row.status, row.description);
    }
    second.rollback_migration(&version).await?;
    println!("\nRolled back {version}. users (id | email | fullname), data intact:");
    show(&first, "SELECT id, email, fullname FROM users ORDER BY id").await?;
    println!("posts (id | author_id | title):");
    show(&first, "SELECT id, author_id, title FROM posts ORDER BY id").await?;

    println!(
        "\n== 4. The same evolution for PostgreSQL, planned offline against production sizes\n"
    );
    let v1_schema = schema_of(&[model::<v1::User>(), model::<v1::Post>()])?;
    let v2_schema = schema_of(&[model::<v2::User>(), model::<v2::Post>()])?;
    // In a real project this comes from `dataflow snapshot --db $URL > schema.json`.
    let mut production = v1_schema;
    for table in &mut production.tables {
        let rows = if table.name.name == "users" { 2_400_000 } else { 300 };
        table.stats = Some(TableStats { rows: Some(rows), bytes: Some(rows * 120) });
    }
    let sized = plan_offline(&production, &v2_schema, Dialect::Postgres, &PlanOptions::default())?;
    println!("{sized}");
    println!(
        "Next: pin plans in your tests with insta::assert_snapshot!(plan) (tests/offline/workflow.rs), \
         and see the README for auto_migrate() at startup and the command line."
    );
    Ok(())
}
