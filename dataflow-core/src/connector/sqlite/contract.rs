//! SQLite's side of the connector contract (`crate::connector::contract`). SQLite has one
//! writer and transactional DDL: the migration lock is the `BEGIN EXCLUSIVE` write
//! transaction ([`WriteLock`]), and the re-plan, every step and the history row happen
//! inside it — a run is recorded exactly when its changes commit, and a killed run leaves
//! nothing behind. So nothing is ever left `running`, and a failed run leaves no row.

use crate::connector::contract::{Connector, Current, Kept};
use crate::connector::sqlite::history::{self as history, NewRow};
use crate::connector::sqlite::{in_memory, report, Sqlite, WriteLock};
use crate::error::Result;
use crate::history::{HistoryRow, RunStatus, StoredRun};
use crate::options::{ApplyOptions, MigrateOptions, Scope};
use crate::policy::Baseline;
use crate::report::{ApplyReport, MigrationReport};
use crate::reverse::reversed;
use dataflow_schema::dialect::sqlite::quote_ident;
use dataflow_schema::{Dialect, Plan, Schema};
use sqlx::pool::PoolConnection;
use sqlx::SqliteConnection;
use std::time::{Duration, Instant};

/// DB-vs-DB on SQLite: brings the database to `target` (the whole database) through the
/// migrator. What `dataflow apply --db sqlite://…` runs.
pub async fn migrate_sqlite_to(
    db: &Sqlite,
    target: Schema,
    options: MigrateOptions,
) -> Result<MigrationReport> {
    crate::migrate::migrate(db, &target, Scope::Database, options).await
}

/// The warning a plan carries when other connections cannot read while it runs.
fn journal_caveat(journal: &str) -> String {
    format!(
        "SQLite journal_mode={journal}: while this plan runs, other connections can neither \
         read nor write the database (their reads wait up to their busy timeout, then fail \
         with \"database is locked\"); it waits for open reads to end (lock_timeout per \
         attempt, retried) and gives up, changing nothing, if they do not. \
         `PRAGMA journal_mode=WAL` (once, it is kept in the file) lets reads go on during a \
         migration"
    )
}

async fn created_tables(
    db: &Sqlite,
    conn: &mut SqliteConnection,
    desired: &Schema,
    scope: Scope,
) -> Result<Vec<dataflow_schema::QualifiedName>> {
    match scope {
        Scope::Models => {
            let runs = history::created_tables(conn).await.map_err(|e| db.history_error(e))?;
            Ok(crate::orphans::created_by(&runs, desired))
        }
        Scope::Database => Ok(Vec::new()),
    }
}

impl Connector for Sqlite {
    type Conn = SqliteConnection;
    type Reader = PoolConnection<sqlx::Sqlite>;
    type Lock = WriteLock;

    const DIALECT: Dialect = Dialect::Sqlite;
    const CONFIRMS_UNDER_LOCK: bool = false;
    const UNDOES_FAILED_RUNS: bool = false;

    fn url(&self) -> &str {
        Sqlite::url(self)
    }

    async fn reader(&self) -> Result<Self::Reader> {
        self.connection().await
    }

    fn read_with(reader: &mut Self::Reader) -> &mut SqliteConnection {
        reader
    }

    fn locked(lock: &mut WriteLock) -> &mut SqliteConnection {
        lock.connection()
    }

    async fn read(&self, desired: &Schema, scope: Scope) -> Result<Current> {
        // Given back before introspecting: an in-memory database has one connection.
        let (created, journal) = {
            let mut connection = self.connection().await?;
            let created = created_tables(self, &mut connection, desired, scope).await?;
            let journal: Option<String> = sqlx::query_scalar("PRAGMA journal_mode")
                .fetch_optional(&mut *connection)
                .await
                .ok()
                .flatten();
            (created, journal.unwrap_or_default().to_ascii_lowercase())
        };
        let current = self.introspect().await?;
        let caveats = if journal != "wal" && !in_memory(self.url()) {
            vec![journal_caveat(&journal)]
        } else {
            Vec::new()
        };
        Ok(Current {
            schema: current.schema,
            desired: None,
            created,
            unmanaged: current.unmanaged,
            caveats,
        })
    }

    async fn read_locked(
        &self,
        lock: &mut WriteLock,
        desired: &Schema,
        scope: Scope,
    ) -> Result<Current> {
        let created = created_tables(self, lock.connection(), desired, scope).await?;
        let current = lock.introspect(self.url()).await?;
        Ok(Current {
            schema: current.schema,
            desired: None,
            created,
            unmanaged: current.unmanaged,
            caveats: Vec::new(),
        })
    }

    async fn lock(&self, timeout: Duration, apply: &ApplyOptions) -> Result<WriteLock> {
        WriteLock::acquire(self, timeout, apply).await
    }

    fn waited(lock: &WriteLock) -> Duration {
        lock.waited
    }

    async fn unlock(&self, lock: WriteLock, commit: bool) -> Result<()> {
        if commit {
            lock.commit().await
        } else {
            lock.rollback().await;
            Ok(())
        }
    }

    async fn version_now(&self, checksum: &str) -> Result<String> {
        let stamp: String = sqlx::query_scalar("SELECT strftime('%Y%m%d%H%M%S', 'now')")
            .fetch_one(self.pool())
            .await
            .map_err(|e| self.history_error(e))?;
        Ok(format!("{stamp}_{}", &checksum[..8.min(checksum.len())]))
    }

