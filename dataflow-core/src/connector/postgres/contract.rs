//! PostgreSQL's side of the connector contract (`crate::connector::contract`): the
//! advisory lock on a dedicated connection (the fast path takes none; a run left
//! `running` is closed under it after a short grace), the catalog read in one snapshot,
//! the constraint validator before anything is recorded, and a run recorded `running`
//! then applied one transaction per group (retries, keyset fills recorded batch by batch)
//! and marked `applied` or `failed`. A person confirms under the lock: it stops only other
//! migrators, and the preview then names the run's own version.

use crate::connector::contract::{Connector, Current, Idle, Kept};
use crate::connector::postgres::backfill::Recorder;
use crate::connector::postgres::history;
use crate::connector::postgres::lock::{LockError, LockGuard};
use crate::connector::postgres::Postgres;
use crate::error::{Error, Result};
use crate::history::{HistoryRow, RunStatus, StoredRun};
use crate::options::{ApplyOptions, MigrateOptions, Scope};
use crate::policy::Baseline;
use crate::report::{ApplyReport, MigrationReport};
use dataflow_schema::introspect::postgres::DEFAULT_NAMESPACE;
use dataflow_schema::{Dialect, Plan, QualifiedName, Schema};
use sqlx::pool::PoolConnection;
use sqlx::PgConnection;
use std::time::{Duration, Instant};

/// The namespace of the history table.
const NS: &str = DEFAULT_NAMESPACE;

/// How long a migrator with nothing to do waits for the lock to close a run left
/// `running` before taking its holder for alive: a migrator that just died may still hold
/// it for a moment — its server session ends after its process (a terminated backend
/// exits asynchronously; one whose client vanished finishes its statement first).
const LEFT_RUNNING_GRACE: Duration = Duration::from_secs(3);

/// DB-vs-DB: brings the database to `target` (the whole namespace) through the migrator:
/// lock, re-plan under the lock, history, apply. What `dataflow apply` runs.
pub async fn migrate_to(
    db: &Postgres,
    target: Schema,
    options: MigrateOptions,
) -> Result<MigrationReport> {
    crate::migrate::migrate(db, &target, Scope::Database, options)
        .await
        .map_err(|error| crate::error::explain(error, db.url()))
}

impl Postgres {
    /// Takes the migration lock on a connection of its own, waiting at most `timeout`.
    pub(crate) async fn migration_lock(&self, timeout: Duration) -> Result<LockGuard> {
        let connection = self.connection().await?.detach();
        LockGuard::acquire(connection, timeout).await.map_err(|error| match error {
            LockError::Timeout { holder } => {
                Error::LockTimeout { waited_ms: timeout.as_millis(), holder }
            }
            LockError::Database(source) => Error::Connect { url: self.url().to_owned(), source },
        })
    }

    async fn read_current(&self, desired: &Schema, scope: Scope) -> Result<Current> {
        let (current, fitted) = self.current_for(desired).await?;
        let fitted = match fitted {
            std::borrow::Cow::Owned(fitted) => Some(fitted),
            std::borrow::Cow::Borrowed(_) => None,
        };
        let (created, unmanaged) = match scope {
            Scope::Models => {
                let mut connection = self.connection().await?;
                let runs = history::created_tables(&mut connection, NS)
                    .await
                    .map_err(|e| self.history_error(e))?;
                (crate::orphans::created_by(&runs, desired), current.unmanaged)
            }
            // DB-vs-DB: the target is the whole namespace, unmanaged objects included.
            Scope::Database => (Vec::<QualifiedName>::new(), Vec::new()),
        };
        Ok(Current {
            schema: current.schema,
            desired: fitted,
            created,
            unmanaged,
            caveats: Vec::new(),
        })
    }
}

impl Connector for Postgres {
    type Conn = PgConnection;
    type Reader = PoolConnection<sqlx::Postgres>;
    type Lock = LockGuard;

    const DIALECT: Dialect = Dialect::Postgres;
    const CONFIRMS_UNDER_LOCK: bool = true;
    const UNDOES_FAILED_RUNS: bool = false;

    fn url(&self) -> &str {
        Postgres::url(self)
    }

    async fn reader(&self) -> Result<Self::Reader> {
        self.connection().await
    }

    fn read_with(reader: &mut Self::Reader) -> &mut PgConnection {
        reader
    }

    fn locked(lock: &mut LockGuard) -> &mut PgConnection {
        lock.connection()
    }

    async fn read(&self, desired: &Schema, scope: Scope) -> Result<Current> {
        self.read_current(desired, scope).await
    }

    async fn read_locked(
        &self,
        _lock: &mut LockGuard,
        desired: &Schema,
        scope: Scope,
    ) -> Result<Current> {
        // The catalog is read in a snapshot of its own, on a pool connection.
        self.read_current(desired, scope).await
    }

