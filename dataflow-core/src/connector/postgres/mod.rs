//! PostgreSQL connector: connect, introspect (one catalog round trip), apply a plan.
//!
//! Applying runs each group of steps in one short transaction under `lock_timeout` and
//! `statement_timeout`, retrying a group that hit the lock timeout with exponential
//! backoff and full jitter. History, the advisory lock and data-keeping drops come with
//! the migrator.

pub mod backfill;
pub(crate) mod contract;
pub mod explicit;
pub mod history;
pub mod lock;
pub mod not_null;
pub mod preflight;
mod statement;

use crate::connector::postgres::backfill::Recorder;
use crate::error::{redact, Error, LeftBehind, Result};
use crate::options::ApplyOptions;
use crate::report::{ApplyReport, BackfillStats, GroupTiming};
use dataflow_schema::introspect::postgres::DEFAULT_NAMESPACE;
use dataflow_schema::introspect::postgres::{
    build, Catalog, ColumnRow, ConstraintRow, EnumRow, IndexRow, Introspected, SequenceRow,
    TableRow,
};
use dataflow_schema::{plan_models, Dialect, Plan, PlanOptions, Schema, Step};
use sqlx::postgres::PgRow;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{Executor, Row};
pub(crate) use statement::execute;
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;
use tracing::Instrument;

/// The plan's warning listing what the database holds that dataflow leaves alone.
pub(crate) fn warn_unmanaged(plan: &mut Plan, current: &Introspected) {
    if !current.unmanaged.is_empty() {
        plan.warnings
            .push(format!("not managed by dataflow, left alone: {}", current.unmanaged.join(", ")));
    }
}

/// (pid, state, transaction age, query) of a session holding a lock.
type LockHolderRow = (i32, Option<String>, Option<String>, Option<String>);

/// A PostgreSQL database.
#[derive(Debug, Clone)]
pub struct Postgres {
    pool: PgPool,
    url: String,
    statements: Arc<AtomicU64>,
}

