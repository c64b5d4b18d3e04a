//! Benchmark: filling a column of a large table while an application keeps using it.
//!
//! One run, one table (`items`, default 1,000,000 rows), restored from a template before
//! each scenario; a concurrent client does point reads and point updates of random rows
//! the whole time (~200 operations per second) and its latency is reported per scenario,
//! beside the same client with no migration running:
//! - one `UPDATE` of every row, our keyset backfill (adaptive; fixed 1k, 10k, 50k), naive
//!   batching (`WHERE id IN (SELECT id … WHERE col IS NULL LIMIT 10000)`);
//! - a NOT NULL column with a volatile default: direct `ADD COLUMN … NOT NULL DEFAULT
//!   gen_random_uuid()` against `auto_migrate` (the online recipe);
//! - `CREATE INDEX` against `auto_migrate` (CONCURRENTLY);
//! - a lock queue: a session holds ACCESS SHARE for 3 s; a plain `ALTER TABLE` queues
//!   behind it (and everything queues behind the ALTER) against `auto_migrate` with a
//!   200 ms `lock_timeout` and retries.
//!
//! Run: `cargo run --release --example bench_backfill [-- --rows 5000000] [--only adaptive]`
//! (PostgreSQL on 127.0.0.1:5432, or DATAFLOW_EXAMPLE_POSTGRES). Writes
//! `target/bench-backfill-<rows>.json`.

#[path = "support/scratch.rs"]
mod scratch;

use dataflow::{
    ApplyOptions, Backfill, BackfillOptions, BatchSize, Column, ColumnType, DataFlow, DefaultExpr,
    Identity, Index, IndexPart, MigrateOptions, MigrationReport, Mode, ModelDef, PrimaryKey,
    QualifiedName, Table,
};
use serde_json::json;
use sqlx::{Connection, Executor, PgConnection, PgPool};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

type Failure = Box<dyn std::error::Error>;

/// The value every fill writes.
const FILL: &str = "(id % 1000)::integer";