    async fn execute(
        &self,
        lock: &mut WriteLock,
        plan: &Plan,
        version: &str,
        _options: &MigrateOptions,
    ) -> Result<ApplyReport> {
        let started = Instant::now();
        lock.run(plan).await?;
        let description = plan.summary();
        let row = NewRow {
            version,
            description: &description,
            checksum: &plan.to_checksum,
            plan: &plan.to_json(),
            status: RunStatus::Applied,
            execution_ms: i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX),
        };
        // In the plan's own transaction: recorded exactly when it commits.
        history::insert(lock.connection(), &row).await.map_err(|e| self.history_error(e))?;
        Ok(report(plan, started))
    }

    async fn undo(
        &self,
        lock: &mut WriteLock,
        _version: &str,
        plan: &Plan,
        _options: &MigrateOptions,
    ) -> Result<()> {
        lock.run(&reversed(plan)?).await
    }

    async fn ensure_history(&self, conn: &mut SqliteConnection) -> Result<()> {
        history::ensure(conn).await.map_err(|e| self.history_error(e))
    }

    async fn has_history(&self, conn: &mut SqliteConnection) -> Result<bool> {
        let error = |e| self.history_error(e);
        Ok(history::exists(&mut *conn).await.map_err(error)?
            && !history::is_empty(conn).await.map_err(error)?)
    }

    async fn history_rows(
        &self,
        conn: &mut SqliteConnection,
        limit: Option<usize>,
    ) -> Result<Vec<HistoryRow>> {
        history::list(conn, limit).await.map_err(|e| self.history_error(e))
    }

    async fn next_version(&self, conn: &mut SqliteConnection, checksum: &str) -> Result<String> {
        history::next_version(conn, checksum).await.map_err(|e| self.history_error(e))
    }

    async fn record_baseline(
        &self,
        conn: &mut SqliteConnection,
        version: &str,
        baseline: &Baseline,
    ) -> Result<()> {
        let row = NewRow {
            version,
            description: &baseline.description,
            checksum: &baseline.checksum,
            plan: &baseline.record,
            status: RunStatus::Baseline,
            execution_ms: 0,
        };
        history::insert(conn, &row).await.map_err(|e| self.history_error(e))
    }

    async fn close_interrupted(
        &self,
        _conn: &mut SqliteConnection,
        _reached: Option<&str>,
    ) -> Result<Vec<(String, RunStatus)>> {
        // A run is recorded in its own transaction: none is ever left `running`.
        Ok(Vec::new())
    }

    async fn rolled_back_target(
        &self,
        conn: &mut SqliteConnection,
        checksum: &str,
    ) -> Result<Option<String>> {
        history::rolled_back_target(conn, checksum).await.map_err(|e| self.history_error(e))
    }

    async fn set_plan(
        &self,
        conn: &mut SqliteConnection,
        version: &str,
        plan_json: &str,
    ) -> Result<()> {
        history::set_plan(conn, version, plan_json).await.map_err(|e| self.history_error(e))
    }

    async fn stored_run(
        &self,
        conn: &mut SqliteConnection,
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
        _conn: &mut SqliteConnection,
        _version: &str,
        _status: RunStatus,
        plan: Plan,
    ) -> Result<(Plan, Option<String>)> {
        // A run commits whole or not at all: all of an applied run, and nothing resumed.
        Ok((plan, None))
    }

    async fn applied_after(
        &self,
        conn: &mut SqliteConnection,
        version: &str,
    ) -> Result<Vec<String>> {
        history::applied_after(conn, version).await.map_err(|e| self.history_error(e))
    }

    async fn mark_rolled_back(&self, conn: &mut SqliteConnection, version: &str) -> Result<()> {
        history::mark_rolled_back(conn, version).await.map_err(|e| self.history_error(e))
    }

    async fn purged(&self, conn: &mut SqliteConnection, version: &str) -> Result<bool> {
        history::purged(conn, version).await.map_err(|e| self.history_error(e))
    }

    async fn older_than(&self, conn: &mut SqliteConnection, seconds: i64) -> Result<Vec<String>> {
        history::older_than(conn, seconds).await.map_err(|e| self.history_error(e))
    }

    async fn versions(&self, conn: &mut SqliteConnection) -> Result<Vec<String>> {
        history::versions(conn).await.map_err(|e| self.history_error(e))
    }

    async fn kept(&self, conn: &mut SqliteConnection) -> Result<Vec<Kept>> {
        let tables: Vec<String> = sqlx::query_scalar(
            "SELECT name FROM sqlite_schema WHERE type = 'table' \
             AND (name LIKE '\\_dataflow\\_trash\\_%' ESCAPE '\\' \
                  OR name LIKE '\\_dataflow\\_backup\\_%' ESCAPE '\\')",
        )
        .fetch_all(conn)
        .await
        .map_err(|e| self.history_error(e))?;
        Ok(tables
            .into_iter()
            .map(|name| Kept {
                drop: format!("DROP TABLE {}", quote_ident(&name)),
                shown: name.clone(),
                name,
            })
            .collect())
    }

    async fn drop_kept(&self, conn: &mut SqliteConnection, kept: &Kept) -> Result<bool> {
        sqlx::query(&kept.drop).execute(conn).await.map_err(|e| self.history_error(e))?;
        Ok(true)
    }

    async fn mark_purged(
        &self,
        conn: &mut SqliteConnection,
        version: &str,
        dropped: &[String],
    ) -> Result<()> {
        history::mark_purged(conn, version, dropped).await.map_err(|e| self.history_error(e))
    }
}
