//! Benchmark: a no-op `auto_migrate()` at startup with 100 registered models — what every
//! replica pays on every start once the schema is current.
//!
//! Run: `cargo run --release --example bench_startup` (PostgreSQL on 127.0.0.1:5432, or
//! DATAFLOW_BENCH_POSTGRES). Writes `target/bench-startup.json`.

use dataflow::{
    Column, ColumnType, DataFlow, ForeignKey, Index, IndexPart, MigrateOptions, Mode, ModelDef,
    PrimaryKey, QualifiedName, Table,
};
use sqlx::Executor;
use std::time::{Duration, Instant};

const MODELS: usize = 100;
const RUNS: usize = 21;

fn admin_url() -> String {
    std::env::var("DATAFLOW_BENCH_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// 100 models of 8 columns with a primary key, an index and a foreign key, as
/// `#[derive(Model)]` would produce them.
fn models() -> Vec<ModelDef> {
    (0..MODELS)
        .map(|i| {
            let name = format!("m{i}");
            let mut table = Table::new(QualifiedName::new(name.clone()));
            table.columns = vec![
                Column {
                    identity: Some(dataflow::Identity::ByDefault),
                    ..Column::new("id", ColumnType::BigInt)
                },
                Column::new("name", ColumnType::Text),
                Column::new("price", ColumnType::Numeric { precision: Some(10), scale: Some(2) }),
                Column::new("qty", ColumnType::Integer),
                Column::new("active", ColumnType::Bool),
                Column::new("created", ColumnType::TimestampTz),
                Column::new("note", ColumnType::Varchar(200)).nullable(true),
                Column::new("parent_id", ColumnType::BigInt).nullable(true),
            ];
            table.primary_key =
                Some(PrimaryKey { name: format!("{name}_pkey"), columns: vec!["id".into()] });
            table.indexes = vec![Index {
                name: format!("{name}_name_idx"),
                parts: vec![IndexPart::Column("name".into())],
                ..Index::default()
            }];
            table.foreign_keys = vec![ForeignKey {
                name: format!("{name}_parent_id_fkey"),
                columns: vec!["parent_id".into()],
                ref_table: QualifiedName::new(format!("m{}", i.saturating_sub(1))),
                ref_columns: vec!["id".into()],
                ..ForeignKey::default()
            }];
            ModelDef::new(table, Vec::new())
        })
        .collect()
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let admin = dataflow::Postgres::connect(&admin_url()).await?;
    admin.pool().execute("DROP DATABASE IF EXISTS df_bench_startup WITH (FORCE)").await?;
    admin.pool().execute("CREATE DATABASE df_bench_startup").await?;
    let url =
        format!("{}/df_bench_startup", admin_url().rsplit_once('/').map_or("", |(base, _)| base));
    let flow = DataFlow::connect(&url).await?.models(models());
    let created = flow.auto_migrate(MigrateOptions::default().with_mode(Mode::AutoConfirm)).await?;
    assert!(created.applied, "the first run creates the tables");
    let before = flow.postgres().map_or(0, |db| db.statements_sent());
    let mut samples = Vec::new();
    for _ in 0..RUNS {
        let started = Instant::now();
        let report =
            flow.auto_migrate(MigrateOptions::default().with_mode(Mode::AutoConfirm)).await?;
        samples.push(started.elapsed());
        assert!(!report.applied && report.plan.is_empty(), "nothing to do");
    }
    let statements = (flow.postgres().map_or(0, |db| db.statements_sent()) - before) / RUNS as u64;
    samples.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let (median, best, worst) = (ms(samples[RUNS / 2]), ms(samples[0]), ms(samples[RUNS - 1]));
    if let Some(db) = flow.postgres() {
        db.pool().close().await;
    }
    admin.pool().execute("DROP DATABASE IF EXISTS df_bench_startup WITH (FORCE)").await?;
    let report = serde_json::json!({
        "models": MODELS, "runs": RUNS, "median_ms": median, "best_ms": best, "worst_ms": worst,
        "connector_statements_per_run": statements,
    });
    std::fs::create_dir_all("target")?;
    std::fs::write("target/bench-startup.json", serde_json::to_string_pretty(&report)?)?;
    println!(
        "| models | no-op auto_migrate (median) | best | worst | catalog statements per run |"
    );
    println!("|---|---|---|---|---|");
    println!("| {MODELS} | {median:.1} ms | {best:.1} ms | {worst:.1} ms | {statements} |");
    Ok(())
}