#[tokio::main]
async fn main() -> Result<(), Failure> {
    let rows = rows_argument()?;
    let scratch = scratch::Scratch::create("dataflow_bench_backfill").await?;
    let flow = DataFlow::connect(&scratch.url).await?;
    let pool = scratch::pool(&flow)?.clone();
    eprintln!("building the template table of {rows} rows …");
    build_template(&flow, &pool, rows).await?;
    let client = Client::start(&scratch.url, rows).await?;
    let mut results = Vec::new();

    results.extend(
        scenario("client alone (no migration)", &pool, &client, || async {
            tokio::time::sleep(Duration::from_secs(3)).await;
            Ok(json!({}))
        })
        .await?,
    );
    results.extend(
        scenario("one UPDATE of every row", &pool, &client, || async {
            pool.execute("ALTER TABLE items ADD COLUMN score integer").await?;
            let started = Instant::now();
            pool.execute(format!("UPDATE items SET score = {FILL}").as_str()).await?;
            Ok(json!({ "fill_ms": started.elapsed().as_millis() as u64 }))
        })
        .await?,
    );
    for (label, size) in [
        ("dataflow keyset backfill, adaptive", BatchSize::default()),
        ("dataflow keyset backfill, adaptive, no VACUUM", BatchSize::default()),
        ("dataflow keyset backfill, fixed 1k", BatchSize::Fixed(1_000)),
        ("dataflow keyset backfill, fixed 10k", BatchSize::Fixed(10_000)),
        ("dataflow keyset backfill, fixed 50k", BatchSize::Fixed(50_000)),
    ] {
        results.extend(
            scenario(label, &pool, &client, || async {
                let vacuum = !label.ends_with("no VACUUM");
                let report = migrate(&scratch.url, with_score(), size, None, vacuum).await?;
                Ok(fill_figures(&report))
            })
            .await?,
        );
    }
    results.extend(
        scenario("naive batching, 10k (WHERE id IN … IS NULL LIMIT)", &pool, &client, || async {
            pool.execute("ALTER TABLE items ADD COLUMN score integer").await?;
            let started = Instant::now();
            let mut batches = 0u64;
            loop {
                let done = sqlx::query(&format!(
                    "UPDATE items SET score = {FILL} WHERE id IN \
                 (SELECT id FROM items WHERE score IS NULL LIMIT 10000)"
                ))
                .execute(&pool)
                .await?;
                batches += 1;
                if done.rows_affected() == 0 {
                    break;
                }
            }
            Ok(json!({ "fill_ms": started.elapsed().as_millis() as u64, "batches": batches }))
        })
        .await?,
    );
    results.extend(
        scenario(
            "direct ADD COLUMN … NOT NULL DEFAULT gen_random_uuid()",
            &pool,
            &client,
            || async {
                let started = Instant::now();
                pool.execute(
                    "ALTER TABLE items ADD COLUMN token uuid NOT NULL DEFAULT gen_random_uuid()",
                )
                .await?;
                Ok(json!({ "fill_ms": started.elapsed().as_millis() as u64 }))
            },
        )
        .await?,
    );
    results.extend(
        scenario(
            "dataflow NOT NULL recipe (same column, auto_migrate)",
            &pool,
            &client,
            || async {
                let report =
                    migrate(&scratch.url, with_token(), BatchSize::default(), None, true).await?;
                Ok(fill_figures(&report))
            },
        )
        .await?,
    );
    results.extend(
        scenario("CREATE INDEX", &pool, &client, || async {
            pool.execute("CREATE INDEX items_account_id_idx ON items (account_id)").await?;
            Ok(json!({}))
        })
        .await?,
    );
    results.extend(
        scenario("dataflow index (auto_migrate: CONCURRENTLY)", &pool, &client, || async {
            let report =
                migrate(&scratch.url, with_index(), BatchSize::default(), None, true).await?;
            Ok(json!({ "steps": report.plan.steps.len() }))
        })
        .await?,
    );
    results.extend(
        scenario("lock queue: plain ALTER behind a 3 s reader", &pool, &client, || async {
            let holder = hold_access_share(&scratch.url, Duration::from_secs(3)).await?;
            pool.execute("ALTER TABLE items ADD COLUMN flag integer").await?;
            holder.await??;
            Ok(json!({}))
        })
        .await?,
    );
    results.extend(
        scenario("lock queue: dataflow, lock_timeout 200 ms + retries", &pool, &client, || async {
            let holder = hold_access_share(&scratch.url, Duration::from_secs(3)).await?;
            let report = migrate(
                &scratch.url,
                with_flag(),
                BatchSize::default(),
                Some(Duration::from_millis(200)),
                true,
            )
            .await?;
            holder.await??;
            Ok(json!({ "lock_timeout_retries": report.retries }))
        })
        .await?,
    );
    client.stop();

    let update_ms = results
        .iter()
        .find(|r| r["name"].as_str().is_some_and(|n| n.starts_with("one UPDATE")))
        .and_then(fill_ms);
    let naive_ms = results
        .iter()
        .find(|r| r["name"].as_str().is_some_and(|n| n.starts_with("naive")))
        .map(fill_ms);
    for result in &mut results {
        if let (Some(ours), Some(update)) = (result["fill_ms"].as_u64(), update_ms) {
            result["fill_vs_update"] = json!(ours as f64 / update as f64);
        }
        if let (Some(ours), Some(Some(naive))) = (result["fill_ms"].as_u64(), naive_ms) {
            result["naive_vs_this"] = json!(naive as f64 / ours as f64);
        }
    }
    print_table(rows, &results);
    let report =
        json!({ "rows": rows, "postgres": server_version(&pool).await?, "scenarios": results });
    std::fs::create_dir_all("target")?;
    let path = format!("target/bench-backfill-{rows}.json");
    std::fs::write(&path, serde_json::to_string_pretty(&report)?)?;
    eprintln!("wrote {path}");
    flow.postgres().map(|db| db.pool().clone()).ok_or("postgres")?.close().await;
    pool.close().await;
    scratch.drop().await?;
    Ok(())
}

