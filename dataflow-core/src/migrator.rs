//! The migrator: what a service calls at startup on every replica.
//!
//! `auto_migrate` takes the migration lock on a dedicated connection, **re-introspects and
//! re-plans under the lock** (a replica that waited finds nothing to do), checks the plan
//! against the options (risk, reviewed checksum), records a history row, applies the plan
//! group by group, marks the row, and releases the lock on every path.

use crate::backfill::Recorder;
use crate::error::{Error, Result};
use crate::history::{self, status, HistoryRow};
use crate::lock::{LockError, LockGuard};
use crate::orphans;
use crate::postgres::{ApplyOptions, ApplyReport, Postgres};
use crate::sqlite::Sqlite;
use crate::sqlite_migrator::Scope;
use dataflow_schema::introspect::postgres::DEFAULT_NAMESPACE;
use dataflow_schema::{
    plan_offline, schema_of, Dialect, Model, ModelDef, Operation, Plan, PlanOptions, RiskLevel,
    SafetySummary, Schema,
};
use serde::Serialize;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tracing::Instrument;

/// Asked before applying in [`Mode::Interactive`], after the preview was printed:
/// `true` applies.
pub type ConfirmHook = Arc<dyn Fn(&Plan) -> bool + Send + Sync>;

/// How `auto_migrate` behaves.
#[derive(Clone)]
pub enum Mode {
    /// Print the preview on stderr, then ask the hook ([`Mode::prompt`] asks
    /// `Apply these changes? [y/N]` on the terminal).
    Interactive(ConfirmHook),
    /// Plan and report; change nothing, take no lock.
    DryRun,
    /// Apply without asking (what a replica does).
    AutoConfirm,
    /// Migrate nothing: wait until the schema matches (another process migrates).
    WaitOnly,
}

impl Mode {
    /// Interactive with the terminal prompt `Apply these changes? [y/N]` (no terminal: no).
    pub fn prompt() -> Mode {
        Mode::Interactive(Arc::new(|_| crate::terminal::confirm("Apply these changes?")))
    }

    /// Interactive without a question: prints the preview (so logs show what ran), then
    /// applies. What `dataflow apply --yes` does.
    pub fn preview_and_apply() -> Mode {
        Mode::Interactive(Arc::new(|_| true))
    }

    /// The default (DESIGN.md): [`Mode::prompt`] when stdin and stderr are terminals, so a
    /// developer sees and confirms; [`Mode::AutoConfirm`] otherwise, so a replica never
    /// hangs on a prompt.
    pub fn for_terminal() -> Mode {
        if crate::terminal::is_interactive() {
            Mode::prompt()
        } else {
            Mode::AutoConfirm
        }
    }
}

impl std::fmt::Debug for Mode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Mode::Interactive(_) => "Interactive",
            Mode::DryRun => "DryRun",
            Mode::AutoConfirm => "AutoConfirm",
            Mode::WaitOnly => "WaitOnly",
        })
    }
}

/// Options of [`DataFlow::auto_migrate`] (defaults from DESIGN.md).
#[derive(Debug, Clone)]
pub struct MigrateOptions {
    /// Default: [`Mode::for_terminal`] (asks on a terminal, applies unasked elsewhere).
    pub mode: Mode,
    /// The highest risk applied without refusing (default MEDIUM).
    pub max_risk: RiskLevel,
    /// A reviewed plan's checksum: refuse if the plan differs.
    pub expected_plan: Option<String>,
    /// How long to wait for another migrator's lock (default 15 min).
    pub migration_lock_timeout: Duration,
    /// For [`Mode::WaitOnly`]: give up after this long (default: wait as long as the lock).
    pub deadline: Option<Duration>,
    /// Lock timeout and retries of each step.
    pub apply: ApplyOptions,
    /// Size thresholds for the shown risk.
    pub plan: PlanOptions,
    /// Re-apply a target that was rolled back (otherwise refused: the next replica would
    /// silently undo the rollback).
    pub force: bool,
    /// Only these tables (empty: all).
    pub include_tables: Vec<String>,
    /// Never these operations (they stay pending).
    pub exclude_operations: Vec<Operation>,
    /// Drop tables dataflow created that no model names any more (HIGH, kept in the trash).
    pub drop_orphans: bool,
    /// Keep dropped tables in the trash and dropped columns in backups so a rollback
    /// restores their data (default true).
    pub backup_before_destructive: bool,
    /// The preview (Interactive and DryRun modes) shows every step's SQL (default true).
    pub show_sql: bool,
    /// The preview shows the rollback plan (default true).
    pub show_rollback_plan: bool,
    /// Before changing anything, count the existing rows that would break each CHECK,
    /// FOREIGN KEY, UNIQUE and NOT NULL the plan adds to a populated table, and refuse
    /// with the count and a sample (default true; each check reads the table once).
    pub check_existing_rows: bool,
}

