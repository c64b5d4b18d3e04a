//! Explicit plans: steps the models cannot describe, run through the migrator (lock,
//! history, progress) — schema steps, data migrations in keyset batches, and raw SQL as
//! the escape hatch. Seed 003's example, "move users.profile_json into a new
//! user_profiles table", is a schema step, a data step and a schema step.

use crate::connector::postgres::history;
use crate::connector::postgres::lock::LockGuard;
use crate::connector::postgres::Postgres;
use crate::error::{Error, LeftBehind, Result};
use crate::history::RunStatus;
use crate::migrator::{DataFlow, PostgresOnly};
use crate::options::MigrateOptions;
use crate::report::MigrationReport;
use dataflow_schema::dialect::postgres::{keep, qualified, quote_ident};
use dataflow_schema::{plan_models, Dialect, Plan, PlanOptions, QualifiedName, RiskLevel, Schema};
use serde::{Deserialize, Serialize};
use sqlx::{Executor, Row};
use std::time::Instant;
use tracing::Instrument;

/// One explicit step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExplicitStep {
    /// Bring the schema to these models (model mode: planned, rated and applied as usual,
    /// drops keeping their data).
    Schema(Schema),
    /// Run `sql` over `table` in keyset batches of its integer key column `key`: the
    /// statement receives `$1` (exclusive lower key) and `$2` (inclusive upper key).
    /// One commit per batch; progress is recorded after each, so a stopped run resumes.
    Data {
        /// The table walked.
        table: QualifiedName,
        /// Its integer key column.
        key: String,
        /// The statement run per batch, e.g. `INSERT … SELECT … WHERE id > $1 AND id <= $2`.
        sql: String,
        /// Rows per batch.
        batch_size: i64,
    },
    /// Raw SQL, rated as its author declares (default HIGH).
    Sql {
        /// Statements that make the change.
        up: String,
        /// Statements that undo it, if any.
        down: Option<String>,
        /// The declared risk.
        risk: RiskLevel,
    },
}

/// An explicit, ordered plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MigrationPlan {
    /// What it does, for the history.
    pub description: String,
    /// The steps, in order.
    pub steps: Vec<ExplicitStep>,
}

impl MigrationPlan {
    /// A plan with a description and no steps yet.
    pub fn new(description: impl Into<String>) -> Self {
        MigrationPlan { description: description.into(), steps: Vec::new() }
    }

    /// Adds a step.
    pub fn step(mut self, step: ExplicitStep) -> Self {
        self.steps.push(step);
        self
    }

    fn checksum(&self) -> String {
        dataflow_schema::checksum::sha256_hex(&dataflow_schema::checksum::canonical_json(self))
    }
}

/// Where a stopped run got to: the step, and for a data step the last committed key.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct Progress {
    step: usize,
    after: Option<i64>,
    rows: i64,
}

impl DataFlow {
    /// Runs an explicit plan under the migration lock. Raw SQL above `max_risk` is
    /// refused before anything runs; a schema step above it stops the run (earlier steps
    /// stay applied and recorded). A run that stopped — failed, killed, connection lost —
    /// is resumed by calling this again with the same plan: it continues at the step and
    /// key recorded in the history.
    pub async fn apply_plan(
        &self,
        plan: MigrationPlan,
        options: MigrateOptions,
    ) -> Result<MigrationReport> {
        let started = Instant::now();
        let refused: Vec<String> = plan
            .steps
            .iter()
            .enumerate()
            .filter_map(|(i, s)| match s {
                ExplicitStep::Sql { risk, .. } if *risk > options.max_risk => {
                    Some(format!("explicit step {} · raw SQL · {risk}", i + 1))
                }
                _ => None,
            })
            .collect();
        let needed = plan
            .steps
            .iter()
            .filter_map(|s| match s {
                ExplicitStep::Sql { risk, .. } => Some(*risk),
                _ => None,
            })
            .max();
        if let (false, Some(needed)) = (refused.is_empty(), needed) {
            return Err(Error::RiskRefused { max_risk: options.max_risk, needed, steps: refused });
        }
        let db = self.pg(PostgresOnly::ExplicitPlans)?;
        let mut guard = db.migration_lock(options.migration_lock_timeout).await?;
        let lock_wait = guard.waited;
        let outcome = run(db, &plan, &options, &mut guard).await;
        let _ = guard.release().await;
        let (version, applied_steps, applied) = outcome?;
        Ok(MigrationReport {
            version: Some(version),
            applied,
            safety: applied_steps.safety(),
            plan: applied_steps,
            lock_wait_ms: lock_wait.as_millis(),
            retries: 0,
            timings: Vec::new(),
            backfills: Vec::new(),
            elapsed_ms: started.elapsed().as_millis(),
        })
    }
}