/// `--only a,b`: the scenarios whose names contain one of these (the baseline and the
/// single UPDATE always run: the ratios need them).
fn selected(name: &str) -> bool {
    let args: Vec<String> = std::env::args().collect();
    let Some(i) = args.iter().position(|a| a == "--only") else { return true };
    let wanted = args.get(i + 1).map(String::as_str).unwrap_or("");
    name.starts_with("client alone")
        || name.starts_with("one UPDATE")
        || wanted.split(',').any(|w| !w.is_empty() && name.contains(w))
}

fn rows_argument() -> Result<i64, Failure> {
    let args: Vec<String> = std::env::args().collect();
    match args.iter().position(|a| a == "--rows") {
        Some(i) => Ok(args.get(i + 1).ok_or("--rows needs a number")?.replace('_', "").parse()?),
        None => Ok(1_000_000),
    }
}

/// `items` as the models declare it before any scenario.
fn items() -> Table {
    let mut table = Table::new(QualifiedName::new("items"));
    table.columns = vec![
        Column { identity: Some(Identity::ByDefault), ..Column::new("id", ColumnType::BigInt) },
        Column::new("account_id", ColumnType::Integer),
        Column::new("amount", ColumnType::BigInt),
        Column::new("payload", ColumnType::Text),
    ];
    table.primary_key = Some(PrimaryKey { name: "items_pkey".into(), columns: vec!["id".into()] });
    table
}

fn model(table: Table) -> ModelDef {
    ModelDef::new(table, Vec::new())
}

fn with_score() -> ModelDef {
    let mut table = items();
    table.columns.push(Column {
        backfill: Some(Backfill::Computed(FILL.into())),
        ..Column::new("score", ColumnType::Integer)
    });
    model(table)
}

fn with_token() -> ModelDef {
    let mut table = items();
    table.columns.push(Column {
        default: Some(DefaultExpr::Sql("gen_random_uuid()".into())),
        ..Column::new("token", ColumnType::Uuid)
    });
    model(table)
}

fn with_index() -> ModelDef {
    let mut table = items();
    table.indexes.push(Index {
        name: "items_account_id_idx".into(),
        parts: vec![IndexPart::Column("account_id".into())],
        ..Index::default()
    });
    model(table)
}

fn with_flag() -> ModelDef {
    let mut table = items();
    table.columns.push(Column::new("flag", ColumnType::Integer).nullable(true));
    model(table)
}

/// `items` through `auto_migrate`, filled, and a copy of it to restore before each scenario.
async fn build_template(flow: &DataFlow, pool: &PgPool, rows: i64) -> Result<(), Failure> {
    let options = MigrateOptions::default().with_mode(Mode::AutoConfirm);
    flow.clone().models([model(items())]).auto_migrate(options).await?;
    pool.execute(
        format!(
            "INSERT INTO items (id, account_id, amount, payload) \
             SELECT g, g % 5000, g * 7, md5(g::text) || md5((g * 3)::text) FROM generate_series(1, {rows}) g; \
             CREATE TABLE items_template (LIKE items INCLUDING ALL); \
             INSERT INTO items_template SELECT * FROM items"
        )
        .as_str(),
    )
    .await?;
    pool.execute("VACUUM ANALYZE items_template").await?;
    Ok(())
}

/// `items` as the template holds it; history emptied; the server settled.
async fn restore(pool: &PgPool) -> Result<(), Failure> {
    pool.execute(
        "DROP TABLE IF EXISTS items; \
         CREATE TABLE items (LIKE items_template INCLUDING ALL); \
         INSERT INTO items SELECT * FROM items_template; \
         TRUNCATE _dataflow_migrations",
    )
    .await?;
    pool.execute("VACUUM ANALYZE items").await?;
    pool.execute("CHECKPOINT").await?;
    Ok(())
}