impl Default for MigrateOptions {
    fn default() -> Self {
        MigrateOptions {
            mode: Mode::for_terminal(),
            max_risk: RiskLevel::Medium,
            expected_plan: None,
            migration_lock_timeout: Duration::from_secs(15 * 60),
            deadline: None,
            apply: ApplyOptions::default(),
            plan: PlanOptions::default(),
            force: false,
            include_tables: Vec::new(),
            exclude_operations: Vec::new(),
            drop_orphans: false,
            backup_before_destructive: true,
            show_sql: true,
            show_rollback_plan: true,
            check_existing_rows: true,
        }
    }
}

/// What `auto_migrate` did.
#[derive(Debug, Clone, Serialize)]
pub struct MigrationReport {
    /// The history version written, when something was applied.
    pub version: Option<String>,
    /// Whether the plan was applied.
    pub applied: bool,
    /// The plan (empty when there was nothing to do).
    pub plan: Plan,
    /// Time spent waiting for the migration lock.
    pub lock_wait_ms: u128,
    /// Lock-timeout retries of steps.
    pub retries: u32,
    /// Per group (transaction) of steps: how long it took.
    pub timings: Vec<crate::postgres::GroupTiming>,
    /// Fills run in keyset batches: rows, batches, vacuums, time, where each resumed.
    pub backfills: Vec<crate::backfill::BackfillStats>,
    /// Total time.
    pub elapsed_ms: u128,
    /// What the plan could lose and block (the preview's safety summary).
    pub safety: SafetySummary,
}

/// What rolling back a run would do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RollbackAnalysis {
    /// Every step has down SQL.
    pub fully_reversible: bool,
    /// Values the run changed or deleted that the rollback does not restore.
    pub data_loss_warning: Option<String>,
    /// The steps that cannot be undone, and why.
    pub irreversible_ops: Vec<String>,
}

impl RollbackAnalysis {
    /// What rolling back `plan` would do.
    pub fn of(plan: &Plan) -> RollbackAnalysis {
        let irreversible_ops: Vec<String> = plan
            .steps
            .iter()
            .filter_map(|s| match &s.down {
                dataflow_schema::Rollback::Irreversible { reason } => Some(format!(
                    "step {} · {} · {}: {reason}",
                    s.number,
                    s.table,
                    s.operation.label()
                )),
                dataflow_schema::Rollback::Sql(_) => None,
            })
            .collect();
        let lossy: Vec<String> = plan
            .steps
            .iter()
            .filter(|s| s.risk.hazards.contains(&dataflow_schema::Hazard::DeletesData))
            .map(|s| format!("step {} · {} · {}", s.number, s.table, s.operation.label()))
            .collect();
        RollbackAnalysis {
            fully_reversible: irreversible_ops.is_empty(),
            data_loss_warning: (!lossy.is_empty()).then(|| {
                format!(
                    "values these steps changed or deleted are not restored: {}",
                    lossy.join(", ")
                )
            }),
            irreversible_ops,
        }
    }
}

fn lock_error(db: &Postgres, timeout: Duration, error: LockError) -> Error {
    match error {
        LockError::Timeout { holder } => {
            Error::LockTimeout { waited_ms: timeout.as_millis(), holder }
        }
        LockError::Database(source) => Error::Connect { url: db.url().to_owned(), source },
    }
}

/// Refuses a plan with steps above `max_risk` (CORRECTNESS counts as HIGH), listing them.
pub(crate) fn check_risk(plan: &Plan, max_risk: RiskLevel) -> Result<()> {
    let above: Vec<&dataflow_schema::Step> =
        plan.steps.iter().filter(|s| s.risk.policy_level() > max_risk).collect();
    let Some(needed) = above.iter().map(|s| s.risk.policy_level()).max() else { return Ok(()) };
    let steps = above
        .iter()
        .map(|s| {
            let level = s.risk.policy_level();
            let why = s.risk.reasons.first().map(|r| format!(": {r}")).unwrap_or_default();
            format!("step {} · {} · {} · {level}{why}", s.number, s.table, s.operation.label())
        })
        .collect();
    Err(Error::RiskRefused { max_risk, needed, steps })
}

/// What the database should look like.
#[derive(Debug, Clone)]
enum Target {
    /// Model mode: only tables the models name are touched.
    Models(Schema),
    /// DB-vs-DB mode: the target is the whole namespace.
    Namespace(Schema),
}

/// The database a [`DataFlow`] works on.
#[derive(Debug, Clone)]
pub enum Database {
    /// PostgreSQL.
    Postgres(Postgres),
    /// SQLite (a file, or in memory).
    Sqlite(Sqlite),
    /// MySQL or MariaDB.
    Mysql(crate::mysql::Mysql),
}

/// A database and the models it should match.
#[derive(Debug, Clone)]
pub struct DataFlow {
    database: Database,
    models: Vec<ModelDef>,
    history_namespace: String,
}

