//! The contract between the one migrator (`crate::migrate`) and a database: what the
//! migrator asks of a connector. Everything a database does its own way sits behind it
//! — reading the catalog, the migration lock, how a run executes and is recorded by that
//! database's crash-safety rules, the history table's SQL — and nothing else: modes, the
//! fast path, refusals, versions, adoption, orphans, data-keeping drops, rollback chains,
//! analysis and purge are decided once, in `crate::migrate`.
//!
//! The history methods take the connection type the history SQL runs on ([`Connector::
//! Conn`]): the lock's own connection under the lock ([`Connector::locked`]), a reader
//! ([`Connector::reader`]) without it.

use crate::error::{Error, Result};
use crate::history::{HistoryRow, RunStatus, StoredRun};
use crate::options::{ApplyOptions, MigrateOptions, Scope};
use crate::policy::Baseline;
use crate::report::ApplyReport;
use dataflow_schema::{Dialect, Plan, QualifiedName, Schema};
use std::time::Duration;

/// What a plan starts from, as one database reads it.
pub(crate) struct Current {
    /// The live schema (in model scope too: the plan scopes it to the models).
    pub schema: Schema,
    /// The desired schema as this server can hold it, when it had to change it
    /// (PostgreSQL: features of later releases dropped); `None` when it is the caller's.
    pub desired: Option<Schema>,
    /// Model scope: the tables history says dataflow created (orphans when no model
    /// names them any more).
    pub created: Vec<QualifiedName>,
    /// What the database holds that dataflow leaves alone (views, triggers…).
    pub unmanaged: Vec<String>,
    /// Warnings that matter only when the plan changes something (SQLite's journal mode).
    pub caveats: Vec<String>,
}

/// What to do when the plan is empty.
pub(crate) enum Idle {
    /// Nothing: return without the lock.
    Done,
    /// A run is recorded `running`: take the lock for at most this long and close it
    /// under the lock; a holder beyond that is a live migrator, so nothing to do.
    #[cfg_attr(not(feature = "postgres"), allow(dead_code))]
    CloseUnderLock(Duration),
}

/// A trash table, column backup or kept type a run left, as `purge` drops it.
pub(crate) struct Kept {
    /// Its bare name (`_dataflow_trash_<version>_…`): whose run it is.
    pub name: String,
    /// How it is named in messages and in the history's `purged` list.
    pub shown: String,
    /// The statement that drops it.
    pub drop: String,
}

/// The per-database half of the migrator.
pub(crate) trait Connector: Sync {
    /// The connection history SQL runs on.
    type Conn: Send;
    /// A connection for reads without the lock (history, analysis).
    type Reader: Send;
    /// The migration lock, held from before the re-plan until the run is recorded.
    type Lock: Send;

    /// Whose SQL the plans are written in.
    const DIALECT: Dialect;
    /// Whether a person confirms while the lock is held: PostgreSQL's advisory lock stops
    /// only other migrators, so the preview can show the run's own version. SQLite's
    /// write lock stops the application's writes, and MySQL's session waits, so there a
    /// person confirms first and the plan under the lock must not differ.
    const CONFIRMS_UNDER_LOCK: bool;
    /// Whether a `failed` run can be rolled back: on MySQL its finished steps committed one
    /// by one and are recorded; elsewhere a failed group rolled back whole.
    const UNDOES_FAILED_RUNS: bool;

    /// The URL, password removed, for messages.
    fn url(&self) -> &str;

    /// History errors name the database.
    fn history_error(&self, source: sqlx::Error) -> Error {
        Error::History { url: self.url().to_owned(), source }
    }

    /// A connection for reads without the lock.
    async fn reader(&self) -> Result<Self::Reader>;
    /// The history connection of a reader.
    fn read_with(reader: &mut Self::Reader) -> &mut Self::Conn;
    /// The history connection of the lock.
    fn locked(lock: &mut Self::Lock) -> &mut Self::Conn;

    /// The live schema and what to plan against, without the lock.
    async fn read(&self, desired: &Schema, scope: Scope) -> Result<Current>;
    /// The same under the lock (on SQLite, through the write transaction).
    async fn read_locked(
        &self,
        lock: &mut Self::Lock,
        desired: &Schema,
        scope: Scope,
    ) -> Result<Current>;

    /// Before the preview is planned (not for a dry run): MySQL waits while another
    /// migrator holds the lock, since its statements in flight would make it stale.
    async fn before_planning(&self, _options: &MigrateOptions) -> Result<()> {
        Ok(())
    }

    /// With nothing to do (the database is at the schema of checksum `reached`): whether
    /// a run left behind needs closing, and how.
    async fn when_idle(&self, _reached: &str, _options: &MigrateOptions) -> Result<Idle> {
        Ok(Idle::Done)
    }

    /// Takes the migration lock, waiting at most `timeout` (a timeout is
    /// [`Error::LockTimeout`]).
    async fn lock(&self, timeout: Duration, apply: &ApplyOptions) -> Result<Self::Lock>;
    /// How long taking `lock` took.
    fn waited(lock: &Self::Lock) -> Duration;
    /// Gives the lock up; with `commit`, what was done under it stays (SQLite commits its
    /// write transaction, checking foreign keys — that can fail), else it is undone where
    /// the database can.
    async fn unlock(&self, lock: Self::Lock, commit: bool) -> Result<()>;

