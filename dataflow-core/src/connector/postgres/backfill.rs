//! The backfill executor: runs a fill ([`dataflow_schema::Batched`]) in keyset batches on a
//! populated PostgreSQL table while the application keeps reading and writing it.
//!
//! - Each batch is its own short transaction, so row locks last one batch (~100 ms with the
//!   adaptive size) and a concurrent writer waits at most that long.
//! - The batch and its progress (last key, rows walked and changed) commit together in the
//!   history row, so a run that is killed resumes after the last committed batch.
//! - Each time a set fraction of the table has been rewritten, the table is vacuumed, so
//!   later batches reuse the space of the dead row versions instead of growing the table.
//! - Progress: an indicatif bar on a terminal, `dataflow::batch` tracing events otherwise,
//!   with rows/s and the time left estimated from the table's row estimate.

use crate::connector::postgres::statement::execute;
use crate::options::BackfillOptions;
use crate::report::BackfillStats;
use dataflow_schema::Batched;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::{Deserialize, Serialize};
use sqlx::Row;
use std::time::{Duration, Instant};

/// Where the executor records its progress: the history row of the run.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Recorder<'a> {
    /// `UPDATE history SET progress = progress || $2 WHERE version = $1`.
    pub update: &'a str,
    /// The newest progress stored under `$1`, from any run.
    pub lookup: &'a str,
    /// `UPDATE history SET progress.done = progress.done || $2 WHERE version = $1`: the
    /// steps finished, recorded in the transaction that finishes them.
    pub done: &'a str,
    /// This run's version.
    pub version: &'a str,
}

/// Progress of one fill, as stored in history under `fill:<fingerprint>`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FillProgress {
    /// The table filled.
    pub table: String,
    /// The last committed batch's key (text form, one per key column).
    pub after: Option<Vec<String>>,
    /// Rows walked so far.
    pub rows: u64,
    /// Rows changed so far.
    pub changed: u64,
    /// Batches committed so far.
    pub batches: u64,
    /// Whether the fill reached the end of the table.
    pub done: bool,
    /// Milliseconds spent so far (with `rows`, the rate a later estimate uses).
    #[serde(default)]
    pub ms: u64,
}

/// The key progress is stored under: the same fill (table, column, value, key) in any run.
pub(crate) fn fingerprint(batched: &Batched) -> String {
    let hash = dataflow_schema::checksum::sha256_hex(&batched.next);
    format!("fill:{}", &hash[..16])
}

/// A failed statement: its SQL and the error.
pub(crate) type Failure = (String, sqlx::Error);