impl DataFlow {
    /// Connects to `url` — `postgres://user@host/db`, `mysql://user@host/db` (or
    /// `mariadb://…`), `sqlite://path/to/file.db` (created when missing) or
    /// `sqlite::memory:` — or to `DATABASE_URL` when `url` is empty.
    pub async fn connect(url: &str) -> Result<DataFlow> {
        let url = match url {
            "" => std::env::var("DATABASE_URL").map_err(|_| Error::UnsupportedUrl {
                url: "(none: pass a URL or set DATABASE_URL)".into(),
            })?,
            url => url.to_owned(),
        };
        let database = if url.starts_with("sqlite:") {
            Database::Sqlite(Sqlite::connect(&url).await?)
        } else if url.starts_with("mysql://") || url.starts_with("mariadb://") {
            Database::Mysql(crate::mysql::Mysql::connect(&url).await?)
        } else {
            Database::Postgres(Postgres::connect(&url).await?)
        };
        Ok(DataFlow {
            database,
            models: Vec::new(),
            history_namespace: DEFAULT_NAMESPACE.to_owned(),
        })
    }

    /// Uses the application's own pool (the migrator still takes one connection for its lock).
    pub fn from_pool(pool: sqlx::PgPool) -> DataFlow {
        DataFlow::from_db(Postgres::from_pool(pool))
    }

    /// Uses the application's own SQLite pool (the migrator takes one connection of it for
    /// its write transaction).
    pub fn from_sqlite_pool(pool: sqlx::SqlitePool) -> DataFlow {
        DataFlow {
            database: Database::Sqlite(Sqlite::from_pool(pool)),
            models: Vec::new(),
            history_namespace: DEFAULT_NAMESPACE.to_owned(),
        }
    }

    /// Uses the application's own MySQL/MariaDB pool to read the schema (the migrator
    /// opens its own connection for the lock and the DDL). Errors when the pool's
    /// options name no database.
    pub fn from_mysql_pool(pool: sqlx::MySqlPool) -> Result<DataFlow> {
        let db = crate::mysql::Mysql::from_pool(pool).ok_or_else(|| Error::UnsupportedUrl {
            url: "a MySQL pool without a database (name it in the URL: mysql://user@host/DATABASE)"
                .into(),
        })?;
        Ok(DataFlow {
            database: Database::Mysql(db),
            models: Vec::new(),
            history_namespace: DEFAULT_NAMESPACE.to_owned(),
        })
    }

    fn from_db(db: Postgres) -> DataFlow {
        DataFlow {
            database: Database::Postgres(db),
            models: Vec::new(),
            history_namespace: DEFAULT_NAMESPACE.to_owned(),
        }
    }

    /// Registers a model.
    pub fn model<M: Model>(mut self) -> DataFlow {
        self.models.push(ModelDef::of::<M>());
        self
    }

    /// Registers model definitions.
    pub fn models(mut self, models: impl IntoIterator<Item = ModelDef>) -> DataFlow {
        self.models.extend(models);
        self
    }

    /// The database.
    pub fn database(&self) -> &Database {
        &self.database
    }

    /// The PostgreSQL connector, when the database is PostgreSQL.
    pub fn postgres(&self) -> Option<&Postgres> {
        match &self.database {
            Database::Postgres(db) => Some(db),
            Database::Sqlite(_) | Database::Mysql(_) => None,
        }
    }

    /// The SQLite connector, when the database is SQLite.
    pub fn sqlite(&self) -> Option<&Sqlite> {
        match &self.database {
            Database::Sqlite(db) => Some(db),
            Database::Postgres(_) | Database::Mysql(_) => None,
        }
    }

    /// The MySQL/MariaDB connector, when the database is one.
    pub fn mysql(&self) -> Option<&crate::mysql::Mysql> {
        match &self.database {
            Database::Mysql(db) => Some(db),
            Database::Postgres(_) | Database::Sqlite(_) => None,
        }
    }

    /// The PostgreSQL connector, or an error naming what SQLite does not support yet.
    pub(crate) fn pg(&self, what: &str) -> Result<&Postgres> {
        self.postgres().ok_or_else(|| Error::NotAvailable {
            what: what.to_owned(),
            database: if self.sqlite().is_some() { "SQLite" } else { "MySQL" },
        })
    }

    /// The desired schema of the registered models.
    pub fn desired_schema(&self) -> Result<Schema> {
        Ok(schema_of(&self.models)?)
    }

    /// Brings the database to the registered models (see the module docs).
    pub async fn auto_migrate(&self, options: MigrateOptions) -> Result<MigrationReport> {
        let desired = self.desired_schema()?;
        let outcome = match &self.database {
            Database::Postgres(db) => {
                migrate(db, Target::Models(desired), &self.history_namespace, options).await
            }
            Database::Sqlite(db) => {
                crate::sqlite_migrator::migrate(db, &desired, Scope::Models, options).await
            }
            Database::Mysql(db) => {
                crate::mysql_migrator::migrate(db, &desired, Scope::Models, options).await
            }
        };
        outcome.map_err(|error| crate::error::explain(error, &self.url()))
    }