impl Postgres {
    /// Connects (a small pool: introspection and applying need one connection each).
    pub async fn connect(url: &str) -> Result<Postgres> {
        let shown = redact(url);
        if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
            return Err(Error::UnsupportedUrl { url: shown });
        }
        let options = PgConnectOptions::from_str(url)
            .map_err(|source| Error::Connect { url: shown.clone(), source })?
            .application_name("dataflow");
        super::probe::<sqlx::PgConnection>(&options)
            .await
            .map_err(|source| Error::Connect { url: shown.clone(), source })?;
        let server = crate::sessions::Server::Postgres(Box::new(options.clone()));
        let pool = PgPoolOptions::new()
            .max_connections(2)
            .acquire_timeout(super::CONNECT_TIMEOUT)
            .after_connect(move |connection, _| {
                let server = server.clone();
                Box::pin(async move {
                    if crate::sessions::tracking() {
                        let pid: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
                            .fetch_one(connection)
                            .await?;
                        crate::sessions::note_session(&server, i64::from(pid));
                    }
                    Ok(())
                })
            })
            .connect_with(options)
            .await
            .map_err(|source| Error::Connect { url: shown.clone(), source })?;
        Ok(Postgres { pool, url: shown, statements: Arc::default() })
    }

    /// Wraps an existing pool (the application's own).
    pub fn from_pool(pool: PgPool) -> Postgres {
        Postgres { pool, url: "the application's pool".into(), statements: Arc::default() }
    }

    /// The pool, for callers that run their own queries.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// A connection from the pool.
    pub(crate) async fn connection(&self) -> Result<sqlx::pool::PoolConnection<sqlx::Postgres>> {
        self.pool.acquire().await.map_err(|source| Error::Connect { url: self.url.clone(), source })
    }

    /// How many statements this connector has sent (introspection and applying); the
    /// introspection benchmark shows it stays constant whatever the table count.
    pub fn statements_sent(&self) -> u64 {
        self.statements.load(Ordering::Relaxed)
    }

    fn count(&self, statements: u64) {
        self.statements.fetch_add(statements, Ordering::Relaxed);
    }

    /// The URL with its password removed.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The schemas (namespaces) a user created: all but `pg_*` and `information_schema`.
    pub async fn user_namespaces(&self) -> Result<Vec<String>> {
        self.count(1);
        sqlx::query_scalar(
            "SELECT nspname::text FROM pg_namespace \
             WHERE nspname !~ '^pg_' AND nspname <> 'information_schema' ORDER BY 1",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(|source| Error::Introspect { url: self.url.clone(), source })
    }

    /// Reads tables, columns, constraints, indexes, enums and sequences of `namespaces`
    /// in one catalog query. A failed query is an error, never an empty schema; a
    /// namespace that does not exist is an error.
    pub async fn introspect(&self, namespaces: &[String]) -> Result<Introspected> {
        let catalog = self
            .read_catalog(namespaces)
            .await
            .map_err(|source| Error::Introspect { url: self.url.clone(), source })?;
        let found = build(catalog);
        for namespace in namespaces {
            if !found.namespaces.contains(namespace) {
                return Err(Error::NoSuchNamespace {
                    namespace: namespace.clone(),
                    url: self.url.clone(),
                });
            }
        }
        Ok(found)
    }

    /// Runs the catalog queries (a fixed number, whatever the table count) in one
    /// read-only, repeatable-read transaction, so they see one consistent catalog.
    async fn read_catalog(
        &self,
        namespaces: &[String],
    ) -> std::result::Result<Catalog, sqlx::Error> {
        use dataflow_schema::introspect::postgres::queries;
        // BEGIN, eight catalog queries, COMMIT.
        self.count(10);
        let mut connection = crate::lent::Lent::new(self.pool.acquire().await?);
        // The server reports its version when the session starts: no query needed.
        let server_version = connection.server_version_num().unwrap_or(0);
        let versioned = queries::Queries::for_version(server_version);
        connection.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY").await?;
        let rows = |sql: &'static str| sqlx::query(sql).bind(namespaces);
        let result = async {
            let catalog = Catalog {
                server_version,
                namespaces: rows(queries::NAMESPACES)
                    .fetch_all(&mut *connection)
                    .await?
                    .iter()
                    .map(|r| r.try_get(0))
                    .collect::<std::result::Result<_, _>>()?,
                tables: rows(queries::TABLES)
                    .fetch_all(&mut *connection)
                    .await?
                    .iter()
                    .map(table_row)
                    .collect::<std::result::Result<_, _>>()?,
                columns: rows(queries::COLUMNS)
                    .fetch_all(&mut *connection)
                    .await?
                    .iter()
                    .map(column_row)
                    .collect::<std::result::Result<_, _>>()?,
                constraints: sqlx::query(&versioned.constraints)
                    .bind(namespaces)
                    .fetch_all(&mut *connection)
                    .await?
                    .iter()
                    .map(constraint_row)
                    .collect::<std::result::Result<_, _>>()?,
                indexes: sqlx::query(&versioned.indexes)
                    .bind(namespaces)
                    .fetch_all(&mut *connection)
                    .await?
                    .iter()
                    .map(index_row)
                    .collect::<std::result::Result<_, _>>()?,
                enums: rows(queries::ENUMS)
                    .fetch_all(&mut *connection)
                    .await?
                    .iter()
                    .map(|r| {
                        Ok(EnumRow {
                            schema: r.try_get(0)?,
                            name: r.try_get(1)?,
                            values: r.try_get(2)?,
                        })
                    })
                    .collect::<std::result::Result<_, sqlx::Error>>()?,
                sequences: rows(queries::SEQUENCES)
                    .fetch_all(&mut *connection)
                    .await?
                    .iter()
                    .map(|r| {
                        Ok(SequenceRow {
                            schema: r.try_get(0)?,
                            name: r.try_get(1)?,
                            start: r.try_get(2)?,
                            increment: r.try_get(3)?,
                        })
                    })
                    .collect::<std::result::Result<_, sqlx::Error>>()?,
                unmanaged: rows(queries::UNMANAGED)
                    .fetch_all(&mut *connection)
                    .await?
                    .iter()
                    .map(|r| r.try_get(0))
                    .collect::<std::result::Result<_, _>>()?,
            };
            Ok::<_, sqlx::Error>(catalog)
        }
        .await;
        // Read-only: ending it either way changes nothing.
        connection.execute("COMMIT").await?;
        connection.give_back();
        result
    }

    /// Applies a plan group by group. Each group is one transaction; a group that hits
    /// the lock timeout is rolled back and retried with backoff and jitter, so the plan
    /// never sits in the lock queue blocking the application.
    pub async fn apply(&self, plan: &Plan, options: &ApplyOptions) -> Result<ApplyReport> {
        let mut connection = crate::lent::Lent::new(self.connection().await?);
        let report = self.apply_on(&mut connection, plan, options, None).await?;
        connection.give_back();
        Ok(report)
    }

    /// [`Postgres::apply`] on `connection`, recording progress in the run's history row
    /// when a `recorder` is given. The migrator passes the session that holds the
    /// migration lock: a statement the server is still running after its client died
    /// (a `CREATE INDEX CONCURRENTLY`, a fill batch) then keeps the lock until it ends,
    /// so the next migrator plans after it instead of colliding with it.
    pub(crate) async fn apply_on(
        &self,
        connection: &mut sqlx::PgConnection,
        plan: &Plan,
        options: &ApplyOptions,
        recorder: Option<Recorder<'_>>,
    ) -> Result<ApplyReport> {
        let started = Instant::now();
        let mut retries = 0;
        let mut groups = 0;
        let mut timings = Vec::new();
        let mut backfills = Vec::new();
        for group in group_steps(&plan.steps) {
            self.count(group.iter().map(|&i| plan.steps[i].up.len() as u64 + 3).sum());
            let group_started = Instant::now();
            let first = &plan.steps[group[0]];
            let span = tracing::info_span!(
                target: "dataflow::apply",
                "group",
                group = first.group,
                table = %first.table,
                steps = group.len()
            );
            let run = Run { plan, options, recorder };
            self.run_group_with_retries(connection, run, &group, &mut retries, &mut backfills)
                .instrument(span)
                .await?;
            groups += 1;
            tracing::info!(
                target: "dataflow::apply",
                group = plan.steps[group[0]].group,
                steps = group.len(),
                ms = group_started.elapsed().as_millis() as u64,
                "group committed"
            );
            timings.push(GroupTiming {
                group: plan.steps[group[0]].group,
                steps: group.iter().map(|&i| plan.steps[i].number).collect(),
                ms: group_started.elapsed().as_millis(),
            });
        }
        Ok(ApplyReport {
            steps: plan.steps.len(),
            groups,
            retries,
            timings,
            backfills,
            elapsed_ms: started.elapsed().as_millis(),
        })
    }
}

