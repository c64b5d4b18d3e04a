//! Every column type, default and constraint kind converges after create; every change
//! kind on a populated table converges and rolls back with its rows.

use super::support::{models, TestFile};
use dataflow::{model, DbEnum, Json, Model, Operation};

#[derive(DbEnum)]
enum Mood {
    Sad,
    Ok,
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
#[dataflow(
    table = "everything",
    index(columns("small", "big"), name = "everything_pair_idx"),
    index(columns("text"), name = "everything_partial_idx", predicate = "flag"),
    check = "small >= 0"
)]
struct Everything {
    #[dataflow(primary_key, auto)]
    id: i64,
    small: i16,
    int: i32,
    big: i64,
    real: f32,
    double: f64,
    #[dataflow(sql_type = "numeric(10,2)")]
    price: f64,
    #[dataflow(default = "it's")]
    text: String,
    #[dataflow(max_length = 80)]
    short: Option<String>,
    #[dataflow(default = true)]
    flag: bool,
    bytes: Vec<u8>,
    doc: Option<Json<Vec<String>>>,
    mood: Mood,
    #[dataflow(references = "orgs.id", on_delete = "cascade", index)]
    org_id: Option<i64>,
    #[dataflow(default = -5)]
    negative: i32,
}

#[tokio::test]
async fn every_type_default_and_constraint_converges_after_create() {
    let file = TestFile::new("create").await;
    let desired = models(&[model::<Org>(), model::<Everything>()]);
    let plan = file.migrate(&desired).await;
    assert!(plan.steps.iter().all(|s| s.operation == Operation::CreateTable), "{plan}");
    file.exec("INSERT INTO orgs (name) VALUES ('acme'); INSERT INTO everything (small, int, big, real, double, price, bytes, mood, org_id) VALUES (1, 2, 3, 1.5, 2.5, 9.99, x'00ff', 'ok', 1)").await;
    assert_eq!(
        file.rows("SELECT id, text, flag, negative FROM everything").await,
        vec!["1|it's|1|-5"]
    );
    let check = sqlx::raw_sql("INSERT INTO everything (small, int, big, real, double, price, bytes, mood) VALUES (1, 2, 3, 1.5, 2.5, 9.99, x'00', 'angry')")
        .execute(file.db.pool())
        .await;
    assert!(check.is_err(), "the enum CHECK rejects an unknown value");
    file.db.rollback(&plan).await.expect("rollback");
    assert!(file.schema().await.tables.is_empty(), "the rollback drops what the plan created");
    println!("{plan}");
}

/// Every plan the offline snapshots show for this database runs here as printed: its up
/// SQL converges and its down SQL gives the schema back (`tests/common/snapshot_cases.rs`).
#[tokio::test]
async fn every_snapshot_runs_up_and_down_on_the_server() {
    let ran = crate::common::snapshot_cases::run_all::<TestFile>("sqlite").await;
    eprintln!("{ran} snapshot cases ran up and down");
}