async fn migrate(
    url: &str,
    desired: ModelDef,
    batch_size: BatchSize,
    lock_timeout: Option<Duration>,
    vacuum: bool,
) -> Result<MigrationReport, Failure> {
    let defaults = ApplyOptions::default();
    let options = MigrateOptions::default().with_mode(Mode::AutoConfirm).with_apply(
        defaults
            .clone()
            .with_lock_timeout(lock_timeout.unwrap_or(defaults.lock_timeout))
            .with_retries(50)
            .with_max_backoff(Duration::from_millis(500))
            .with_backfill(
                BackfillOptions::default().with_batch_size(batch_size).with_vacuum_every(
                    if vacuum { BackfillOptions::default().vacuum_every } else { None },
                ),
            ),
    );
    Ok(DataFlow::connect(url).await?.models([desired]).auto_migrate(options).await?)
}

fn fill_figures(report: &MigrationReport) -> serde_json::Value {
    let fill = report.backfills.first();
    json!({
        "fill_ms": fill.map(|f| f.ms),
        "recipe_ms": report.elapsed_ms as u64,
        "batches": fill.map(|f| f.batches),
        "vacuums": fill.map(|f| f.vacuums),
        "rows_per_second": fill.map(|f| (f.rows as f64 / (f.ms.max(1) as f64 / 1000.0)) as u64),
    })
}

fn fill_ms(result: &serde_json::Value) -> Option<u64> {
    result["fill_ms"].as_u64()
}

/// A session that reads `items` in a transaction and keeps it open for `hold`.
async fn hold_access_share(
    url: &str,
    hold: Duration,
) -> Result<tokio::task::JoinHandle<Result<(), sqlx::Error>>, Failure> {
    let mut connection = PgConnection::connect(url).await?;
    connection.execute("BEGIN; SELECT count(*) FROM items WHERE id = 1").await?;
    Ok(tokio::spawn(async move {
        tokio::time::sleep(hold).await;
        connection.execute("COMMIT").await?;
        Ok(())
    }))
}

/// Runs `work` on a freshly restored table while the client runs; returns its figures.
async fn scenario<F, Fut>(
    name: &str,
    pool: &PgPool,
    client: &Client,
    work: F,
) -> Result<Option<serde_json::Value>, Failure>
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = Result<serde_json::Value, Failure>>,
{
    if !selected(name) {
        return Ok(None);
    }
    client.pause(true);
    restore(pool).await?;
    let size_before = table_size(pool).await?;
    client.pause(false);
    tokio::time::sleep(Duration::from_secs(1)).await;
    let window_start = Instant::now();
    let mut figures = work().await?;
    let wall = window_start.elapsed();
    let window_end = Instant::now();
    // Operations blocked until the end finish right after it: let them report.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let latency = client.window(window_start, window_end);
    let size_after = table_size(pool).await?;
    eprintln!("{name}: {} ms, client {latency}", wall.as_millis());
    figures["name"] = json!(name);
    figures["wall_ms"] = json!(wall.as_millis() as u64);
    figures["size_before"] = json!(size_before);
    figures["size_after"] = json!(size_after);
    figures["growth"] = json!(size_after as f64 / size_before as f64);
    figures["client"] = json!({
        "operations": latency.operations,
        "per_second": latency.per_second,
        "p50_ms": latency.p50_ms,
        "p99_ms": latency.p99_ms,
        "max_ms": latency.max_ms,
    });
    Ok(Some(figures))
}

async fn table_size(pool: &PgPool) -> Result<i64, Failure> {
    Ok(sqlx::query_scalar("SELECT pg_total_relation_size('items')").fetch_one(pool).await?)
}

async fn server_version(pool: &PgPool) -> Result<String, Failure> {
    Ok(sqlx::query_scalar("SHOW server_version").fetch_one(pool).await?)
}

/// The concurrent application: point reads and point updates of random rows.
struct Client {
    running: Arc<AtomicBool>,
    paused: Arc<AtomicBool>,
    samples: Arc<Mutex<Vec<(Instant, Duration)>>>,
}

/// Client latency over a window.
#[derive(Debug)]
struct Latency {
    operations: usize,
    per_second: f64,
    p50_ms: f64,
    p99_ms: f64,
    max_ms: f64,
}