impl Postgres {
    /// Runs one group; on lock timeout it is rolled back and retried with backoff and
    /// jitter, up to `options.retries` times.
    async fn run_group_with_retries(
        &self,
        connection: &mut sqlx::PgConnection,
        run: Run<'_>,
        group: &[usize],
        retries: &mut u32,
        backfills: &mut Vec<BackfillStats>,
    ) -> Result<()> {
        let Run { plan, options, .. } = run;
        let mut attempt = 0;
        loop {
            match run_group(connection, run, group, backfills).await {
                Ok(()) => return Ok(()),
                Err(GroupError { step, source, .. })
                    if is_lock_timeout(&source) && attempt < options.retries =>
                {
                    attempt += 1;
                    *retries += 1;
                    let pause = options.backoff(attempt);
                    tracing::warn!(
                        target: "dataflow::apply",
                        step = plan.steps[step].number,
                        table = %plan.steps[step].table,
                        attempt,
                        backoff_ms = pause.as_millis() as u64,
                        "lock timeout, group rolled back; retrying"
                    );
                    tokio::time::sleep(pause).await;
                }
                Err(GroupError { step, source, .. }) if is_lock_timeout(&source) => {
                    let step = &plan.steps[step];
                    return Err(Error::LockBusy {
                        step: step.number,
                        what: format!("{} · {}", step.table, step.operation.label()),
                        attempts: attempt + 1,
                        holders: self.lock_holders(connection, &step.table).await,
                    });
                }
                Err(GroupError { step, statement, source }) => {
                    let step = &plan.steps[step];
                    return Err(Error::StepFailed {
                        step: step.number,
                        what: format!("{} · {}", step.table, step.operation.label()),
                        statement,
                        left: LeftBehind::EarlierGroups,
                        source,
                    });
                }
            }
        }
    }

    /// Plans the migration of this database to `desired` in model mode: only tables the
    /// models name are altered or dropped; the rest is reported in the plan's warnings.
    /// Reads the default namespace and every namespace the models use that exists.
    pub async fn plan_models(&self, desired: &Schema, options: &PlanOptions) -> Result<Plan> {
        let (current, desired) = self.current_for(desired).await?;
        let mut plan = plan_models(&current.schema, &desired, Dialect::Postgres, options)?;
        warn_unmanaged(&mut plan, &current);
        Ok(plan)
    }