    /// The plan `auto_migrate` would apply now with the default options (no lock, nothing
    /// changed), with its warnings (orphans, tables no model names).
    pub async fn plan(&self) -> Result<Plan> {
        let desired = self.desired_schema()?;
        match &self.database {
            Database::Postgres(db) => {
                plan_for(db, &Target::Models(desired), &MigrateOptions::default()).await
            }
            Database::Sqlite(db) => {
                crate::sqlite_migrator::plan(
                    db,
                    &desired,
                    Scope::Models,
                    &MigrateOptions::default(),
                )
                .await
            }
            Database::Mysql(db) => {
                crate::mysql_migrator::plan(db, &desired, Scope::Models, &MigrateOptions::default())
                    .await
            }
        }
    }

    /// Drift: what differs between the models and the database now (empty plan = in
    /// sync), with orphan and unmanaged-object warnings — the same plan as
    /// [`DataFlow::plan`].
    pub async fn status(&self) -> Result<Plan> {
        self.plan().await
    }

    /// The steps `auto_migrate` would apply now.
    pub async fn pending_migrations(&self) -> Result<Vec<dataflow_schema::Step>> {
        Ok(self.status().await?.steps)
    }

    /// History rows, newest first.
    pub async fn history(&self, limit: Option<usize>) -> Result<Vec<HistoryRow>> {
        let db = match &self.database {
            Database::Postgres(db) => db,
            Database::Sqlite(db) => return crate::sqlite_migrator::history_rows(db, limit).await,
            Database::Mysql(db) => return crate::mysql_migrator::history_rows(db, limit).await,
        };
        let mut connection = self.connection().await?;
        history::list(&mut connection, &self.history_namespace, limit)
            .await
            .map_err(|source| Error::History { url: db.url().to_owned(), source })
    }

    /// The namespace of the history table.
    pub(crate) fn history_namespace(&self) -> &str {
        &self.history_namespace
    }

    /// DB-vs-DB through this flow's history: brings the default namespace to `target`.
    pub(crate) async fn migrate_namespace(
        &self,
        target: Schema,
        options: MigrateOptions,
    ) -> Result<MigrationReport> {
        let db = self.pg("this operation")?;
        migrate(db, Target::Namespace(target), &self.history_namespace, options).await
    }

    /// Undoes an applied run with its recorded down steps (under the migration lock):
    /// dropped tables come back from the trash and dropped columns from their backups.
    /// Refuses, changing nothing, when a step cannot be undone.
    pub async fn rollback_migration(&self, version: &str) -> Result<()> {
        let span = tracing::info_span!(target: "dataflow::migrate", "rollback", version);
        if let Database::Sqlite(db) = &self.database {
            return crate::sqlite_migrator::rollback_migration(db, version).instrument(span).await;
        }
        if let Database::Mysql(db) = &self.database {
            let options = MigrateOptions::default();
            return crate::mysql_migrator::rollback_migration(db, version, &options)
                .instrument(span)
                .await;
        }
        async {
            let mut guard = self.lock(Duration::from_secs(15 * 60)).await?;
            let outcome = self.rollback_locked(&mut guard, version).await;
            let _ = guard.release().await;
            outcome
        }
        .instrument(span)
        .await
        .map_err(crate::error::explain_connection_loss)
    }

    /// Rolls back every applied run newer than `version`, newest first.
    pub async fn rollback_to_version(&self, version: &str) -> Result<Vec<String>> {
        if let Database::Sqlite(db) = &self.database {
            return crate::sqlite_migrator::rollback_to_version(db, version).await;
        }
        if let Database::Mysql(db) = &self.database {
            let options = MigrateOptions::default();
            return crate::mysql_migrator::rollback_to_version(db, version, &options).await;
        }
        let mut guard = self.lock(Duration::from_secs(15 * 60)).await?;
        let outcome = async {
            let newer =
                history::applied_after(guard.connection(), &self.history_namespace, version)
                    .await
                    .map_err(|source| Error::History { url: self.url(), source })?;
            for later in &newer {
                self.rollback_locked(&mut guard, later).await?;
            }
            Ok(newer)
        }
        .await;
        let _ = guard.release().await;
        outcome
    }

    /// What rolling back `version` would do: whether every step can be undone, and
    /// which cannot.
    pub async fn analyze_rollback(&self, version: &str) -> Result<RollbackAnalysis> {
        if let Database::Sqlite(db) = &self.database {
            return crate::sqlite_migrator::analyze_rollback(db, version).await;
        }
        if let Database::Mysql(db) = &self.database {
            return crate::mysql_migrator::analyze_rollback(db, version).await;
        }
        let mut connection = self.connection().await?;
        let plan = self.stored_plan(&mut connection, version).await?.1;
        Ok(RollbackAnalysis::of(&plan))
    }