/// Runs the fill, resuming after the last batch an earlier run committed.
pub(crate) async fn run(
    connection: &mut sqlx::PgConnection,
    batched: &Batched,
    options: &BackfillOptions,
    recorder: Option<Recorder<'_>>,
) -> Result<BackfillStats, Failure> {
    let key = fingerprint(batched);
    let mut progress = match recorder {
        Some(recorder) => resume_point(connection, recorder, &key).await?,
        None => None,
    }
    .unwrap_or_else(|| FillProgress { table: batched.table.clone(), ..FillProgress::default() });
    let mut stats = BackfillStats {
        table: batched.table.clone(),
        resumed_after: progress.after.clone(),
        ..Default::default()
    };
    if let Some(after) = &stats.resumed_after {
        tracing::info!(
            target: "dataflow::batch",
            table = %batched.table,
            after = ?after,
            rows = progress.rows,
            "backfill resumed after the last committed batch"
        );
    }
    let estimate = row_estimate(connection, batched).await;
    let bar = progress_bar(options, estimate, progress.rows);
    let started = Instant::now();
    // One round trip: the batch's transaction and its settings (a number we produce).
    // `synchronous_commit = off`: a batch's commit does not wait for its WAL flush. A crash
    // may lose the last batches together with their progress (they commit as one), so the
    // next run simply redoes them; nothing else is at stake in a fill.
    let begin = format!(
        "BEGIN; SET LOCAL statement_timeout = {}; SET LOCAL synchronous_commit = off",
        options.batch_timeout.as_millis()
    );
    let mut size = options.batch_size.first();
    let mut rewritten_since_vacuum = 0u64;
    let mut last_report = Instant::now();
    loop {
        let sql = if progress.after.is_some() { &batched.next } else { &batched.first };
        let batch_started = Instant::now();
        let fail = |e| (sql.clone(), e);
        execute(connection, &begin).await.map_err(fail)?;
        let outcome = async {
            let mut query = sqlx::query(sql).bind(i64::from(size));
            for key in progress.after.iter().flatten() {
                query = query.bind(key.clone());
            }
            if batched.numbered {
                query = query.bind(i64::try_from(progress.changed).unwrap_or(i64::MAX));
            }
            let Some(row) = query.fetch_optional(&mut *connection).await? else {
                return Ok(None);
            };
            let keys = (0..batched.key_columns)
                .map(|i| row.try_get::<String, _>(i))
                .collect::<Result<Vec<_>, _>>()?;
            let walked: i64 = row.try_get(batched.key_columns)?;
            let changed: i64 = row.try_get(batched.key_columns + 1)?;
            let next = FillProgress {
                table: progress.table.clone(),
                after: Some(keys),
                rows: progress.rows + walked.unsigned_abs(),
                changed: progress.changed + changed.unsigned_abs(),
                batches: progress.batches + 1,
                done: false,
                ms: progress.ms + batch_started.elapsed().as_millis() as u64,
            };
            if let Some(recorder) = recorder {
                record(connection, recorder, &key, &next).await?;
            }
            Ok(Some((next, walked.unsigned_abs(), changed.unsigned_abs())))
        }
        .await;
        let (next, walked, changed) = match outcome {
            Ok(Some(batch)) => batch,
            Ok(None) => {
                execute(connection, "COMMIT").await.map_err(fail)?;
                break;
            }
            Err(error) => {
                let _ = execute(connection, "ROLLBACK").await;
                bar.abandon();
                return Err(fail(error));
            }
        };
        execute(connection, "COMMIT").await.map_err(fail)?;
        let took = batch_started.elapsed();
        progress = next;
        stats.rows += walked;
        stats.changed += changed;
        stats.batches += 1;
        bar.set_position(progress.rows);
        let rate = per_second(stats.rows, started.elapsed());
        tracing::debug!(
            target: "dataflow::batch",
            table = %batched.table,
            batch = progress.batches,
            size,
            rows = walked,
            changed,
            ms = took.as_millis() as u64,
            "backfill batch committed"
        );
        if last_report.elapsed() >= Duration::from_secs(5) {
            last_report = Instant::now();
            tracing::info!(
                target: "dataflow::batch",
                table = %batched.table,
                rows = progress.rows,
                estimate,
                rows_per_second = rate as u64,
                eta_s = eta(estimate, progress.rows, rate),
                "backfill progress"
            );
        }
        size = options.batch_size.next(size, took);
        rewritten_since_vacuum += changed;
        if let Some(fraction) = options.vacuum_every {
            let every = (estimate.unwrap_or(0).max(progress.rows) as f64 * fraction).max(10_000.0);
            if rewritten_since_vacuum as f64 >= every && !batched.vacuum.is_empty() {
                vacuum(connection, batched, &mut stats).await;
                rewritten_since_vacuum = 0;
            }
        }
        if !options.throttle.is_zero() {
            tokio::time::sleep(options.throttle).await;
        }
    }
    if let Some(recorder) = recorder {
        progress.done = true;
        record(connection, recorder, &key, &progress).await.map_err(|e| (String::new(), e))?;
    }
    bar.finish_and_clear();
    stats.ms = started.elapsed().as_millis() as u64;
    tracing::info!(
        target: "dataflow::batch",
        table = %batched.table,
        batches = stats.batches,
        rows = stats.rows,
        changed = stats.changed,
        vacuums = stats.vacuums,
        rows_per_second = per_second(stats.rows, started.elapsed()) as u64,
        ms = stats.ms,
        "backfill finished"
    );
    Ok(stats)
}

