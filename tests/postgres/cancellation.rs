//! An application wraps `auto_migrate` in `tokio::time::timeout` on its own pool and the
//! timeout fires at a random moment — during the catalog read, a transactional group
//! (an `ALTER COLUMN TYPE` and more), a keyset fill, or while waiting for the migration
//! lock. Whatever the moment, the application's pool must come back clean: its next
//! query runs outside any transaction with the application's own session settings, no
//! table or advisory lock is left held, the application's own `begin()/commit()` commits
//! only its own rows, and the next `auto_migrate` on the same pool converges.

use super::support::{server_available, unattended, TestDb};
use crate::common::soak::{seed, trials, Rng};
use dataflow::{DataFlow, Model};
use sqlx::postgres::PgPoolOptions;
use std::time::{Duration, Instant};

#[derive(Model)]
#[dataflow(table = "events")]
struct EventsV1 {
    #[dataflow(primary_key)]
    id: i64,
    amount: i32,
    note: Option<String>,
}

#[derive(Model)]
#[dataflow(table = "events", index(columns("note")))]
struct EventsV2 {
    #[dataflow(primary_key)]
    id: i64,
    amount: i32,
    note: Option<String>,
    #[dataflow(backfill = "amount * 2")]
    doubled: i64,
}

/// A small table: its changes run as one transactional group (a rewrite of 200 rows).
#[derive(Model)]
#[dataflow(table = "accounts")]
struct AccountsV1 {
    #[dataflow(primary_key)]
    id: i64,
    balance: i32,
}

#[derive(Model)]
#[dataflow(table = "accounts", check = "balance >= 0")]
struct AccountsV2 {
    #[dataflow(primary_key)]
    id: i64,
    balance: i64,
    #[dataflow(default = "eur")]
    currency: String,
}

fn v1(pool: &sqlx::PgPool) -> DataFlow {
    DataFlow::from_pool(pool.clone()).model::<EventsV1>().model::<AccountsV1>()
}

fn v2(pool: &sqlx::PgPool) -> DataFlow {
    DataFlow::from_pool(pool.clone()).model::<EventsV2>().model::<AccountsV2>()
}

const SEED: &str =
    "INSERT INTO events SELECT g, g % 1000, 'n' || g FROM generate_series(1, 30000) g; \
    INSERT INTO accounts SELECT g, g FROM generate_series(1, 200) g; ANALYZE";

/// The application's session setting, which the migrator must leave as it found it.
const APP_TIMEOUT: &str = "123s";

async fn app_pool(db: &TestDb) -> sqlx::PgPool {
    PgPoolOptions::new()
        .max_connections(2)
        .after_connect(|connection, _| {
            Box::pin(async move {
                sqlx::Executor::execute(&mut *connection, "SET statement_timeout = '123s'").await?;
                Ok(())
            })
        })
        .connect(&db.url)
        .await
        .expect("the application's pool")
}