    /// The database's URL (password removed), for messages.
    fn url(&self) -> String {
        match &self.database {
            Database::Postgres(db) => db.url().to_owned(),
            Database::Sqlite(db) => db.url().to_owned(),
            Database::Mysql(db) => db.url().to_owned(),
        }
    }

    pub(crate) async fn lock(&self, timeout: Duration) -> Result<LockGuard> {
        let connection = self.connection().await?.detach();
        let db = self.pg("the PostgreSQL migration lock")?;
        LockGuard::acquire(connection, timeout).await.map_err(|e| lock_error(db, timeout, e))
    }

    async fn stored_plan(
        &self,
        connection: &mut sqlx::PgConnection,
        version: &str,
    ) -> Result<(String, Plan)> {
        let history_error = |source| Error::History { url: self.url(), source };
        let (row_status, json) = history::stored_plan(connection, &self.history_namespace, version)
            .await
            .map_err(history_error)?
            .ok_or_else(|| Error::UnknownVersion { version: version.to_owned() })?;
        if json.starts_with("{\"explicit\"") {
            return Err(Error::ExplicitPlan { version: version.to_owned() });
        }
        let plan: Plan = serde_json::from_str(&json)
            .map_err(|source| Error::CorruptHistory { version: version.to_owned(), source })?;
        Ok((row_status, plan))
    }

    /// Drops the trash tables and column backups of runs started longer than `older_than`
    /// ago (under the lock) and returns their names. Those runs can no longer be rolled
    /// back with their data, so their rollback is refused from then on.
    pub async fn purge(&self, older_than: Duration) -> Result<Vec<String>> {
        if let Database::Sqlite(db) = &self.database {
            return crate::sqlite_migrator::purge(db, older_than).await;
        }
        let mut guard = self.lock(Duration::from_secs(15 * 60)).await?;
        let outcome = self.purge_locked(&mut guard, older_than).await;
        let _ = guard.release().await;
        outcome
    }

    async fn purge_locked(
        &self,
        guard: &mut LockGuard,
        older_than: Duration,
    ) -> Result<Vec<String>> {
        let history_error = |source| Error::History { url: self.url(), source };
        let seconds = i64::try_from(older_than.as_secs()).unwrap_or(i64::MAX);
        let versions = history::older_than(guard.connection(), &self.history_namespace, seconds)
            .await
            .map_err(history_error)?;
        let all = history::versions(guard.connection(), &self.history_namespace)
            .await
            .map_err(history_error)?;
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
        .fetch_all(guard.connection())
        .await
        .map_err(history_error)?;
        let mut dropped = Vec::new();
        for version in versions {
            let objects: Vec<(String, String, bool)> = kept
                .iter()
                .filter(|(_, name, _)| history::owner(name, &all) == Some(&version))
                .cloned()
                .collect();
            if objects.is_empty() {
                continue;
            }
            let mut names = Vec::new();
            for (namespace, name, is_type) in objects {
                let object =
                    dataflow_schema::QualifiedName::in_schema(Some(&namespace), name.clone());
                let drop = format!(
                    "DROP {} IF EXISTS {}",
                    if is_type { "TYPE" } else { "TABLE" },
                    dataflow_schema::dialect::postgres::qualified(&object)
                );
                let dropped = sqlx::query(&drop).execute(guard.connection()).await;
                match dropped {
                    // A kept table of a younger run still uses the type: it goes with a
                    // later purge.
                    Err(sqlx::Error::Database(e))
                        if is_type && e.code().as_deref() == Some("2BP01") =>
                    {
                        continue
                    }
                    other => other.map_err(history_error)?,
                };
                names.push(format!("{namespace}.{name}"));
            }
            history::mark_purged(guard.connection(), &self.history_namespace, &version, &names)
                .await
                .map_err(history_error)?;
            dropped.extend(names);
        }
        Ok(dropped)
    }

    async fn rollback_locked(&self, guard: &mut LockGuard, version: &str) -> Result<()> {
        let purged = history::purged(guard.connection(), &self.history_namespace, version)
            .await
            .map_err(|source| Error::History { url: self.url(), source })?;
        if purged {
            return Err(Error::Purged { version: version.to_owned() });
        }
        let (row_status, plan) = self.stored_plan(guard.connection(), version).await?;
        if row_status != status::APPLIED {
            return Err(Error::NotRollbackable { version: version.to_owned(), status: row_status });
        }
        self.pg("rollback")?.rollback(&plan, &ApplyOptions::default()).await?;
        history::mark_rolled_back(guard.connection(), &self.history_namespace, version)
            .await
            .map_err(|source| Error::History { url: self.url(), source })
    }

    async fn connection(&self) -> Result<sqlx::pool::PoolConnection<sqlx::Postgres>> {
        let db = self.pg("this operation")?;
        db.connection().await
    }
}

/// DB-vs-DB: brings the database to `target` (the whole namespace) through the migrator:
/// lock, re-plan under the lock, history, apply. What `dataflow apply` runs.
pub async fn migrate_to(
    db: &Postgres,
    target: Schema,
    options: MigrateOptions,
) -> Result<MigrationReport> {
    migrate(db, Target::Namespace(target), DEFAULT_NAMESPACE, options)
        .await
        .map_err(|error| crate::error::explain(error, db.url()))
}