impl std::fmt::Display for Latency {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} ops ({:.0}/s), p50 {:.1} ms, p99 {:.1} ms, max {:.0} ms",
            self.operations, self.per_second, self.p50_ms, self.p99_ms, self.max_ms
        )
    }
}

impl Client {
    async fn start(url: &str, rows: i64) -> Result<Client, Failure> {
        let mut connection = PgConnection::connect(url).await?;
        let client = Client {
            running: Arc::new(AtomicBool::new(true)),
            paused: Arc::new(AtomicBool::new(true)),
            samples: Arc::new(Mutex::new(Vec::new())),
        };
        let (running, paused, samples) =
            (client.running.clone(), client.paused.clone(), client.samples.clone());
        tokio::spawn(async move {
            let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
            let mut n = 0u64;
            while running.load(Ordering::Relaxed) {
                if paused.load(Ordering::Relaxed) {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                }
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                let id = (state % rows as u64) as i64 + 1;
                n += 1;
                let sql = if n.is_multiple_of(2) {
                    "SELECT amount FROM items WHERE id = $1"
                } else {
                    "UPDATE items SET amount = amount + 1 WHERE id = $1"
                };
                let started = Instant::now();
                if sqlx::query(sql).bind(id).execute(&mut connection).await.is_ok() {
                    if let Ok(mut samples) = samples.lock() {
                        samples.push((started, started.elapsed()));
                    }
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        });
        Ok(client)
    }

    fn pause(&self, paused: bool) {
        self.paused.store(paused, Ordering::Relaxed);
    }

    fn stop(&self) {
        self.running.store(false, Ordering::Relaxed);
    }

    /// Operations that started in the window (an operation blocked at its end counts with
    /// the time it has waited so far).
    fn window(&self, from: Instant, to: Instant) -> Latency {
        let samples = self.samples.lock().map(|s| s.clone()).unwrap_or_default();
        let mut ms: Vec<f64> = samples
            .iter()
            .filter(|(start, _)| *start >= from && *start <= to)
            .map(|(_, took)| took.as_secs_f64() * 1000.0)
            .collect();
        ms.sort_by(f64::total_cmp);
        let at =
            |q: f64| ms.get(((ms.len() as f64 - 1.0) * q).round() as usize).copied().unwrap_or(0.0);
        Latency {
            operations: ms.len(),
            per_second: ms.len() as f64 / (to - from).as_secs_f64().max(0.001),
            p50_ms: at(0.5),
            p99_ms: at(0.99),
            max_ms: ms.last().copied().unwrap_or(0.0),
        }
    }
}

fn print_table(rows: i64, results: &[serde_json::Value]) {
    println!("\n{rows} rows\n");
    println!("| scenario | wall | fill | fill ÷ one UPDATE | naive ÷ this | size after ÷ before | client ops/s | p50 | p99 | max |");
    println!("|---|---|---|---|---|---|---|---|---|---|");
    for r in results {
        let ms = |key: &str| {
            r[key].as_u64().map_or("–".to_owned(), |v| format!("{:.1} s", v as f64 / 1000.0))
        };
        let ratio = |key: &str| r[key].as_f64().map_or("–".to_owned(), |v| format!("{v:.2}×"));
        let c = &r["client"];
        println!(
            "| {} | {} | {} | {} | {} | {:.2}× | {:.0} | {:.1} ms | {:.1} ms | {:.0} ms |",
            r["name"].as_str().unwrap_or(""),
            ms("wall_ms"),
            ms("fill_ms"),
            ratio("fill_vs_update"),
            ratio("naive_vs_this"),
            r["growth"].as_f64().unwrap_or(0.0),
            c["per_second"].as_f64().unwrap_or(0.0),
            c["p50_ms"].as_f64().unwrap_or(0.0),
            c["p99_ms"].as_f64().unwrap_or(0.0),
            c["max_ms"].as_f64().unwrap_or(0.0),
        );
    }
}