const NAMESPACE: &str = dataflow_schema::introspect::postgres::DEFAULT_NAMESPACE;

async fn run(
    db: &Postgres,
    plan: &MigrationPlan,
    options: &MigrateOptions,
    guard: &mut LockGuard,
) -> Result<(String, Plan, bool)> {
    let history_error = |source| Error::History { url: db.url().to_owned(), source };
    history::ensure(guard.connection(), NAMESPACE).await.map_err(history_error)?;
    history::close_interrupted(guard.connection(), NAMESPACE, None).await.map_err(history_error)?;
    let checksum = plan.checksum();
    let record = serde_json::json!({ "explicit": plan }).to_string();
    // An explicit plan runs once: applied already means nothing to do (its data steps
    // must not run twice).
    if let Some(done) =
        applied_before(guard.connection(), &checksum).await.map_err(history_error)?
    {
        return Ok((done, empty_plan(), false));
    }
    // Resume the newest stopped run of this very plan, or start a new one.
    let resumed = resumable(guard.connection(), &checksum).await.map_err(history_error)?;
    let (version, mut progress) = match resumed {
        Some(found) => found,
        None => {
            let version = history::next_version(guard.connection(), NAMESPACE, &checksum)
                .await
                .map_err(history_error)?;
            history::insert(
                guard.connection(),
                NAMESPACE,
                &version,
                &checksum,
                &plan.description,
                &record,
                RunStatus::Running,
            )
            .await
            .map_err(history_error)?;
            (version, Progress::default())
        }
    };
    set_status(guard, &version, RunStatus::Running, None).await.map_err(history_error)?;
    let started = Instant::now();
    let mut schema_plans = Vec::new();
    let outcome = async {
        for (index, step) in plan.steps.iter().enumerate().skip(progress.step) {
            let kind = match step {
                ExplicitStep::Schema(_) => "schema",
                ExplicitStep::Data { .. } => "data",
                ExplicitStep::Sql { .. } => "sql",
            };
            let span = tracing::info_span!(
                target: "dataflow::apply",
                "explicit_step",
                number = index + 1,
                kind
            );
            let step_started = Instant::now();
            async {
                match step {
                    ExplicitStep::Schema(desired) => {
                        let mut step_plan = schema_step(db, desired, options).await?;
                        if options.backup_before_destructive {
                            keep::keep_data(&mut step_plan, &format!("{version}_{}", index + 1));
                        }
                        db.apply_on(guard.connection(), &step_plan, &options.apply, None).await?;
                        schema_plans.push(step_plan);
                    }
                    ExplicitStep::Data { table, key, sql, batch_size } => {
                        let batches = Batches { table, key, sql, batch_size: *batch_size };
                        data_step(db, guard.connection(), &version, index, &mut progress, batches)
                            .await?;
                    }
                    ExplicitStep::Sql { up, .. } => {
                        let connect_error =
                            |source| Error::Connect { url: db.url().to_owned(), source };
                        let mut tx = sqlx::Connection::begin(guard.connection())
                            .await
                            .map_err(connect_error)?;
                        // A failure drops the transaction: nothing of the step remains.
                        (&mut *tx)
                            .execute(sqlx::raw_sql(up))
                            .await
                            .map_err(|source| apply_error(index, "raw SQL", up, source))?;
                        tx.commit().await.map_err(connect_error)?;
                    }
                }
                Ok::<_, Error>(())
            }
            .instrument(span.clone())
            .await?;
            span.in_scope(|| {
                tracing::info!(
                    target: "dataflow::apply",
                    ms = step_started.elapsed().as_millis() as u64,
                    "explicit step done"
                )
            });
            progress = Progress { step: index + 1, after: None, rows: 0 };
            save_progress(guard, &version, &progress).await.map_err(history_error)?;
        }
        Ok::<_, Error>(())
    }
    .await;
    let elapsed = i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
    match outcome {
        Ok(()) => {
            history::finish(
                guard.connection(),
                NAMESPACE,
                &version,
                RunStatus::Applied,
                elapsed,
                None,
            )
            .await
            .map_err(history_error)?;
            let combined = concat(schema_plans);
            Ok((version, combined, true))
        }
        Err(error) => {
            let message = crate::error::report(&error);
            let _ = set_status(guard, &version, RunStatus::Failed, Some(&message)).await;
            Err(error)
        }
    }
}

