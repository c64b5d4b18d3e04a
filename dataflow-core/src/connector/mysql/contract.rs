//! MySQL/MariaDB's side of the connector contract (`crate::connector::contract`). DDL
//! commits itself there, so a run cannot be one transaction: under the `GET_LOCK`
//! migration lock the history row is written `running` and each step is recorded before
//! it starts and after it ends. A run left `running` by a dead migrator is closed by the
//! next lock holder — `applied` if all its steps are done or the database is at its
//! target, else `failed`, keeping its progress — and the re-plan from the live schema
//! resumes it, since its finished steps are in the schema. A rollback runs the recorded
//! downs of the finished steps, newest first, recording each as it goes.

use crate::connector::contract::{Connector, Current, Idle, Kept};
use crate::connector::mysql::history::{self as history, NewRow};
use crate::connector::mysql::{introspect_on, run_statement, MigrationLock, Mysql};
use crate::error::{Error, LeftBehind, Result};
use crate::history::{HistoryRow, RunProgress, RunStatus, StoredRun};
use crate::options::{ApplyOptions, MigrateOptions, Scope};
use crate::policy::Baseline;
use crate::report::{ApplyReport, MigrationReport};
use dataflow_schema::dialect::mysql::quote_ident;
use dataflow_schema::{Dialect, Plan, Rollback, Schema};
use sqlx::pool::PoolConnection;
use sqlx::MySqlConnection;
use std::time::{Duration, Instant};

/// DB-vs-DB on MySQL: brings the database to `target` (the whole database) through the
/// migrator. What `dataflow apply --db mysql://…` runs.
pub async fn migrate_mysql_to(
    db: &Mysql,
    target: Schema,
    options: MigrateOptions,
) -> Result<MigrationReport> {
    crate::migrate::migrate(db, &target, Scope::Database, options)
        .await
        .map_err(|error| crate::error::explain(error, db.url()))
}

/// With nothing to do (the database has the schema of checksum `reached`): closes the
/// runs a dead migrator left `running`, if any, under the lock — `applied` when their
/// target is `reached` — and settles a newest `failed` run whose target is `reached` as
/// `applied`, so the history tells the truth. One query when there is nothing to close.
pub(crate) async fn close_interrupted_runs(
    db: &Mysql,
    reached: &str,
    lock_timeout: Duration,
) -> Result<()> {
    let mut connection = db.connection().await?;
    if !history::any_to_close(&mut connection, Some(reached))
        .await
        .map_err(|e| db.history_error(e))?
    {
        return Ok(());
    }
    drop(connection);
    let mut lock = MigrationLock::acquire(db, lock_timeout).await?;
    let closed = async {
        for (version, state) in db.close_interrupted(lock.connection(), Some(reached)).await? {
            tracing::warn!(target: "dataflow::migrate", version, state = state.as_str(), "closed a run a stopped migrator left running");
        }
        let settled = history::settle_reached(lock.connection(), reached)
            .await
            .map_err(|e| db.history_error(e))?;
        if let Some(version) = settled {
            tracing::warn!(target: "dataflow::migrate", version, "a failed run's target is the live schema: recorded as applied");
        }
        Ok(())
    }
    .await;
    lock.release().await;
    closed
}

fn elapsed_ms(started: Instant) -> i64 {
    i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX)
}

/// What a step is, in messages.
fn what(step: &dataflow_schema::Step) -> String {
    format!("{} · {}", step.table, step.operation.label())
}

impl Mysql {
    async fn read_on(
        &self,
        conn: &mut MySqlConnection,
        desired: &Schema,
        scope: Scope,
    ) -> Result<Current> {
        let created = match scope {
            Scope::Models => {
                let runs =
                    history::created_tables(conn).await.map_err(|e| self.history_error(e))?;
                crate::orphans::created_by(&runs, desired)
            }
            Scope::Database => Vec::new(),
        };
        let current = introspect_on(conn, self.url()).await?;
        Ok(Current {
            schema: current.schema,
            desired: None,
            created,
            unmanaged: current.unmanaged,
            caveats: Vec::new(),
        })
    }
}

impl Connector for Mysql {
    type Conn = MySqlConnection;
    type Reader = PoolConnection<sqlx::MySql>;
    type Lock = MigrationLock;

    const DIALECT: Dialect = Dialect::Mysql;
    const CONFIRMS_UNDER_LOCK: bool = false;
    const UNDOES_FAILED_RUNS: bool = true;

    fn url(&self) -> &str {
        Mysql::url(self)
    }

    async fn reader(&self) -> Result<Self::Reader> {
        self.connection().await
    }

    fn read_with(reader: &mut Self::Reader) -> &mut MySqlConnection {
        reader
    }

    fn locked(lock: &mut MigrationLock) -> &mut MySqlConnection {
        lock.connection()
    }

    async fn read(&self, desired: &Schema, scope: Scope) -> Result<Current> {
        let mut connection = self.connection().await?;
        self.read_on(&mut connection, desired, scope).await
    }