/// What is wrong with the application's pool and the database after a cancellation.
async fn dirty(db: &TestDb, pool: &sqlx::PgPool) -> Vec<String> {
    let mut problems = Vec::new();
    // Every connection of the pool, at once (so each is checked, not the same one twice).
    let mut held = Vec::new();
    for _ in 0..2 {
        match tokio::time::timeout(Duration::from_secs(10), pool.acquire()).await {
            Ok(Ok(connection)) => held.push(connection),
            other => problems.push(format!("the pool gave no connection: {other:?}")),
        }
    }
    for connection in &mut held {
        // SAVEPOINT is refused outside a transaction block (25P01): refused is clean.
        let probe = sqlx::Executor::execute(&mut **connection, "SAVEPOINT df_probe").await;
        match probe {
            Err(error)
                if error.as_database_error().and_then(|e| e.code()).as_deref() == Some("25P01") => {
            }
            Ok(_) => problems.push("a pool connection is inside a transaction".into()),
            Err(error) => problems.push(format!("the app's query failed: {error}")),
        }
        let timeout: Result<String, _> =
            sqlx::query_scalar("SELECT current_setting('statement_timeout')")
                .fetch_one(&mut **connection)
                .await;
        match timeout {
            Ok(timeout) if timeout == APP_TIMEOUT => {}
            other => problems.push(format!("statement_timeout is {other:?}, not the app's")),
        }
    }
    drop(held);
    // A cancelled statement's session is closed, not pooled: the server rolls it back as
    // soon as it sees the client gone (at once when idle, after the statement otherwise).
    // Before, the lock stayed with the pooled session for as long as the pool kept it.
    let started = Instant::now();
    loop {
        let locks: i64 = db
            .scalar(
                "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a USING (pid) \
                 WHERE a.datname = current_database() AND a.pid <> pg_backend_pid() \
                 AND l.granted AND (l.locktype = 'advisory' OR l.mode <> 'AccessShareLock')",
            )
            .await;
        if locks == 0 {
            break;
        }
        if started.elapsed() > Duration::from_secs(5) {
            problems.push(format!("{locks} lock(s) still held by other sessions after 5 s"));
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    problems
}

// assertion path: about cancellation; the next auto_migrate must converge with every row
// and fill checked, and this plan's kinds roll back through the path in online.rs
#[tokio::test]
async fn a_cancelled_auto_migrate_gives_the_applications_pool_back_clean() {
    if !server_available().await {
        return;
    }
    let mut rng = Rng(seed(0xca4c_e11e));
    // How long an uncancelled run takes: the moments are drawn within it.
    let span = {
        let db = TestDb::new("cancel_calibrate").await;
        let pool = app_pool(&db).await;
        v1(&pool).auto_migrate(unattended()).await.expect("v1");
        db.exec(SEED).await;
        let started = Instant::now();
        let report = v2(&pool).auto_migrate(unattended()).await.expect("v2");
        // The moments must fall among these: a transactional group rewriting `accounts`,
        // a keyset fill and a concurrent index build on `events`.
        let kinds: Vec<(&str, &str)> =
            report.plan.steps.iter().map(|s| (s.table.as_str(), s.operation.label())).collect();
        for expected in
            [("accounts", "ALTER COLUMN TYPE"), ("events", "ADD COLUMN"), ("events", "ADD INDEX")]
        {
            assert!(kinds.contains(&expected), "{expected:?} in the plan:\n{}", report.plan);
        }
        assert!(!report.backfills.is_empty(), "a keyset fill ran:\n{}", report.plan);
        let span = started.elapsed().as_millis() as u64;
        pool.close().await;
        db.drop_db().await;
        span
    };
    let trials = trials(10);
    let (mut cancelled, mut failures) = (0usize, Vec::new());
    for trial in 0..trials {
        let db = TestDb::new("cancel").await;
        let pool = app_pool(&db).await;
        v1(&pool).auto_migrate(unattended()).await.expect("v1");
        db.exec(SEED).await;
        db.exec("CREATE TABLE app_rows (n int)").await;
        let sum_before: i64 = db.scalar("SELECT sum(amount)::bigint FROM events").await;
        // Every other trial, another session holds the migration lock for a while, so
        // the cancellation can land while waiting for it.
        let holder = if trial % 2 == 1 {
            let key = dataflow::schema::checksum::sha256_hex(&format!("dataflow:{}", db.name));
            let key = u64::from_str_radix(&key[..16], 16).expect("hex") as i64;
            let mut holder =
                <sqlx::PgConnection as sqlx::Connection>::connect(&db.url).await.expect("holder");
            sqlx::query("SELECT pg_advisory_lock($1)")
                .bind(key)
                .execute(&mut holder)
                .await
                .expect("lock");
            Some(holder)
        } else {
            None
        };
        let budget = Duration::from_millis(1 + rng.below(span));
        let flow = v2(&pool);
        let outcome = tokio::time::timeout(budget, flow.auto_migrate(unattended())).await;
        cancelled += usize::from(outcome.is_err());
        if let Some(holder) = holder {
            let _ = sqlx::Connection::close(holder).await;
        }
        let mut problems = dirty(&db, &pool).await;
        // The application's own transaction commits its own row, and only that.
        let mut tx = pool.begin().await.expect("the app's transaction");
        sqlx::query("INSERT INTO app_rows VALUES (1)").execute(&mut *tx).await.expect("app insert");
        tx.commit().await.expect("the app's commit");
        let next = v2(&pool);
        // With the default policy: a run cut short mid-recipe must not leave anything the
        // next start refuses (a leftover NOT NULL proof check was, before).
        match next.auto_migrate(unattended()).await {
            Ok(_) => {
                if !next.plan().await.map(|p| p.is_empty()).unwrap_or(false) {
                    problems.push("the next auto_migrate did not converge".into());
                }
            }
            Err(error) => problems.push(format!("the next auto_migrate failed: {error}")),
        }
        let (rows, sum, wrong): (i64, i64, i64) = sqlx::query_as(
            "SELECT count(*), sum(amount)::bigint, count(*) FILTER (WHERE doubled <> amount * 2) FROM events",
        )
        .fetch_one(&pool)
        .await
        .expect("the table");
        if (rows, sum, wrong) != (30_000, sum_before, 0) {
            problems
                .push(format!("rows {rows}, sum {sum} (was {sum_before}), {wrong} wrong fills"));
        }
        let balances: (i64, i64) =
            sqlx::query_as("SELECT count(*), sum(balance)::bigint FROM accounts")
                .fetch_one(&pool)
                .await
                .expect("accounts");
        if balances != (200, 20_100) {
            problems.push(format!("accounts {balances:?}"));
        }
        let app_rows: i64 = db.scalar("SELECT count(*) FROM app_rows").await;
        if app_rows != 1 {
            problems.push(format!("{app_rows} app rows"));
        }
        if !problems.is_empty() {
            failures.push(format!("trial {trial} (cancelled after {budget:?}): {problems:?}"));
        }
        pool.close().await;
        db.drop_db().await;
    }
    eprintln!("cancellations: {cancelled} of {trials} runs cut short; {} dirty", failures.len());
    assert!(failures.is_empty(), "{failures:#?}");
    assert!(cancelled * 2 >= trials, "most trials must cut the run short: {cancelled}/{trials}");
}