    /// `YYYYMMDDHHMMSS_<8 hex of checksum>` by the server's clock: a run's version before
    /// uniqueness is checked (previews made before the lock name backups with it).
    async fn version_now(&self, checksum: &str) -> Result<String>;
    /// Under the lock, before anything is recorded: rows a new constraint would reject
    /// (PostgreSQL's constraint validator).
    async fn preflight(
        &self,
        _lock: &mut Self::Lock,
        _plan: &Plan,
        _options: &MigrateOptions,
    ) -> Result<()> {
        Ok(())
    }

    /// Runs `plan` as run `version` and records it by this database's rules (the row
    /// written `running` first and each step as it goes, or the row written in the
    /// plan's own transaction), ending `applied`, or `failed` with the error returned.
    async fn execute(
        &self,
        lock: &mut Self::Lock,
        plan: &Plan,
        version: &str,
        options: &MigrateOptions,
    ) -> Result<ApplyReport>;

    /// Undoes `plan` (the steps of one run still to undo) under the lock; refuses, changing
    /// nothing, when a step cannot be undone. Marking the run is the caller's.
    async fn undo(
        &self,
        lock: &mut Self::Lock,
        version: &str,
        plan: &Plan,
        options: &MigrateOptions,
    ) -> Result<()>;

    // The history table.

    /// Creates it if missing.
    async fn ensure_history(&self, conn: &mut Self::Conn) -> Result<()>;
    /// Whether it exists and holds a row.
    async fn has_history(&self, conn: &mut Self::Conn) -> Result<bool>;
    /// Rows, newest first (none when the table does not exist).
    async fn history_rows(
        &self,
        conn: &mut Self::Conn,
        limit: Option<usize>,
    ) -> Result<Vec<HistoryRow>>;
    /// The version for a run towards `checksum` (`version_now`, `_2`… on a collision).
    async fn next_version(&self, conn: &mut Self::Conn, checksum: &str) -> Result<String>;
    /// Records the adoption of existing tables as run `version`.
    async fn record_baseline(
        &self,
        conn: &mut Self::Conn,
        version: &str,
        baseline: &Baseline,
    ) -> Result<()>;
    /// Closes the runs a dead migrator left `running` (the caller holds the lock):
    /// `applied` when the database is at their target (`reached`) or every step is
    /// recorded done, else `failed`. Returns each with its new status.
    async fn close_interrupted(
        &self,
        conn: &mut Self::Conn,
        reached: Option<&str>,
    ) -> Result<Vec<(String, RunStatus)>>;
    /// A rolled-back run towards `checksum`, if any.
    async fn rolled_back_target(
        &self,
        conn: &mut Self::Conn,
        checksum: &str,
    ) -> Result<Option<String>>;
    /// Replaces the recorded plan of `version`.
    async fn set_plan(&self, conn: &mut Self::Conn, version: &str, plan_json: &str) -> Result<()>;
    /// The status and plan recorded for `version` (`None` when no such row, or no table).
    async fn stored_run(&self, conn: &mut Self::Conn, version: &str) -> Result<Option<StoredRun>>;
    /// Of a recorded `plan`, the steps `version` finished and did not undo yet, and the
    /// failed run it went on from (its finished steps are part of this run's change).
    async fn still_to_undo(
        &self,
        conn: &mut Self::Conn,
        version: &str,
        status: RunStatus,
        plan: Plan,
    ) -> Result<(Plan, Option<String>)>;
    /// Applied runs recorded after `version`, newest first.
    async fn applied_after(&self, conn: &mut Self::Conn, version: &str) -> Result<Vec<String>>;
    /// Marks `version` rolled back.
    async fn mark_rolled_back(&self, conn: &mut Self::Conn, version: &str) -> Result<()>;

    // Purge: the trash and backups of old runs.

    /// Whether `version`'s trash and backups were purged.
    async fn purged(&self, conn: &mut Self::Conn, version: &str) -> Result<bool>;
    /// Versions that started more than `seconds` ago, oldest first.
    async fn older_than(&self, conn: &mut Self::Conn, seconds: i64) -> Result<Vec<String>>;
    /// Every recorded version.
    async fn versions(&self, conn: &mut Self::Conn) -> Result<Vec<String>>;
    /// The trash tables, backups and kept types present, in the order to drop them.
    async fn kept(&self, conn: &mut Self::Conn) -> Result<Vec<Kept>>;
    /// Drops `kept`; `false` when something still uses it (a later purge takes it).
    async fn drop_kept(&self, conn: &mut Self::Conn, kept: &Kept) -> Result<bool>;
    /// Records that `version`'s `dropped` objects are gone.
    async fn mark_purged(
        &self,
        conn: &mut Self::Conn,
        version: &str,
        dropped: &[String],
    ) -> Result<()>;
}