    async fn read_locked(
        &self,
        lock: &mut MigrationLock,
        desired: &Schema,
        scope: Scope,
    ) -> Result<Current> {
        self.read_on(lock.connection(), desired, scope).await
    }

    async fn before_planning(&self, options: &MigrateOptions) -> Result<()> {
        // While another migrator holds the lock its statements are in flight (a killed
        // one's too: the server finishes the statement first), so what it changes would
        // make the preview stale: plan after it.
        MigrationLock::wait_while_held(self, options.migration_lock_timeout).await.map(|_| ())
    }

    async fn when_idle(&self, reached: &str, options: &MigrateOptions) -> Result<Idle> {
        close_interrupted_runs(self, reached, options.migration_lock_timeout).await?;
        Ok(Idle::Done)
    }

    async fn lock(&self, timeout: Duration, _apply: &ApplyOptions) -> Result<MigrationLock> {
        MigrationLock::acquire(self, timeout).await
    }

    fn waited(lock: &MigrationLock) -> Duration {
        lock.waited
    }

    async fn unlock(&self, lock: MigrationLock, _commit: bool) -> Result<()> {
        lock.release().await;
        Ok(())
    }

    async fn version_now(&self, checksum: &str) -> Result<String> {
        let mut connection = self.connection().await?;
        history::version_now(&mut connection, checksum).await.map_err(|e| self.history_error(e))
    }

    async fn execute(
        &self,
        lock: &mut MigrationLock,
        plan: &Plan,
        version: &str,
        options: &MigrateOptions,
    ) -> Result<ApplyReport> {
        let started = Instant::now();
        let history_error = |e| self.history_error(e);
        let connection = lock.connection();
        let description = plan.summary();
        let row = NewRow {
            version,
            description: &description,
            checksum: &plan.to_checksum,
            plan: &plan.to_json(),
            status: RunStatus::Running,
        };
        history::insert(connection, &row).await.map_err(history_error)?;
        // Going on from a run that failed (or was interrupted) on its way to this target:
        // this run owns the whole change, and its rollback undoes that run's steps too.
        let resumes = history::resumed_run(connection, version, &plan.to_checksum)
            .await
            .map_err(history_error)?;
        let mut progress = RunProgress { resumes, ..RunProgress::default() };
        let mut retries = 0;
        for step in &plan.steps {
            progress.running = Some(step.number);
            history::set_progress(connection, version, &progress).await.map_err(history_error)?;
            let span = tracing::info_span!(target: "dataflow::apply", "step", number = step.number, table = %step.table, operation = step.operation.label());
            let _entered = span.enter();
            for statement in &step.up {
                match run_statement(connection, step, statement, &options.apply, options.max_risk)
                    .await
                {
                    Ok(run) => {
                        retries += run.retries;
                        if let Some(sql) = run.fell_back_to {
                            progress.fallbacks.push(format!("step {}: {sql}", step.number));
                        }
                    }
                    Err((statement, source)) => {
                        progress.error = Some(source.to_string());
                        let elapsed = elapsed_ms(started);
                        // Best effort: the error below matters more than a failed record.
                        let _ = history::set_progress(connection, version, &progress).await;
                        let _ =
                            history::finish(connection, version, RunStatus::Failed, elapsed).await;
                        return Err(Error::StepFailed {
                            step: step.number,
                            what: what(step),
                            statement,
                            left: LeftBehind::EarlierSteps { version: version.to_owned() },
                            source,
                        });
                    }
                }
            }
            progress.running = None;
            progress.done.push(step.number);
            history::set_progress(connection, version, &progress).await.map_err(history_error)?;
        }
        history::finish(connection, version, RunStatus::Applied, elapsed_ms(started))
            .await
            .map_err(history_error)?;
        Ok(ApplyReport {
            steps: plan.steps.len(),
            groups: plan.steps.len(),
            retries,
            elapsed_ms: started.elapsed().as_millis(),
            timings: Vec::new(),
            backfills: Vec::new(),
        })
    }

    async fn undo(
        &self,
        lock: &mut MigrationLock,
        version: &str,
        plan: &Plan,
        options: &MigrateOptions,
    ) -> Result<()> {
        let connection = lock.connection();
        let mut progress =
            history::progress(connection, version).await.map_err(|e| self.history_error(e))?;
        // Each down step recorded when done: a rollback stopped half-way goes on where it
        // stopped.
        for step in plan.steps.iter().rev() {
            let Rollback::Sql(statements) = &step.down else { continue };
            for statement in statements {
                run_statement(connection, step, statement, &options.apply, options.max_risk)
                    .await
                    .map_err(|(statement, source)| Error::StepFailed {
                        step: step.number,
                        what: format!("rollback of {}", what(step)),
                        statement,
                        left: LeftBehind::EarlierSteps { version: version.to_owned() },
                        source,
                    })?;
            }
            progress.undone.push(step.number);
            history::set_progress(connection, version, &progress)
                .await
                .map_err(|e| self.history_error(e))?;
        }
        Ok(())
    }