/// The progress an earlier, unfinished run of the same fill recorded.
async fn resume_point(
    connection: &mut sqlx::PgConnection,
    recorder: Recorder<'_>,
    key: &str,
) -> Result<Option<FillProgress>, Failure> {
    let stored: Option<serde_json::Value> = sqlx::query_scalar(recorder.lookup)
        .bind(key)
        .fetch_optional(&mut *connection)
        .await
        .map_err(|e| (recorder.lookup.to_owned(), e))?
        .flatten();
    Ok(stored
        .and_then(|value| serde_json::from_value::<FillProgress>(value).ok())
        .filter(|progress| !progress.done && progress.after.is_some()))
}

async fn record(
    connection: &mut sqlx::PgConnection,
    recorder: Recorder<'_>,
    key: &str,
    progress: &FillProgress,
) -> Result<(), sqlx::Error> {
    let value = serde_json::json!({ key: progress }).to_string();
    sqlx::query(recorder.update)
        .bind(recorder.version)
        .bind(value)
        .execute(&mut *connection)
        .await
        .map(|_| ())
}

/// The planner's row estimate (`reltuples`), when the table has been analysed.
async fn row_estimate(connection: &mut sqlx::PgConnection, batched: &Batched) -> Option<u64> {
    if batched.relation.is_empty() {
        return None;
    }
    let estimate: Option<f32> =
        sqlx::query_scalar("SELECT reltuples FROM pg_catalog.pg_class WHERE oid = to_regclass($1)")
            .bind(&batched.relation)
            .fetch_optional(&mut *connection)
            .await
            .ok()
            .flatten();
    estimate.filter(|rows| *rows >= 0.0).map(|rows| rows as u64)
}

/// `VACUUM` between batches. It takes SHARE UPDATE EXCLUSIVE, which blocks no reads or
/// writes; a failure (say, not the table's owner) only turns the vacuums off.
async fn vacuum(connection: &mut sqlx::PgConnection, batched: &Batched, stats: &mut BackfillStats) {
    let started = Instant::now();
    match execute(connection, &batched.vacuum).await {
        Ok(()) => {
            stats.vacuums += 1;
            tracing::info!(
                target: "dataflow::batch",
                table = %batched.table,
                ms = started.elapsed().as_millis() as u64,
                "vacuumed between batches"
            );
        }
        Err(error) => tracing::warn!(
            target: "dataflow::batch",
            table = %batched.table,
            %error,
            "VACUUM between batches failed; leaving it to autovacuum"
        ),
    }
}

fn progress_bar(options: &BackfillOptions, estimate: Option<u64>, done: u64) -> ProgressBar {
    if !options.progress_bar || !crate::terminal::is_interactive() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(
        Some(estimate.unwrap_or(0).max(done)),
        ProgressDrawTarget::stderr(),
    );
    // `8,519 rows/s · ETA 3m · 1m 8s so far` (indicatif's own `{per_sec}` prints
    // `8,518.8156/s`, and a bare `{elapsed}` next to the ETA read as one duration).
    if let Ok(style) = ProgressStyle::with_template(
        "backfill {bar:30} {human_pos}/~{human_len} rows · {rate} · ETA {eta} · {elapsed} so far",
    ) {
        bar.set_style(style.with_key(
            "rate",
            |state: &indicatif::ProgressState, out: &mut dyn std::fmt::Write| {
                let _ = write!(out, "{} rows/s", indicatif::HumanCount(state.per_sec() as u64));
            },
        ));
    }
    bar.set_position(done);
    bar
}

fn per_second(rows: u64, elapsed: Duration) -> f64 {
    rows as f64 / elapsed.as_secs_f64().max(0.001)
}

/// Seconds left, from the row estimate and the rate so far.
fn eta(estimate: Option<u64>, done: u64, rate: f64) -> Option<u64> {
    let left = estimate?.saturating_sub(done);
    (rate > 0.0).then(|| (left as f64 / rate).ceil() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eta_needs_an_estimate_and_a_rate() {
        assert_eq!(eta(Some(1_000), 400, 100.0), Some(6));
        assert_eq!(eta(None, 400, 100.0), None);
        assert_eq!(eta(Some(1_000), 400, 0.0), None);
        assert_eq!(eta(Some(100), 400, 10.0), Some(0));
    }
}