/// The schema steps' plans as one report: steps renumbered, change indexes shifted.
fn concat(plans: Vec<Plan>) -> Plan {
    let mut out = empty_plan();
    for plan in plans {
        let offset = out.changes.len();
        out.changes.extend(plan.changes);
        for mut step in plan.steps {
            step.change += offset;
            step.number = out.steps.len() + 1;
            out.steps.push(step);
        }
        out.warnings.extend(plan.warnings);
    }
    out.refresh_checksum();
    out
}

fn empty_plan() -> Plan {
    dataflow_schema::plan_offline(
        &Schema::default(),
        &Schema::default(),
        Dialect::Postgres,
        &PlanOptions::default(),
    )
    .unwrap_or_else(|_| unreachable!("an empty schema always plans"))
}

fn apply_error(index: usize, what: &str, statement: &str, source: sqlx::Error) -> Error {
    Error::StepFailed {
        step: index + 1,
        what: what.to_owned(),
        statement: statement.to_owned(),
        left: LeftBehind::EarlierGroups,
        source,
    }
}

async fn schema_step(db: &Postgres, desired: &Schema, options: &MigrateOptions) -> Result<Plan> {
    let (current, desired) = db.current_for(desired).await?;
    let plan = plan_models(&current.schema, &desired, Dialect::Postgres, &options.plan)?;
    crate::policy::check_risk(&plan, options.max_risk)?;
    Ok(plan)
}

/// A data step's statement and how it walks its table.
struct Batches<'a> {
    table: &'a QualifiedName,
    key: &'a str,
    sql: &'a str,
    batch_size: i64,
}