async fn plan_for(db: &Postgres, target: &Target, options: &MigrateOptions) -> Result<Plan> {
    let mut plan = match target {
        Target::Models(desired) => plan_models_with_orphans(db, desired, options).await?,
        Target::Namespace(desired) => {
            let mut namespaces = vec![DEFAULT_NAMESPACE.to_owned()];
            let existing = db.user_namespaces().await?;
            namespaces.extend(desired.namespaces.iter().filter(|n| existing.contains(n)).cloned());
            let current = db.introspect(&namespaces).await?;
            plan_offline(&current.schema, desired, Dialect::Postgres, &options.plan)?
        }
    };
    retain_selected(&mut plan, options);
    Ok(plan)
}

/// Keeps the steps `include_tables` and `exclude_operations` allow.
pub(crate) fn retain_selected(plan: &mut Plan, options: &MigrateOptions) {
    if !options.include_tables.is_empty() || !options.exclude_operations.is_empty() {
        let included = |table: &str| {
            options.include_tables.is_empty()
                || options
                    .include_tables
                    .iter()
                    .any(|t| t == table || table.rsplit('.').next() == Some(t))
        };
        plan.retain(|step| {
            included(&step.table) && !options.exclude_operations.contains(&step.operation)
        });
    }
}

/// Model mode, plus orphans: tables history says dataflow created that no model names
/// any more are reported, and dropped (HIGH) only with `drop_orphans`.
async fn plan_models_with_orphans(
    db: &Postgres,
    desired: &Schema,
    options: &MigrateOptions,
) -> Result<Plan> {
    let existing = db.user_namespaces().await?;
    let mut namespaces = vec![DEFAULT_NAMESPACE.to_owned()];
    namespaces.extend(desired.namespaces.iter().filter(|n| existing.contains(n)).cloned());
    let current = db.introspect(&namespaces).await?;
    let created = {
        let mut connection = db.connection().await?;
        history::created_tables(&mut connection, DEFAULT_NAMESPACE)
            .await
            .map_err(|source| Error::History { url: db.url().to_owned(), source })?
    };
    let mut plan =
        orphans::plan_models(&current.schema, desired, &created, Dialect::Postgres, options)?;
    if !current.unmanaged.is_empty() {
        plan.warnings
            .push(format!("not managed by dataflow, left alone: {}", current.unmanaged.join(", ")));
    }
    Ok(plan)
}

/// Everything a run does happens inside one `migrate` span (target `dataflow::migrate`):
/// its events, and the `migration_lock`, `group` and `step` spans inside it.
async fn migrate(
    db: &Postgres,
    target: Target,
    history_namespace: &str,
    options: MigrateOptions,
) -> Result<MigrationReport> {
    let span = tracing::info_span!(
        target: "dataflow::migrate",
        "migrate",
        mode = ?options.mode,
        max_risk = %options.max_risk
    );
    migrate_in_span(db, target, history_namespace, options).instrument(span).await
}

