//! A NOT NULL column on a large table while the application keeps writing to it: the
//! direct way against ours, with a concurrent client measuring how long it waits.
//!
//! Run: `cargo run --release --example large_table [-- --rows N]` (PostgreSQL on
//! 127.0.0.1:5432, or `DATAFLOW_EXAMPLE_POSTGRES`). It fills `orders` with N rows (default
//! 1,000,000) in a scratch database `dataflow_example_large`, then:
//!
//! 1. **The direct way**: `ALTER TABLE orders ADD COLUMN reference uuid NOT NULL DEFAULT
//!    gen_random_uuid()`. A volatile default rewrites the whole table under ACCESS
//!    EXCLUSIVE: the client's reads and writes wait until it is done.
//! 2. **Ours**: the same column declared on the model (`default_sql`), plus a column
//!    computed from the row (`backfill`). `auto_migrate` adds them nullable (an instant),
//!    fills the existing rows in keyset batches of ~100 ms (one commit each; a progress bar
//!    on a terminal), proves NOT NULL with a validated CHECK and only then sets it.
//! 3. **The NOT NULL handler** for a column the models do not have yet: the recommended
//!    strategy, a check of the existing rows, the run, and its rollback.

#[path = "support/scratch.rs"]
mod scratch;

use dataflow::not_null::{recommend_strategy, NewColumn, Strategy};
use dataflow::{ColumnType, DataFlow, Literal, MigrateOptions, Mode, Model};
use sqlx::{Connection, Executor, PgConnection};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[allow(dead_code)] // read by the database, not by this program
#[derive(Model)]
#[dataflow(table = "orders")]
struct Order {
    #[dataflow(primary_key, auto)]
    id: i64,
    customer: String,
    amount_cents: i64,
}

/// The next release of `Order`.
#[allow(dead_code)]
#[derive(Model)]
#[dataflow(table = "orders")]
struct OrderV2 {
    #[dataflow(primary_key, auto)]
    id: i64,
    customer: String,
    amount_cents: i64,
    #[dataflow(default_sql = "gen_random_uuid()", sql_type = "uuid")]
    reference: String,
    #[dataflow(backfill = "CASE WHEN amount_cents >= 50000 THEN 'large' ELSE 'small' END")]
    size_band: String,
}

type Failure = Box<dyn std::error::Error>;

