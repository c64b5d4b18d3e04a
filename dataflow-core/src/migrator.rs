//! [`DataFlow`], the one entry point: a database and the models it should match. It
//! hands each operation to the database's own migrator (`connector/<database>/
//! migrator.rs`) and holds the rules they share: the risk policy, the operation and
//! table filters, the baseline row, the preview.

#[cfg(feature = "mysql")]
use crate::connector::mysql::Mysql;
#[cfg(feature = "postgres")]
use crate::connector::postgres::history;
#[cfg(feature = "postgres")]
use crate::connector::postgres::lock::LockGuard;
#[cfg(feature = "postgres")]
use crate::connector::postgres::migrator::{lock_error, migrate, plan_for, Target};
#[cfg(feature = "postgres")]
use crate::connector::postgres::Postgres;
#[cfg(feature = "sqlite")]
use crate::connector::sqlite::Sqlite;
use crate::error::{Error, Result};
use crate::history::HistoryRow;
#[cfg(feature = "postgres")]
use crate::history::{RunStatus, StoredRun};
#[cfg(feature = "postgres")]
use crate::options::ApplyOptions;
#[cfg(any(feature = "sqlite", feature = "mysql"))]
use crate::options::Scope;
use crate::options::{AfterRollback, MigrateOptions};
#[cfg(feature = "postgres")]
use crate::policy::refuse_newer;
use crate::report::{MigrationReport, RollbackAnalysis};
use dataflow_schema::introspect::postgres::DEFAULT_NAMESPACE;
use dataflow_schema::{schema_of, Model, ModelDef, Plan, Schema};
use std::time::Duration;
use tracing::Instrument;

#[cfg(not(any(feature = "postgres", feature = "sqlite", feature = "mysql")))]
compile_error!("dataflow needs at least one database: enable `postgres`, `sqlite` or `mysql`");

/// The database a [`DataFlow`] works on.
#[derive(Debug, Clone)]
pub enum Database {
    /// PostgreSQL.
    #[cfg(feature = "postgres")]
    Postgres(Postgres),
    /// SQLite (a file, or in memory).
    #[cfg(feature = "sqlite")]
    Sqlite(Sqlite),
    /// MySQL or MariaDB.
    #[cfg(feature = "mysql")]
    Mysql(Mysql),
}

/// A database and the models it should match.
#[derive(Debug, Clone)]
pub struct DataFlow {
    database: Database,
    models: Vec<ModelDef>,
    #[cfg_attr(not(feature = "postgres"), allow(dead_code))]
    history_namespace: String,
}

impl DataFlow {
    /// Connects to `url` — `postgres://user@host/db`, `mysql://user@host/db` (or
    /// `mariadb://…`), `sqlite://path/to/file.db` (created when missing) or
    /// `sqlite::memory:` — or to `DATABASE_URL` when `url` is empty.
    pub async fn connect(url: &str) -> Result<DataFlow> {
        let url = match url {
            "" => std::env::var("DATABASE_URL").map_err(|_| Error::NoDatabaseUrl)?,
            url => url.to_owned(),
        };
        // URL schemes are case-insensitive: `POSTGRES://` is `postgres://`.
        let url = match url.split_once("://") {
            Some((scheme, rest)) if scheme.chars().any(|c| c.is_ascii_uppercase()) => {
                format!("{}://{rest}", scheme.to_ascii_lowercase())
            }
            _ => url,
        };
        let database = if url.starts_with("sqlite:") {
            #[cfg(feature = "sqlite")]
            let connected = Database::Sqlite(Sqlite::connect(&url).await?);
            #[cfg(not(feature = "sqlite"))]
            let connected = not_compiled("SQLite", "sqlite")?;
            connected
        } else if url.starts_with("mysql://") || url.starts_with("mariadb://") {
            #[cfg(feature = "mysql")]
            let connected = Database::Mysql(Mysql::connect(&url).await?);
            #[cfg(not(feature = "mysql"))]
            let connected = not_compiled("MySQL", "mysql")?;
            connected
        } else {
            #[cfg(feature = "postgres")]
            let connected = Database::Postgres(Postgres::connect(&url).await?);
            #[cfg(not(feature = "postgres"))]
            let connected = match url.split_once("://") {
                Some(("postgres" | "postgresql", _)) => not_compiled("PostgreSQL", "postgres")?,
                _ => return Err(Error::UnsupportedUrl { url: crate::error::redact(&url) }),
            };
            connected
        };
        Ok(DataFlow::on(database))
    }