    async fn when_idle(&self, _reached: &str, _options: &MigrateOptions) -> Result<Idle> {
        let mut connection = self.connection().await?;
        let running =
            history::any_running(&mut connection, NS).await.map_err(|e| self.history_error(e))?;
        // A run is recorded `running`. If the lock is free, its migrator died (maybe after
        // its last step, before recording it): the locked path closes it. Held beyond the
        // grace, its migrator is alive: nothing to do here.
        Ok(if running { Idle::CloseUnderLock(LEFT_RUNNING_GRACE) } else { Idle::Done })
    }

    async fn lock(&self, timeout: Duration, _apply: &ApplyOptions) -> Result<LockGuard> {
        self.migration_lock(timeout).await
    }

    fn waited(lock: &LockGuard) -> Duration {
        lock.waited
    }

    async fn unlock(&self, lock: LockGuard, _commit: bool) -> Result<()> {
        // A failed release still ends with the lock's session.
        let _ = lock.release().await;
        Ok(())
    }

    async fn version_now(&self, checksum: &str) -> Result<String> {
        history::version_now(self.pool(), checksum).await.map_err(|e| self.history_error(e))
    }

    async fn preflight(
        &self,
        lock: &mut LockGuard,
        plan: &Plan,
        options: &MigrateOptions,
    ) -> Result<()> {
        if options.check_existing_rows {
            crate::connector::postgres::preflight::check(lock.connection(), plan).await?;
        }
        Ok(())
    }

    async fn execute(
        &self,
        lock: &mut LockGuard,
        plan: &Plan,
        version: &str,
        options: &MigrateOptions,
    ) -> Result<ApplyReport> {
        let history_error = |e| self.history_error(e);
        let description = plan.summary();
        history::insert(
            lock.connection(),
            NS,
            version,
            &plan.to_checksum,
            &description,
            &plan.to_json(),
            RunStatus::Running,
        )
        .await
        .map_err(history_error)?;
        // Going on from a run that failed (or was interrupted) on its way to this target:
        // this run owns the whole change, and its rollback undoes that run's steps too.
        let resumed = history::resumed_run(lock.connection(), NS, version, &plan.to_checksum)
            .await
            .map_err(history_error)?;
        if let Some(earlier) = resumed {
            sqlx::query(&history::progress_update(NS))
                .bind(version)
                .bind(serde_json::json!({ "resumes": earlier }).to_string())
                .execute(lock.connection())
                .await
                .map_err(history_error)?;
        }
        let started = Instant::now();
        let (update, lookup, done) = (
            history::progress_update(NS),
            history::progress_lookup(NS),
            history::progress_done(NS),
        );
        let recorder = Recorder { update: &update, lookup: &lookup, done: &done, version };
        let applied = self.apply_on(lock.connection(), plan, &options.apply, Some(recorder)).await;
        let elapsed = i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
        let (status, message) = match &applied {
            Ok(_) => (RunStatus::Applied, None),
            Err(error) => (RunStatus::Failed, Some(crate::error::report(error))),
        };
        let finished =
            history::finish(lock.connection(), NS, version, status, elapsed, message.as_deref())
                .await;
        let report = applied?;
        finished.map_err(history_error)?;
        Ok(report)
    }

    async fn undo(
        &self,
        lock: &mut LockGuard,
        _version: &str,
        plan: &Plan,
        _options: &MigrateOptions,
    ) -> Result<()> {
        self.rollback_on(lock.connection(), plan, &ApplyOptions::default()).await.map(|_| ())
    }

    async fn ensure_history(&self, conn: &mut PgConnection) -> Result<()> {
        history::ensure(conn, NS).await.map_err(|e| self.history_error(e))
    }

    async fn has_history(&self, conn: &mut PgConnection) -> Result<bool> {
        Ok(!history::is_empty(conn, NS).await.map_err(|e| self.history_error(e))?)
    }

    async fn history_rows(
        &self,
        conn: &mut PgConnection,
        limit: Option<usize>,
    ) -> Result<Vec<HistoryRow>> {
        history::list(conn, NS, limit).await.map_err(|e| self.history_error(e))
    }

    async fn next_version(&self, conn: &mut PgConnection, checksum: &str) -> Result<String> {
        history::next_version(conn, NS, checksum).await.map_err(|e| self.history_error(e))
    }

    async fn record_baseline(
        &self,
        conn: &mut PgConnection,
        version: &str,
        baseline: &Baseline,
    ) -> Result<()> {
        history::insert(
            conn,
            NS,
            version,
            &baseline.checksum,
            &baseline.description,
            &baseline.record,
            RunStatus::Baseline,
        )
        .await
        .map_err(|e| self.history_error(e))
    }