    /// What a plan to `desired` starts from: the default namespace and each namespace
    /// `desired` uses that exists, read in one catalog round; and `desired` as this
    /// server's release can hold it (a feature it lacks is an error naming both releases).
    pub(crate) async fn current_for<'a>(
        &self,
        desired: &'a Schema,
    ) -> Result<(Introspected, std::borrow::Cow<'a, Schema>)> {
        let existing = self.user_namespaces().await?;
        let mut namespaces = vec![DEFAULT_NAMESPACE.to_owned()];
        namespaces.extend(desired.namespaces.iter().filter(|n| existing.contains(n)).cloned());
        let current = self.introspect(&namespaces).await?;
        let desired = match current.server_version {
            0 => std::borrow::Cow::Borrowed(desired),
            version => dataflow_schema::dialect::postgres::server::fit(desired, version)?,
        };
        Ok((current, desired))
    }

    /// Who holds locks on `table` (pid, state, transaction age, query), for the error
    /// after the last lock-timeout retry. Best effort: an empty list if it cannot tell.
    async fn lock_holders(&self, connection: &mut sqlx::PgConnection, table: &str) -> Vec<String> {
        let rows: Vec<LockHolderRow> = sqlx::query_as(
            "SELECT a.pid, a.state, (now() - a.xact_start)::text, left(a.query, 80) \
             FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid \
             WHERE l.granted AND l.relation = to_regclass($1) AND a.pid <> pg_backend_pid() \
             ORDER BY a.xact_start NULLS LAST LIMIT 5",
        )
        .bind(table)
        .fetch_all(connection)
        .await
        .unwrap_or_default();
        rows.into_iter()
            .map(|(pid, state, age, query)| {
                format!(
                    "pid {pid} ({}, transaction open for {}): {}",
                    state.unwrap_or_default(),
                    age.unwrap_or_else(|| "?".into()),
                    query.unwrap_or_default()
                )
            })
            .collect()
    }

    /// Undoes an applied plan: the down statements of its steps in reverse order, group
    /// by group. Refuses before running anything when a step is irreversible. (Data a
    /// step deleted is not restored: that is the migrator's trash and backups.)
    pub async fn rollback(&self, plan: &Plan, options: &ApplyOptions) -> Result<ApplyReport> {
        let reversed = crate::reverse::reversed(plan)?;
        self.apply(&reversed, options).await
    }

    /// [`Postgres::rollback`] on `connection` (the migrator's: the lock's session).
    pub(crate) async fn rollback_on(
        &self,
        connection: &mut sqlx::PgConnection,
        plan: &Plan,
        options: &ApplyOptions,
    ) -> Result<ApplyReport> {
        let reversed = crate::reverse::reversed(plan)?;
        self.apply_on(connection, &reversed, options, None).await
    }
}

fn table_row(r: &PgRow) -> std::result::Result<TableRow, sqlx::Error> {
    Ok(TableRow {
        schema: r.try_get(0)?,
        name: r.try_get(1)?,
        rows: r.try_get(2)?,
        bytes: r.try_get(3)?,
        comment: r.try_get(4)?,
    })
}

fn column_row(r: &PgRow) -> std::result::Result<ColumnRow, sqlx::Error> {
    Ok(ColumnRow {
        schema: r.try_get(0)?,
        table: r.try_get(1)?,
        name: r.try_get(2)?,
        ty: r.try_get(3)?,
        enum_schema: r.try_get(4)?,
        enum_name: r.try_get(5)?,
        enum_array: r.try_get(6)?,
        not_null: r.try_get(7)?,
        default: r.try_get(8)?,
        identity: r.try_get(9)?,
        generated: r.try_get(10)?,
        collation: r.try_get(11)?,
        comment: r.try_get(12)?,
        owns_sequence: r.try_get(13)?,
        not_null_constraint: r.try_get(14)?,
        not_null_validated: r.try_get(15)?,
    })
}

fn constraint_row(r: &PgRow) -> std::result::Result<ConstraintRow, sqlx::Error> {
    Ok(ConstraintRow {
        schema: r.try_get(0)?,
        table: r.try_get(1)?,
        name: r.try_get(2)?,
        kind: r.try_get(3)?,
        definition: r.try_get(4)?,
        validated: r.try_get(5)?,
        deferrable: r.try_get(6)?,
        deferred: r.try_get(7)?,
        no_inherit: r.try_get(8)?,
        match_full: r.try_get(9)?,
        nulls_not_distinct: r.try_get(10)?,
        enforced: r.try_get(11)?,
        period: r.try_get(12)?,
        columns: r.try_get(13)?,
        ref_schema: r.try_get(14)?,
        ref_table: r.try_get(15)?,
        ref_columns: r.try_get(16)?,
        on_delete: r.try_get(17)?,
        on_update: r.try_get(18)?,
    })
}