async fn migrate_in_span(
    db: &Postgres,
    target: Target,
    history_namespace: &str,
    options: MigrateOptions,
) -> Result<MigrationReport> {
    let started = Instant::now();
    let report =
        |plan: Plan, version, lock_wait: Duration, applied: Option<ApplyReport>| MigrationReport {
            version,
            applied: applied.is_some(),
            lock_wait_ms: lock_wait.as_millis(),
            retries: applied.as_ref().map_or(0, |a| a.retries),
            timings: applied.as_ref().map(|a| a.timings.clone()).unwrap_or_default(),
            backfills: applied.map(|a| a.backfills).unwrap_or_default(),
            elapsed_ms: started.elapsed().as_millis(),
            safety: plan.safety(),
            plan,
        };
    match &options.mode {
        Mode::DryRun => {
            let plan = plan_for(db, &target, &options).await?;
            print_preview(&as_it_would_run(db, &plan, &options).await?, &options);
            return Ok(report(plan, None, Duration::ZERO, None));
        }
        Mode::WaitOnly => {
            let deadline = options.deadline.unwrap_or(options.migration_lock_timeout);
            loop {
                let plan = plan_for(db, &target, &options).await?;
                if plan.is_empty() {
                    return Ok(report(plan, None, Duration::ZERO, None));
                }
                if started.elapsed() >= deadline {
                    return Err(Error::Deadline {
                        waited_ms: started.elapsed().as_millis(),
                        pending: plan.steps.len(),
                    });
                }
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
        }
        Mode::AutoConfirm | Mode::Interactive(_) => {}
    }
    // Fast path for the common startup: nothing to do, so no lock and no history (every
    // replica of a current deployment returns here). Anything else is re-planned under
    // the lock below, since another migrator may have changed the schema meanwhile.
    let preview = plan_for(db, &target, &options).await?;
    tracing::debug!(
        target: "dataflow::migrate",
        steps = preview.steps.len(),
        ms = started.elapsed().as_millis() as u64,
        "planned"
    );
    let mut lock_timeout = options.migration_lock_timeout;
    if preview.is_empty() && !needs_baseline(db, &target).await? {
        if !left_running(db, history_namespace).await? {
            return Ok(report(preview, None, Duration::ZERO, None));
        }
        // A run is recorded `running`. If the lock is free, its migrator died (maybe
        // after its last step, before recording it): the locked path closes it. If the
        // lock is held, that migrator is alive, and there is nothing to do here.
        lock_timeout = Duration::ZERO;
    }

    let connection = db.connection().await?.detach();
    let mut guard = match LockGuard::acquire(connection, lock_timeout).await {
        Ok(guard) => guard,
        Err(LockError::Timeout { .. }) if lock_timeout.is_zero() => {
            return Ok(report(preview, None, Duration::ZERO, None));
        }
        Err(error) => return Err(lock_error(db, lock_timeout, error)),
    };
    let lock_wait = guard.waited;
    let outcome = migrate_locked(db, &target, history_namespace, &options, &mut guard).await;
    // Released on every path; an error here still leaves the lock to die with the session.
    let _ = guard.release().await;
    let (plan, version, applied) = outcome?;
    let report = report(plan, version, lock_wait, applied);
    tracing::info!(
        target: "dataflow::migrate",
        version = report.version.as_deref().unwrap_or("-"),
        steps = report.plan.steps.len(),
        retries = report.retries,
        lock_wait_ms = report.lock_wait_ms as u64,
        ms = report.elapsed_ms as u64,
        "migration finished"
    );
    Ok(report)
}

/// Whether a run is recorded `running` (alive, or left by a migrator that died).
async fn left_running(db: &Postgres, history_namespace: &str) -> Result<bool> {
    let mut connection = db.connection().await?;
    history::any_running(&mut connection, history_namespace)
        .await
        .map_err(|source| Error::History { url: db.url().to_owned(), source })
}

/// Whether this is a first run on a database that already holds some of the models'
/// tables: then the migrator takes the lock to record a baseline.
async fn needs_baseline(db: &Postgres, target: &Target) -> Result<bool> {
    let Target::Models(desired) = target else { return Ok(false) };
    let mut connection = db.connection().await?;
    let empty = history::is_empty(&mut connection, DEFAULT_NAMESPACE)
        .await
        .map_err(|source| Error::History { url: db.url().to_owned(), source })?;
    if !empty {
        return Ok(false);
    }
    let namespaces = vec![DEFAULT_NAMESPACE.to_owned()];
    let current = db.introspect(&namespaces).await?;
    Ok(desired.tables.iter().any(|t| current.schema.table(&t.name).is_some()))
}

/// The history row that adopts the models' tables a database already holds.
pub(crate) struct Baseline {
    /// Checksum of the adopted tables.
    pub checksum: String,
    /// `adopted existing tables: …`.
    pub description: String,
    /// The row's plan: the adopted tables as created, so they can become orphans later.
    pub record: String,
}

impl Baseline {
    /// `None` when none of the models' tables exists yet.
    pub fn of(current: &Schema, desired: &Schema) -> Option<Baseline> {
        let (owned, _) = dataflow_schema::scope_to_models(current, desired);
        if owned.tables.is_empty() {
            return None;
        }
        let names: Vec<String> = owned.tables.iter().map(|t| t.name.to_string()).collect();
        let changes: Vec<dataflow_schema::Change> =
            owned.tables.iter().cloned().map(dataflow_schema::Change::CreateTable).collect();
        Some(Baseline {
            checksum: dataflow_schema::schema_checksum(&owned),
            description: format!("adopted existing tables: {}", names.join(", ")),
            record: serde_json::json!({ "changes": changes, "steps": [] }).to_string(),
        })
    }
}

/// Adoption: on a first run, the models' tables that already exist are recorded as a
/// `baseline` row (never pending, never rolled back); differences are planned as usual.
async fn adopt(
    db: &Postgres,
    target: &Target,
    namespace: &str,
    guard: &mut LockGuard,
) -> Result<()> {
    let Target::Models(desired) = target else { return Ok(()) };
    let history_error = |source| Error::History { url: db.url().to_owned(), source };
    if !history::is_empty(guard.connection(), namespace).await.map_err(history_error)? {
        return Ok(());
    }
    let current = db.introspect(&[DEFAULT_NAMESPACE.to_owned()]).await?;
    let Some(baseline) = Baseline::of(&current.schema, desired) else { return Ok(()) };
    let version = history::next_version(guard.connection(), namespace, &baseline.checksum)
        .await
        .map_err(history_error)?;
    history::insert(
        guard.connection(),
        namespace,
        &version,
        &baseline.checksum,
        &baseline.description,
        &baseline.record,
        status::BASELINE,
    )
    .await
    .map_err(history_error)
}

/// Under the lock: plan again, check, record, apply, record.
async fn migrate_locked(
    db: &Postgres,
    target: &Target,
    history_namespace: &str,
    options: &MigrateOptions,
    guard: &mut LockGuard,
) -> Result<(Plan, Option<String>, Option<ApplyReport>)> {
    let history_error = |source| Error::History { url: db.url().to_owned(), source };
    history::ensure(guard.connection(), history_namespace).await.map_err(history_error)?;
    adopt(db, target, history_namespace, guard).await?;
    let plan = plan_for(db, target, options).await?;
    // We hold the lock: a row still `running` belongs to a migrator that died. With
    // nothing left to do, a run for this very target got to its end.
    let reached = plan.is_empty().then_some(plan.to_checksum.as_str());
    let closed = history::close_interrupted(guard.connection(), history_namespace, reached)
        .await
        .map_err(history_error)?;
    for (version, state) in closed {
        tracing::warn!(target: "dataflow::migrate", version, state, "closed a run a stopped migrator left running");
    }
    if plan.is_empty() {
        return Ok((plan, None, None));
    }
    if let Some(expected) = &options.expected_plan {
        if expected != &plan.plan_checksum {
            return Err(Error::PlanChanged {
                expected: expected.clone(),
                actual: plan.plan_checksum.clone(),
            });
        }
    }
    check_risk(&plan, options.max_risk)?;
    if !options.force {
        let rolled_back =
            history::rolled_back_target(guard.connection(), history_namespace, &plan.to_checksum)
                .await
                .map_err(history_error)?;
        if let Some(version) = rolled_back {
            return Err(Error::RolledBackTarget { version });
        }
    }
    if options.check_existing_rows {
        crate::preflight::check(guard.connection(), &plan).await?;
    }
    let description = plan.summary();
    let mut plan = plan;
    let version = history::next_version(guard.connection(), history_namespace, &plan.to_checksum)
        .await
        .map_err(history_error)?;
    // Drops keep their data, named after this run (invariant 6). Before the preview, so
    // the person confirms the SQL that runs.
    if options.backup_before_destructive {
        dataflow_schema::dialect::postgres::keep::keep_data(&mut plan, &version);
    }
    if let Mode::Interactive(confirm) = &options.mode {
        print_preview(&plan, options);
        if !confirm(&plan) {
            return Err(Error::Declined);
        }
    }
    history::insert(
        guard.connection(),
        history_namespace,
        &version,
        &plan.to_checksum,
        &description,
        &plan.to_json(),
        status::RUNNING,
    )
    .await
    .map_err(history_error)?;
    let started = Instant::now();
    let (update, lookup) =
        (history::progress_update(history_namespace), history::progress_lookup(history_namespace));
    let recorder = Recorder { update: &update, lookup: &lookup, version: &version };
    let applied = db.apply_recorded(&plan, &options.apply, Some(recorder)).await;
    let elapsed = i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
    match applied {
        Ok(report) => {
            history::finish(
                guard.connection(),
                history_namespace,
                &version,
                status::APPLIED,
                elapsed,
                None,
            )
            .await
            .map_err(history_error)?;
            Ok((plan, Some(version), Some(report)))
        }
        Err(error) => {
            let message = error.to_string();
            let _ = history::finish(
                guard.connection(),
                history_namespace,
                &version,
                status::FAILED,
                elapsed,
                Some(&message),
            )
            .await;
            Err(error)
        }
    }
}

/// `plan` as a run would execute it: with `backup_before_destructive`, drops rewritten to
/// keep their data (named after a version of this moment). For previews made before the
/// lock is taken (dry runs, refusals); the checksum to pin stays the one of `plan`.
pub(crate) async fn as_it_would_run(
    db: &Postgres,
    plan: &Plan,
    options: &MigrateOptions,
) -> Result<Plan> {
    let mut plan = plan.clone();
    let drops = |s: &dataflow_schema::Step| {
        matches!(s.operation, Operation::DropTable | Operation::DropColumn)
    };
    if options.backup_before_destructive && plan.steps.iter().any(drops) {
        let version = history::version_now(db.pool(), &plan.to_checksum)
            .await
            .map_err(|source| Error::History { url: db.url().to_owned(), source })?;
        dataflow_schema::dialect::postgres::keep::keep_data(&mut plan, &version);
    }
    Ok(plan)
}

/// The preview on stderr, as wide and colourful as the terminal allows.
pub(crate) fn print_preview(plan: &Plan, options: &MigrateOptions) {
    crate::terminal::print_preview(plan, options.show_sql, options.show_rollback_plan);
}

/// Compile-time check: `auto_migrate` can run on a multi-threaded runtime.
#[allow(dead_code)]
fn futures_are_send(flow: &DataFlow) {
    fn send<T: Send>(_: T) {}
    send(flow.auto_migrate(MigrateOptions::default()));
    send(flow.history(None));
}