#[tokio::main]
async fn main() -> Result<(), Failure> {
    let rows: i64 = match std::env::args().skip_while(|a| a != "--rows").nth(1) {
        Some(n) => n.replace('_', "").parse()?,
        None => 1_000_000,
    };
    let scratch = scratch::Scratch::create("dataflow_example_large").await?;
    let flow = DataFlow::connect(&scratch.url).await?.model::<Order>();
    let unattended = || MigrateOptions::default().with_mode(Mode::AutoConfirm);
    flow.auto_migrate(unattended()).await?;
    let pool = scratch::pool(&flow)?.clone();
    eprintln!("filling orders with {rows} rows …");
    pool.execute(
        format!(
            "INSERT INTO orders (customer, amount_cents) \
             SELECT 'customer ' || (g % 10000), (g::bigint * 7919) % 100000 FROM generate_series(1, {rows}) g"
        )
        .as_str(),
    )
    .await?;
    pool.execute("VACUUM ANALYZE orders").await?;
    let client = Client::start(&scratch.url, rows).await?;

    println!("\n1. The direct way: ALTER TABLE … ADD COLUMN reference uuid NOT NULL DEFAULT gen_random_uuid()");
    let window = client.window_start().await;
    let started = Instant::now();
    pool.execute("ALTER TABLE orders ADD COLUMN reference uuid NOT NULL DEFAULT gen_random_uuid()")
        .await?;
    let took = started.elapsed();
    println!(
        "   took {} ms; the client meanwhile: {}",
        took.as_millis(),
        client.since(window).await
    );
    pool.execute("ALTER TABLE orders DROP COLUMN reference").await?;
    pool.execute("VACUUM orders").await?;

    println!("\n2. Ours: the same column, and one computed from the row, on the model");
    let next = DataFlow::connect(&scratch.url).await?.model::<OrderV2>();
    let plan = next.plan().await?;
    println!("{plan}");
    let window = client.window_start().await;
    let report = next.auto_migrate(unattended()).await?;
    println!(
        "   took {} ms; the client meanwhile: {}",
        report.elapsed_ms,
        client.since(window).await
    );
    for fill in &report.backfills {
        println!(
            "   step {}: {} rows in {} batches ({:.0} ms each on average), {} VACUUMs",
            fill.step,
            fill.changed,
            fill.batches,
            fill.average_batch_ms(),
            fill.vacuums
        );
    }
    let missing: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM orders WHERE reference IS NULL OR size_band IS NULL",
    )
    .fetch_one(&pool)
    .await?;
    println!("   rows without a value: {missing}");

    println!("\n3. The NOT NULL handler, for a column the models do not declare yet");
    let handler = next.not_null_handler();
    let column = NewColumn::new("channel", ColumnType::Text);
    let advice = recommend_strategy(&column.traits(), Some(rows as u64));
    println!("   recommended: {:?} — {}", advice.kind, advice.reason);
    let addition = handler
        .plan_not_null_addition("orders", column, Strategy::Static(Literal::Text("web".into())))
        .await?;
    println!(
        "   plan: {:?}, ~{} rows, {:?}, risk {}",
        addition.execution,
        addition.affected_rows.unwrap_or(0),
        addition.estimated_duration,
        addition.risk
    );
    let safety = handler.validate_addition_safety(&addition).await?;
    println!(
        "   safe: {} (issues {:?}, warnings {:?})",
        safety.is_safe(),
        safety.issues,
        safety.warnings
    );
    let outcome = handler.execute(&addition).await?;
    println!("   applied as {} in {} ms", outcome.version, outcome.elapsed.as_millis());
    handler.rollback_not_null_addition(&outcome).await?;
    println!("   rolled back: the column is gone again");

    client.stop();
    pool.close().await;
    if let Some(db) = next.postgres() {
        db.pool().close().await;
    }
    scratch.drop().await?;
    Ok(())
}

/// The application: a point update of a random order every 5 ms, on its own connection.
struct Client {
    running: Arc<AtomicBool>,
    samples: Arc<Mutex<Vec<(Instant, Duration)>>>,
}

impl Client {
    async fn start(url: &str, rows: i64) -> Result<Client, Failure> {
        let mut connection = PgConnection::connect(url).await?;
        let running = Arc::new(AtomicBool::new(true));
        let samples = Arc::new(Mutex::new(Vec::new()));
        let (flag, log) = (running.clone(), samples.clone());
        tokio::spawn(async move {
            let mut id = 1i64;
            while flag.load(Ordering::Relaxed) {
                id = (id * 48_271) % rows + 1;
                let started = Instant::now();
                let sql = "UPDATE orders SET amount_cents = amount_cents + 1 WHERE id = $1";
                if sqlx::query(sql).bind(id).execute(&mut connection).await.is_ok() {
                    if let Ok(mut log) = log.lock() {
                        log.push((started, started.elapsed()));
                    }
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        });
        Ok(Client { running, samples })
    }

    async fn window_start(&self) -> Instant {
        tokio::time::sleep(Duration::from_millis(200)).await;
        Instant::now()
    }

    /// Writes that started since `from`: how many, and the longest wait.
    async fn since(&self, from: Instant) -> String {
        let end = Instant::now();
        tokio::time::sleep(Duration::from_millis(200)).await;
        let samples = self.samples.lock().map(|s| s.clone()).unwrap_or_default();
        let waits: Vec<Duration> = samples
            .iter()
            .filter(|(start, _)| *start >= from && *start <= end)
            .map(|(_, took)| *took)
            .collect();
        let longest = waits.iter().max().copied().unwrap_or_default();
        format!(
            "{} writes ({:.0}/s), the longest waited {} ms",
            waits.len(),
            waits.len() as f64 / (end - from).as_secs_f64().max(0.001),
            longest.as_millis()
        )
    }

    fn stop(&self) {
        self.running.store(false, Ordering::Relaxed);
    }
}