fn index_row(r: &PgRow) -> std::result::Result<IndexRow, sqlx::Error> {
    Ok(IndexRow {
        schema: r.try_get(0)?,
        table: r.try_get(1)?,
        name: r.try_get(2)?,
        unique: r.try_get(3)?,
        valid: r.try_get(4)?,
        method: r.try_get(5)?,
        predicate: r.try_get(6)?,
        nulls_not_distinct: r.try_get(7)?,
        with: r.try_get(8)?,
        include: r.try_get(9)?,
        part_columns: r.try_get(10)?,
        part_expressions: r.try_get(11)?,
        part_options: r.try_get(12)?,
    })
}

/// What one apply runs, and where it records fill progress.
#[derive(Clone, Copy)]
struct Run<'a> {
    plan: &'a Plan,
    options: &'a ApplyOptions,
    recorder: Option<Recorder<'a>>,
}

/// Where a group failed: the step's index in the plan, the statement, the error.
struct GroupError {
    step: usize,
    statement: String,
    source: sqlx::Error,
}

/// Consecutive step indexes sharing a group number.
fn group_steps(steps: &[Step]) -> Vec<Vec<usize>> {
    let mut groups: Vec<Vec<usize>> = Vec::new();
    for (index, step) in steps.iter().enumerate() {
        match groups.last_mut() {
            Some(group) if steps[group[0]].group == step.group => group.push(index),
            _ => groups.push(vec![index]),
        }
    }
    groups
}

async fn run_group(
    connection: &mut sqlx::PgConnection,
    run: Run<'_>,
    group: &[usize],
    backfills: &mut Vec<BackfillStats>,
) -> std::result::Result<(), GroupError> {
    let (steps, options) = (&run.plan.steps, run.options);
    let first = group[0];
    let fail = |step, statement: String, source| GroupError { step, statement, source };
    if !steps[first].transactional {
        return run_outside_transaction(connection, run, first, backfills).await;
    }
    let timeout = group.iter().map(|&i| steps[i].statement_timeout_ms).max().unwrap_or(30_000);
    // Values are numbers we produce, not user input.
    let settings = format!(
        "SET LOCAL lock_timeout = {}; SET LOCAL statement_timeout = {timeout}",
        options.lock_timeout.as_millis()
    );
    // The group's transaction is rolled back whole on any error; nothing of it remains.
    for statement in ["BEGIN".to_owned(), settings] {
        if let Err(source) = execute(connection, &statement).await {
            let _ = execute(connection, "ROLLBACK").await;
            return Err(fail(first, statement, source));
        }
    }
    for &index in group {
        let step = &steps[index];
        let span = step_span(step);
        let started = Instant::now();
        let outcome = async {
            for statement in &step.up {
                execute(connection, statement).await.map_err(|e| (statement.clone(), e))?;
            }
            tracing::debug!(
                target: "dataflow::apply",
                ms = started.elapsed().as_millis() as u64,
                "step executed"
            );
            Ok::<_, (String, sqlx::Error)>(())
        }
        .instrument(span)
        .await;
        if let Err((statement, source)) = outcome {
            let _ = execute(connection, "ROLLBACK").await;
            return Err(fail(index, statement, source));
        }
    }
    // The steps are recorded done in the transaction that does them: exactly once.
    if let Some(recorder) = run.recorder {
        let numbers: Vec<usize> = group.iter().map(|&i| steps[i].number).collect();
        if let Err(source) = record_done(connection, recorder, &numbers).await {
            let _ = execute(connection, "ROLLBACK").await;
            return Err(fail(first, recorder.done.to_owned(), source));
        }
    }
    if let Err(source) = execute(connection, "COMMIT").await {
        let _ = execute(connection, "ROLLBACK").await;
        return Err(fail(first, "COMMIT".to_owned(), source));
    }
    Ok(())
}

/// Adds `numbers` to the run's `progress.done`.
async fn record_done(
    connection: &mut sqlx::PgConnection,
    recorder: Recorder<'_>,
    numbers: &[usize],
) -> std::result::Result<(), sqlx::Error> {
    sqlx::query(recorder.done)
        .bind(recorder.version)
        .bind(serde_json::json!(numbers).to_string())
        .execute(connection)
        .await
        .map(|_| ())
}