    async fn close_interrupted(
        &self,
        conn: &mut PgConnection,
        reached: Option<&str>,
    ) -> Result<Vec<(String, RunStatus)>> {
        history::close_interrupted(conn, NS, reached).await.map_err(|e| self.history_error(e))
    }

    async fn rolled_back_target(
        &self,
        conn: &mut PgConnection,
        checksum: &str,
    ) -> Result<Option<String>> {
        history::rolled_back_target(conn, NS, checksum).await.map_err(|e| self.history_error(e))
    }

    async fn set_plan(
        &self,
        conn: &mut PgConnection,
        version: &str,
        plan_json: &str,
    ) -> Result<()> {
        history::set_plan(conn, NS, version, plan_json).await.map_err(|e| self.history_error(e))
    }

    async fn stored_run(
        &self,
        conn: &mut PgConnection,
        version: &str,
    ) -> Result<Option<StoredRun>> {
        let error = |e| self.history_error(e);
        if !history::exists(&mut *conn, NS).await.map_err(error)? {
            return Ok(None);
        }
        history::stored_plan(conn, NS, version).await.map_err(error)
    }

    async fn still_to_undo(
        &self,
        conn: &mut PgConnection,
        version: &str,
        status: RunStatus,
        mut plan: Plan,
    ) -> Result<(Plan, Option<String>)> {
        let progress =
            history::progress(conn, NS, version).await.map_err(|e| self.history_error(e))?;
        if status != RunStatus::Applied {
            // A failed run: the steps it started (a non-transactional one may be half
            // done; its down is written to run again).
            let started = progress.started();
            plan.steps.retain(|step| started.contains(&step.number));
        }
        Ok((plan, progress.resumes))
    }

    async fn applied_after(&self, conn: &mut PgConnection, version: &str) -> Result<Vec<String>> {
        history::applied_after(conn, NS, version).await.map_err(|e| self.history_error(e))
    }

    async fn mark_rolled_back(&self, conn: &mut PgConnection, version: &str) -> Result<()> {
        history::mark_rolled_back(conn, NS, version).await.map_err(|e| self.history_error(e))
    }

    async fn purged(&self, conn: &mut PgConnection, version: &str) -> Result<bool> {
        history::purged(conn, NS, version).await.map_err(|e| self.history_error(e))
    }

    async fn older_than(&self, conn: &mut PgConnection, seconds: i64) -> Result<Vec<String>> {
        history::older_than(conn, NS, seconds).await.map_err(|e| self.history_error(e))
    }

    async fn versions(&self, conn: &mut PgConnection) -> Result<Vec<String>> {
        history::versions(conn, NS).await.map_err(|e| self.history_error(e))
    }

    async fn kept(&self, conn: &mut PgConnection) -> Result<Vec<Kept>> {
        // Tables first, then the enum types kept by dropping runs (tables may use them).
        let kept: Vec<(String, String, bool)> = sqlx::query_as(
            "SELECT n.nspname::text, c.relname::text, false FROM pg_class c \
             JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE c.relkind = 'r' \
             AND (starts_with(c.relname, '_dataflow_trash_') OR starts_with(c.relname, '_dataflow_backup_')) \
             UNION ALL \
             SELECT n.nspname::text, t.typname::text, true FROM pg_type t \
             JOIN pg_namespace n ON n.oid = t.typnamespace \
             WHERE t.typtype = 'e' AND starts_with(t.typname, '_dataflow_trash_')",
        )
        .fetch_all(conn)
        .await
        .map_err(|e| self.history_error(e))?;
        Ok(kept
            .into_iter()
            .map(|(namespace, name, is_type)| {
                let object = QualifiedName::in_schema(Some(&namespace), name.clone());
                Kept {
                    drop: format!(
                        "DROP {} IF EXISTS {}",
                        if is_type { "TYPE" } else { "TABLE" },
                        dataflow_schema::dialect::postgres::qualified(&object)
                    ),
                    shown: format!("{namespace}.{name}"),
                    name,
                }
            })
            .collect())
    }

    async fn drop_kept(&self, conn: &mut PgConnection, kept: &Kept) -> Result<bool> {
        match sqlx::query(&kept.drop).execute(conn).await {
            Ok(_) => Ok(true),
            // A kept table of a younger run still uses the type: it goes with a later purge.
            Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some("2BP01") => Ok(false),
            Err(e) => Err(self.history_error(e)),
        }
    }

    async fn mark_purged(
        &self,
        conn: &mut PgConnection,
        version: &str,
        dropped: &[String],
    ) -> Result<()> {
        history::mark_purged(conn, NS, version, dropped).await.map_err(|e| self.history_error(e))
    }
}