    fn on(database: Database) -> DataFlow {
        DataFlow { database, models: Vec::new(), history_namespace: DEFAULT_NAMESPACE.to_owned() }
    }

    /// Uses the application's own pool (the migrator still takes one connection for its lock).
    #[cfg(feature = "postgres")]
    pub fn from_pool(pool: sqlx::PgPool) -> DataFlow {
        DataFlow::on(Database::Postgres(Postgres::from_pool(pool)))
    }

    /// Uses the application's own SQLite pool (the migrator takes one connection of it for
    /// its write transaction).
    #[cfg(feature = "sqlite")]
    pub fn from_sqlite_pool(pool: sqlx::SqlitePool) -> DataFlow {
        DataFlow::on(Database::Sqlite(Sqlite::from_pool(pool)))
    }

    /// Uses the application's own MySQL/MariaDB pool to read the schema (the migrator
    /// opens its own connection for the lock and the DDL). Errors when the pool's
    /// options name no database.
    #[cfg(feature = "mysql")]
    pub fn from_mysql_pool(pool: sqlx::MySqlPool) -> Result<DataFlow> {
        let db = Mysql::from_pool(pool).ok_or_else(|| Error::UnsupportedUrl {
            url: "a MySQL pool without a database (name it in the URL: mysql://user@host/DATABASE)"
                .into(),
        })?;
        Ok(DataFlow::on(Database::Mysql(db)))
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
    #[cfg(feature = "postgres")]
    pub fn postgres(&self) -> Option<&Postgres> {
        match &self.database {
            Database::Postgres(db) => Some(db),
            #[allow(unreachable_patterns)]
            _ => None,
        }
    }

    /// The SQLite connector, when the database is SQLite.
    #[cfg(feature = "sqlite")]
    pub fn sqlite(&self) -> Option<&Sqlite> {
        match &self.database {
            Database::Sqlite(db) => Some(db),
            #[allow(unreachable_patterns)]
            _ => None,
        }
    }

    /// The MySQL/MariaDB connector, when the database is one.
    #[cfg(feature = "mysql")]
    pub fn mysql(&self) -> Option<&Mysql> {
        match &self.database {
            Database::Mysql(db) => Some(db),
            #[allow(unreachable_patterns)]
            _ => None,
        }
    }

    /// The PostgreSQL connector, or an error naming what SQLite does not support yet.
    #[cfg(feature = "postgres")]
    pub(crate) fn pg(&self, what: &str) -> Result<&Postgres> {
        self.postgres().ok_or_else(|| self.not_available(what))
    }

    /// "`what` is not available on this database yet".
    #[cfg(any(feature = "postgres", feature = "mysql"))]
    fn not_available(&self, what: &str) -> Error {
        let database = match &self.database {
            #[cfg(feature = "postgres")]
            Database::Postgres(_) => "PostgreSQL",
            #[cfg(feature = "sqlite")]
            Database::Sqlite(_) => "SQLite",
            #[cfg(feature = "mysql")]
            Database::Mysql(_) => "MySQL",
        };
        Error::NotAvailable { what: what.to_owned(), database }
    }

    /// The desired schema of the registered models.
    pub fn desired_schema(&self) -> Result<Schema> {
        Ok(schema_of(&self.models)?)
    }

    /// Brings the database to the registered models (see the module docs).
    pub async fn auto_migrate(&self, options: MigrateOptions) -> Result<MigrationReport> {
        let desired = self.desired_schema()?;
        let options_after_rollback = options.after_rollback;
        let outcome = match &self.database {
            #[cfg(feature = "postgres")]
            Database::Postgres(db) => {
                migrate(db, Target::Models(desired), &self.history_namespace, options).await
            }
            #[cfg(feature = "sqlite")]
            Database::Sqlite(db) => {
                crate::connector::sqlite::migrator::migrate(db, &desired, Scope::Models, options)
                    .await
            }
            #[cfg(feature = "mysql")]
            Database::Mysql(db) => {
                crate::connector::mysql::migrator::migrate(db, &desired, Scope::Models, options)
                    .await
            }
        };
        match outcome {
            Err(Error::RolledBackTarget { version })
                if options_after_rollback == AfterRollback::Continue =>
            {
                let plan = self.plan().await?;
                tracing::warn!(
                    target: "dataflow::migrate",
                    version,
                    pending = plan.steps.len(),
                    "the models' target was rolled back ({version}); starting without migrating \
                     (apply it again with `force`, or set after_rollback: Refuse to fail instead)"
                );
                Ok(MigrationReport {
                    version: None,
                    applied: false,
                    lock_wait_ms: 0,
                    retries: 0,
                    timings: Vec::new(),
                    backfills: Vec::new(),
                    elapsed_ms: 0,
                    safety: plan.safety(),
                    plan,
                })
            }
            outcome => outcome.map_err(|error| crate::error::explain(error, &self.url())),
        }
    }

    /// The plan `auto_migrate` would apply now with the default options (no lock, nothing
    /// changed), with its warnings (orphans, tables no model names).
    pub async fn plan(&self) -> Result<Plan> {
        let desired = self.desired_schema()?;
        match &self.database {
            #[cfg(feature = "postgres")]
            Database::Postgres(db) => {
                plan_for(db, &Target::Models(desired), &MigrateOptions::default()).await
            }
            #[cfg(feature = "sqlite")]
            Database::Sqlite(db) => {
                crate::connector::sqlite::migrator::plan(
                    db,
                    &desired,
                    Scope::Models,
                    &MigrateOptions::default(),
                )
                .await
            }
            #[cfg(feature = "mysql")]
            Database::Mysql(db) => {
                crate::connector::mysql::migrator::plan(
                    db,
                    &desired,
                    Scope::Models,
                    &MigrateOptions::default(),
                )
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
        match &self.database {
            #[cfg(feature = "postgres")]
            Database::Postgres(db) => {
                let mut connection = db.connection().await?;
                history::list(&mut connection, &self.history_namespace, limit)
                    .await
                    .map_err(|source| Error::History { url: db.url().to_owned(), source })
            }
            #[cfg(feature = "sqlite")]
            Database::Sqlite(db) => {
                crate::connector::sqlite::migrator::history_rows(db, limit).await
            }
            #[cfg(feature = "mysql")]
            Database::Mysql(db) => crate::connector::mysql::migrator::history_rows(db, limit).await,
        }
    }

    /// The schema the run `version` left, as recorded when it applied — what `status`
    /// compares the live schema with to show what changed since. `None` for a version
    /// not in the history, a baseline or failed run, or one recorded before dataflow kept it.
    pub async fn recorded_schema(&self, version: &str) -> Result<Option<Schema>> {
        let history_error = |source| Error::History { url: self.url(), source };
        let stored = match &self.database {
            #[cfg(feature = "postgres")]
            Database::Postgres(db) => {
                let mut connection = db.connection().await?;
                history::stored_plan(&mut connection, &self.history_namespace, version).await
            }
            #[cfg(feature = "sqlite")]
            Database::Sqlite(db) => {
                let mut connection = db.connection().await?;
                crate::connector::sqlite::history::stored_plan(&mut connection, version).await
            }
            #[cfg(feature = "mysql")]
            Database::Mysql(db) => {
                let mut connection = db.connection().await?;
                crate::connector::mysql::history::stored_plan(&mut connection, version).await
            }
        };
        Ok(stored.map_err(history_error)?.and_then(|run| crate::history::schema_after(&run.plan)))
    }

    /// The namespace of the history table.
    #[cfg(feature = "postgres")]
    pub(crate) fn history_namespace(&self) -> &str {
        &self.history_namespace
    }

    /// DB-vs-DB through this flow's history: brings the default namespace to `target`.
    #[cfg(feature = "postgres")]
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
    ///
    /// Refuses ([`Error::NewerApplied`]) while newer applied runs build on `version`:
    /// roll those back first ([`DataFlow::rollback_to_version`]), or undo this one alone
    /// with [`DataFlow::rollback_migration_out_of_order`].
    pub async fn rollback_migration(&self, version: &str) -> Result<()> {
        self.rollback(version, false).await
    }

    /// [`DataFlow::rollback_migration`] even while newer applied runs build on `version`:
    /// only this run's steps are undone. For when you know the newer runs do not depend
    /// on it; `status` reports the result as drift from the newest run.
    pub async fn rollback_migration_out_of_order(&self, version: &str) -> Result<()> {
        self.rollback(version, true).await
    }

    async fn rollback(&self, version: &str, out_of_order: bool) -> Result<()> {
        let span = tracing::info_span!(target: "dataflow::migrate", "rollback", version);
        match &self.database {
            #[cfg(feature = "sqlite")]
            Database::Sqlite(db) => {
                crate::connector::sqlite::migrator::rollback_migration(db, version, out_of_order)
                    .instrument(span)
                    .await
            }
            #[cfg(feature = "mysql")]
            Database::Mysql(db) => {
                let options = MigrateOptions::default();
                crate::connector::mysql::migrator::rollback_migration(
                    db,
                    version,
                    &options,
                    out_of_order,
                )
                .instrument(span)
                .await
            }
            #[cfg(feature = "postgres")]
            Database::Postgres(_) => {
                self.rollback_postgres(version, out_of_order).instrument(span).await
            }
        }
    }

    #[cfg(feature = "postgres")]
    async fn rollback_postgres(&self, version: &str, out_of_order: bool) -> Result<()> {
        async {
            let mut guard = self.lock(Duration::from_secs(15 * 60)).await?;
            let outcome = async {
                if !out_of_order {
                    let newer = history::applied_after(
                        guard.connection(),
                        &self.history_namespace,
                        version,
                    )
                    .await
                    .map_err(|source| Error::History { url: self.url(), source })?;
                    refuse_newer(version, newer)?;
                }
                self.rollback_locked(&mut guard, version).await
            }
            .await;
            let _ = guard.release().await;
            outcome
        }
        .await
        .map_err(crate::error::explain_connection_loss)
    }

    /// Rolls back every applied run newer than `version`, newest first.
    pub async fn rollback_to_version(&self, version: &str) -> Result<Vec<String>> {
        match &self.database {
            #[cfg(feature = "sqlite")]
            Database::Sqlite(db) => {
                crate::connector::sqlite::migrator::rollback_to_version(db, version).await
            }
            #[cfg(feature = "mysql")]
            Database::Mysql(db) => {
                let options = MigrateOptions::default();
                crate::connector::mysql::migrator::rollback_to_version(db, version, &options).await
            }
            #[cfg(feature = "postgres")]
            Database::Postgres(_) => self.rollback_to_version_postgres(version).await,
        }
    }

    #[cfg(feature = "postgres")]
    async fn rollback_to_version_postgres(&self, version: &str) -> Result<Vec<String>> {
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
        match &self.database {
            #[cfg(feature = "sqlite")]
            Database::Sqlite(db) => {
                crate::connector::sqlite::migrator::analyze_rollback(db, version).await
            }
            #[cfg(feature = "mysql")]
            Database::Mysql(db) => {
                crate::connector::mysql::migrator::analyze_rollback(db, version).await
            }
            #[cfg(feature = "postgres")]
            Database::Postgres(db) => {
                let mut connection = db.connection().await?;
                let plan = self.stored_plan(&mut connection, version).await?.1;
                let earlier: Vec<dataflow_schema::Plan> = self
                    .resumed_runs(&mut connection, version)
                    .await?
                    .into_iter()
                    .map(|(_, plan)| plan)
                    .collect();
                Ok(RollbackAnalysis::of_runs(&plan, &earlier))
            }
        }
    }

    /// The database's URL (password removed), for messages.
    fn url(&self) -> String {
        match &self.database {
            #[cfg(feature = "postgres")]
            Database::Postgres(db) => db.url().to_owned(),
            #[cfg(feature = "sqlite")]
            Database::Sqlite(db) => db.url().to_owned(),
            #[cfg(feature = "mysql")]
            Database::Mysql(db) => db.url().to_owned(),
        }
    }

    #[cfg(feature = "postgres")]
    pub(crate) async fn lock(&self, timeout: Duration) -> Result<LockGuard> {
        let connection = self.connection().await?.detach();
        let db = self.pg("the PostgreSQL migration lock")?;
        LockGuard::acquire(connection, timeout).await.map_err(|e| lock_error(db, timeout, e))
    }

    #[cfg(feature = "postgres")]
    async fn stored_plan(
        &self,
        connection: &mut sqlx::PgConnection,
        version: &str,
    ) -> Result<(RunStatus, Plan)> {
        let history_error = |source| Error::History { url: self.url(), source };
        let StoredRun { status: row_status, plan: json } =
            history::stored_plan(connection, &self.history_namespace, version)
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
        match &self.database {
            #[cfg(feature = "sqlite")]
            Database::Sqlite(db) => crate::connector::sqlite::migrator::purge(db, older_than).await,
            #[cfg(feature = "mysql")]
            Database::Mysql(_) => {
                let _ = older_than;
                Err(self.not_available("purge"))
            }
            #[cfg(feature = "postgres")]
            Database::Postgres(_) => {
                let mut guard = self.lock(Duration::from_secs(15 * 60)).await?;
                let outcome = self.purge_locked(&mut guard, older_than).await;
                let _ = guard.release().await;
                outcome
            }
        }
    }

    #[cfg(feature = "postgres")]
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
                .filter(|(_, name, _)| crate::history::owner(name, &all) == Some(&version))
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

    #[cfg(feature = "postgres")]
    async fn rollback_locked(&self, guard: &mut LockGuard, version: &str) -> Result<()> {
        let purged = history::purged(guard.connection(), &self.history_namespace, version)
            .await
            .map_err(|source| Error::History { url: self.url(), source })?;
        if purged {
            return Err(Error::Purged { version: version.to_owned() });
        }
        let (row_status, plan) = self.stored_plan(guard.connection(), version).await?;
        if row_status != RunStatus::Applied {
            return Err(Error::NotRollbackable { version: version.to_owned(), status: row_status });
        }
        let db = self.pg("rollback")?;
        db.rollback(&plan, &ApplyOptions::default()).await?;
        let history_error = |source| Error::History { url: self.url(), source };
        history::mark_rolled_back(guard.connection(), &self.history_namespace, version)
            .await
            .map_err(history_error)?;
        // A run that went on from a failed one owns the whole change: the failed run's
        // finished steps are undone too, newest run first.
        for (earlier, plan) in self.resumed_runs(guard.connection(), version).await? {
            db.rollback(&plan, &ApplyOptions::default()).await?;
            history::mark_rolled_back(guard.connection(), &self.history_namespace, &earlier)
                .await
                .map_err(history_error)?;
        }
        Ok(())
    }

    /// The failed runs `version` went on from (`progress.resumes`), newest first, each
    /// with its plan cut to the steps it started: what `version`'s rollback undoes after
    /// its own steps.
    #[cfg(feature = "postgres")]
    async fn resumed_runs(
        &self,
        connection: &mut sqlx::PgConnection,
        version: &str,
    ) -> Result<Vec<(String, dataflow_schema::Plan)>> {
        let history_error = |source| Error::History { url: self.url(), source };
        let namespace = &self.history_namespace;
        let mut runs = Vec::new();
        let mut next =
            history::resumes(&mut *connection, namespace, version).await.map_err(history_error)?;
        while let Some(run) = next {
            let mut plan = self.stored_plan(&mut *connection, &run).await?.1;
            let started = history::steps_started(&mut *connection, namespace, &run)
                .await
                .map_err(history_error)?;
            plan.steps.retain(|step| started.contains(&step.number));
            next =
                history::resumes(&mut *connection, namespace, &run).await.map_err(history_error)?;
            runs.push((run, plan));
        }
        Ok(runs)
    }

    #[cfg(feature = "postgres")]
    async fn connection(&self) -> Result<sqlx::pool::PoolConnection<sqlx::Postgres>> {
        let db = self.pg("this operation")?;
        db.connection().await
    }
}

/// Compile-time check: `auto_migrate` can run on a multi-threaded runtime.
#[allow(dead_code)]
fn futures_are_send(flow: &DataFlow) {
    fn send<T: Send>(_: T) {}
    send(flow.auto_migrate(MigrateOptions::default()));
    send(flow.history(None));
}

/// The error for a URL whose database this build left out.
#[allow(dead_code)]
fn not_compiled(database: &'static str, feature: &'static str) -> Result<Database> {
    Err(Error::DatabaseNotCompiled { database, feature })
}