/// A step that cannot run in a transaction (`CONCURRENTLY`): each statement commits on
/// its own, under the session's `lock_timeout` and without a statement timeout (the build
/// takes as long as the table needs; nothing waits on it). Its statements are written to
/// be run again after a failure, so a lock timeout retries the whole step.
async fn run_outside_transaction(
    connection: &mut sqlx::PgConnection,
    run: Run<'_>,
    index: usize,
    backfills: &mut Vec<BackfillStats>,
) -> std::result::Result<(), GroupError> {
    let (step, options) = (&run.plan.steps[index], run.options);
    let span = step_span(step);
    let started = Instant::now();
    // The session's own values (the application's, when the pool is its own), put back
    // afterwards rather than reset to the server's defaults.
    let saved: (String, String) = match sqlx::query_as(
        "SELECT current_setting('lock_timeout'), current_setting('statement_timeout')",
    )
    .fetch_one(&mut *connection)
    .await
    {
        Ok(saved) => saved,
        Err(source) => return Err(GroupError { step: index, statement: "SHOW".into(), source }),
    };
    // A number we produce, not user input.
    let settings = format!(
        "SET lock_timeout = {}; SET statement_timeout = 0",
        options.lock_timeout.as_millis()
    );
    let outcome = async {
        let fail = |statement: &str, source| GroupError {
            step: index,
            statement: statement.to_owned(),
            source,
        };
        // Started, so possibly half done: a rollback of the run that goes on from this
        // one undoes it too (its statements, and its down, are written to run again).
        if let Some(recorder) = run.recorder {
            sqlx::query(recorder.update)
                .bind(recorder.version)
                .bind(serde_json::json!({ "running": step.number }).to_string())
                .execute(&mut *connection)
                .await
                .map_err(|source| fail(recorder.update, source))?;
        }
        execute(connection, &settings).await.map_err(|source| fail(&settings, source))?;
        for (position, statement) in step.up.iter().enumerate() {
            match &step.batched {
                Some(batched) if batched.statement == position => {
                    let mut stats = crate::connector::postgres::backfill::run(
                        connection,
                        batched,
                        &options.backfill,
                        run.recorder,
                    )
                    .await
                    .map_err(|(sql, e)| fail(&sql, e))?;
                    stats.step = step.number;
                    backfills.push(stats);
                }
                _ => execute(connection, statement)
                    .await
                    .map_err(|source| fail(statement, source))?,
            }
        }
        tracing::debug!(
            target: "dataflow::apply",
            ms = started.elapsed().as_millis() as u64,
            "step executed"
        );
        // Its statements are idempotent: recorded after they all ran.
        if let Some(recorder) = run.recorder {
            record_done(connection, recorder, &[step.number])
                .await
                .map_err(|source| fail(recorder.done, source))?;
        }
        Ok(())
    }
    .instrument(span)
    .await;
    let restored = sqlx::query(
        "SELECT set_config('lock_timeout', $1, false), set_config('statement_timeout', $2, false)",
    )
    .bind(&saved.0)
    .bind(&saved.1)
    .execute(&mut *connection)
    .await;
    match (outcome, restored) {
        (Err(failed), _) => Err(failed),
        (Ok(()), Err(source)) => {
            Err(GroupError { step: index, statement: "set_config".into(), source })
        }
        (Ok(()), Ok(_)) => Ok(()),
    }
}

/// The `step` span every step runs in.
fn step_span(step: &Step) -> tracing::Span {
    tracing::info_span!(
        target: "dataflow::apply",
        "step",
        number = step.number,
        table = %step.table,
        operation = step.operation.label()
    )
}

/// SQLSTATE 55P03 (lock_not_available): `lock_timeout` expired; nothing was changed.
fn is_lock_timeout(error: &sqlx::Error) -> bool {
    error.as_database_error().and_then(|e| e.code()).as_deref() == Some("55P03")
}

/// Compile-time check: the connector's futures can be spawned on a multi-threaded runtime.
#[allow(dead_code)]
fn futures_are_send(db: &Postgres, plan: &Plan, namespaces: &[String]) {
    fn send<T: Send>(_: T) {}
    send(db.apply(plan, &ApplyOptions::default()));
    send(db.introspect(namespaces));
    send(db.user_namespaces());
    send(Postgres::connect(""));
}