/// Keyset batches: each finds the next `batch_size` keys above the last committed one,
/// runs the statement for that range in its own transaction, and records the new key.
/// On the lock's session, so a batch still running after its migrator died keeps the
/// lock until the server ends it.
async fn data_step(
    db: &Postgres,
    connection: &mut sqlx::PgConnection,
    version: &str,
    index: usize,
    progress: &mut Progress,
    batches: Batches<'_>,
) -> Result<()> {
    let Batches { table, key, sql, batch_size } = batches;
    let next_bound = format!(
        "SELECT max(k) FROM (SELECT {key} AS k FROM {table} WHERE $1::bigint IS NULL OR {key} > $1 ORDER BY {key} LIMIT $2) batch",
        key = quote_ident(key),
        table = qualified(table)
    );
    let connect_error = |source| Error::Connect { url: db.url().to_owned(), source };
    loop {
        let upto: Option<i64> = sqlx::query(&next_bound)
            .bind(progress.after)
            .bind(batch_size)
            .fetch_one(&mut *connection)
            .await
            .and_then(|row| row.try_get(0))
            .map_err(|source| apply_error(index, "data migration", &next_bound, source))?;
        let Some(upto) = upto else { return Ok(()) };
        let after = progress.after.unwrap_or(i64::MIN);
        let mut tx = sqlx::Connection::begin(&mut *connection).await.map_err(connect_error)?;
        sqlx::query("SET LOCAL statement_timeout = 60000")
            .execute(&mut *tx)
            .await
            .map_err(connect_error)?;
        let done = sqlx::query(sql)
            .bind(after)
            .bind(upto)
            .execute(&mut *tx)
            .await
            .map_err(|source| apply_error(index, "data migration", sql, source))?;
        let next = Progress {
            step: index,
            after: Some(upto),
            rows: progress.rows + i64::try_from(done.rows_affected()).unwrap_or(i64::MAX),
        };
        // The batch and its progress commit together: a kill between two statements can
        // never make the next run copy a batch twice or skip one.
        sqlx::query(&progress_update())
            .bind(version)
            .bind(serde_json::json!({ "resume": &next }).to_string())
            .execute(&mut *tx)
            .await
            .map_err(|source| Error::History { url: db.url().to_owned(), source })?;
        tx.commit().await.map_err(connect_error)?;
        tracing::info!(
            target: "dataflow::batch",
            %table,
            upto,
            rows = next.rows,
            "data batch committed"
        );
        *progress = next;
    }
}

fn progress_update() -> String {
    history::progress_update(NAMESPACE)
}

async fn save_progress(
    guard: &mut LockGuard,
    version: &str,
    progress: &Progress,
) -> Result<(), sqlx::Error> {
    sqlx::query(&progress_update())
        .bind(version)
        .bind(serde_json::json!({ "resume": progress }).to_string())
        .execute(guard.connection())
        .await
        .map(|_| ())
}

async fn set_status(
    guard: &mut LockGuard,
    version: &str,
    row_status: RunStatus,
    error: Option<&str>,
) -> Result<(), sqlx::Error> {
    sqlx::query(&format!(
        "UPDATE {}.{} SET status = $2, progress = progress || $3::jsonb WHERE version = $1",
        quote_ident(NAMESPACE),
        quote_ident(crate::history::TABLE)
    ))
    .bind(version)
    .bind(row_status.as_str())
    .bind(serde_json::json!({ "error": error }).to_string())
    .execute(guard.connection())
    .await
    .map(|_| ())
}

/// The run that applied the plan with this checksum, if one did.
async fn applied_before(
    connection: &mut sqlx::PgConnection,
    checksum: &str,
) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar(&format!(
        "SELECT version FROM {}.{} WHERE checksum = $1 AND status = $2 LIMIT 1",
        quote_ident(NAMESPACE),
        quote_ident(crate::history::TABLE)
    ))
    .bind(checksum)
    .bind(RunStatus::Applied.as_str())
    .fetch_optional(connection)
    .await
}

/// The newest failed run of the plan with this checksum, and where it stopped.
async fn resumable(
    connection: &mut sqlx::PgConnection,
    checksum: &str,
) -> Result<Option<(String, Progress)>, sqlx::Error> {
    let row: Option<(String, Option<String>)> = sqlx::query_as(&format!(
        "SELECT version, (progress -> 'resume')::text FROM {}.{} \
         WHERE checksum = $1 AND status = $2 ORDER BY started_at DESC LIMIT 1",
        quote_ident(NAMESPACE),
        quote_ident(crate::history::TABLE)
    ))
    .bind(checksum)
    .bind(RunStatus::Failed.as_str())
    .fetch_optional(connection)
    .await?;
    Ok(row.map(|(version, resume)| {
        let progress = resume.and_then(|r| serde_json::from_str(&r).ok()).unwrap_or_default();
        (version, progress)
    }))
}

#[allow(dead_code)]
fn futures_are_send(flow: &DataFlow, plan: MigrationPlan) {
    fn send<T: Send>(_: T) {}
    send(flow.apply_plan(plan, MigrateOptions::default()));
}