    async fn ensure_history(&self, conn: &mut MySqlConnection) -> Result<()> {
        history::ensure(conn).await.map_err(|e| self.history_error(e))
    }

    async fn has_history(&self, conn: &mut MySqlConnection) -> Result<bool> {
        let error = |e| self.history_error(e);
        Ok(history::exists(&mut *conn).await.map_err(error)?
            && !history::is_empty(conn).await.map_err(error)?)
    }

    async fn history_rows(
        &self,
        conn: &mut MySqlConnection,
        limit: Option<usize>,
    ) -> Result<Vec<HistoryRow>> {
        history::list(conn, limit).await.map_err(|e| self.history_error(e))
    }

    async fn next_version(&self, conn: &mut MySqlConnection, checksum: &str) -> Result<String> {
        history::next_version(conn, checksum).await.map_err(|e| self.history_error(e))
    }

    async fn record_baseline(
        &self,
        conn: &mut MySqlConnection,
        version: &str,
        baseline: &Baseline,
    ) -> Result<()> {
        let row = NewRow {
            version,
            description: &baseline.description,
            checksum: &baseline.checksum,
            plan: &baseline.record,
            status: RunStatus::Baseline,
        };
        history::insert(conn, &row).await.map_err(|e| self.history_error(e))
    }

    async fn close_interrupted(
        &self,
        conn: &mut MySqlConnection,
        reached: Option<&str>,
    ) -> Result<Vec<(String, RunStatus)>> {
        history::close_interrupted(conn, reached).await.map_err(|e| self.history_error(e))
    }

    async fn rolled_back_target(
        &self,
        conn: &mut MySqlConnection,
        checksum: &str,
    ) -> Result<Option<String>> {
        history::rolled_back_target(conn, checksum).await.map_err(|e| self.history_error(e))
    }

    async fn set_plan(
        &self,
        conn: &mut MySqlConnection,
        version: &str,
        plan_json: &str,
    ) -> Result<()> {
        history::set_plan(conn, version, plan_json).await.map_err(|e| self.history_error(e))
    }

    async fn stored_run(
        &self,
        conn: &mut MySqlConnection,
        version: &str,
    ) -> Result<Option<StoredRun>> {
        let error = |e| self.history_error(e);
        if !history::exists(&mut *conn).await.map_err(error)? {
            return Ok(None);
        }
        history::stored_plan(conn, version).await.map_err(error)
    }

    async fn still_to_undo(
        &self,
        conn: &mut MySqlConnection,
        version: &str,
        status: RunStatus,
        mut plan: Plan,
    ) -> Result<(Plan, Option<String>)> {
        let mut progress =
            history::progress(conn, version).await.map_err(|e| self.history_error(e))?;
        if status == RunStatus::Applied {
            progress.done = plan.steps.iter().map(|s| s.number).collect();
        }
        plan.steps
            .retain(|s| progress.done.contains(&s.number) && !progress.undone.contains(&s.number));
        Ok((plan, progress.resumes))
    }

    async fn applied_after(
        &self,
        conn: &mut MySqlConnection,
        version: &str,
    ) -> Result<Vec<String>> {
        history::applied_after(conn, version).await.map_err(|e| self.history_error(e))
    }

    async fn mark_rolled_back(&self, conn: &mut MySqlConnection, version: &str) -> Result<()> {
        history::mark_rolled_back(conn, version).await.map_err(|e| self.history_error(e))
    }

    async fn purged(&self, conn: &mut MySqlConnection, version: &str) -> Result<bool> {
        let progress = history::progress(conn, version).await.map_err(|e| self.history_error(e))?;
        Ok(progress.purged.is_some())
    }

    async fn older_than(&self, conn: &mut MySqlConnection, seconds: i64) -> Result<Vec<String>> {
        history::older_than(conn, seconds).await.map_err(|e| self.history_error(e))
    }

    async fn versions(&self, conn: &mut MySqlConnection) -> Result<Vec<String>> {
        history::versions(conn).await.map_err(|e| self.history_error(e))
    }

    async fn kept(&self, conn: &mut MySqlConnection) -> Result<Vec<Kept>> {
        let tables = history::kept_tables(conn).await.map_err(|e| self.history_error(e))?;
        Ok(tables
            .into_iter()
            .map(|name| Kept {
                drop: format!("DROP TABLE IF EXISTS {}", quote_ident(&name)),
                shown: name.clone(),
                name,
            })
            .collect())
    }

    async fn drop_kept(&self, conn: &mut MySqlConnection, kept: &Kept) -> Result<bool> {
        sqlx::query(&kept.drop).execute(conn).await.map_err(|e| self.history_error(e))?;
        Ok(true)
    }

    async fn mark_purged(
        &self,
        conn: &mut MySqlConnection,
        version: &str,
        dropped: &[String],
    ) -> Result<()> {
        let error = |e| self.history_error(e);
        let mut progress = history::progress(&mut *conn, version).await.map_err(error)?;
        progress.purged = Some(dropped.to_vec());
        history::set_progress(conn, version, &progress).await.map_err(error)
    }
}
