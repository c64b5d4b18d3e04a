//! [`DataFlow`], the one entry point: a database and the models it should match. Each
//! operation is the one migrator's (`crate::migrate`), run over the database's connector.

#[cfg(feature = "mysql")]
use crate::connector::mysql::Mysql;
#[cfg(feature = "postgres")]
use crate::connector::postgres::Postgres;
#[cfg(feature = "sqlite")]
use crate::connector::sqlite::Sqlite;
use crate::error::{Error, Result};
use crate::history::HistoryRow;
use crate::migrate::{self, undo};
use crate::options::{AfterRollback, MigrateOptions, Scope};
use crate::report::{MigrationReport, RollbackAnalysis};
#[cfg(feature = "postgres")]
use dataflow_schema::introspect::postgres::DEFAULT_NAMESPACE;
use dataflow_schema::{schema_of, Model, ModelDef, Plan, Schema};
use std::time::Duration;
use tracing::Instrument;

/// `$body` with `$db` bound to the connector of `$database`, whichever database it is:
/// the one place that matches on it (each arm is the same generic code).
macro_rules! on_database {
    ($database:expr, $db:ident => $body:expr) => {
        match $database {
            #[cfg(feature = "postgres")]
            Database::Postgres($db) => $body,
            #[cfg(feature = "sqlite")]
            Database::Sqlite($db) => $body,
            #[cfg(feature = "mysql")]
            Database::Mysql($db) => $body,
        }
    };
}

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

/// What only the PostgreSQL connector does so far: a typed capability, checked in one
/// place ([`DataFlow::pg`]).
#[cfg(feature = "postgres")]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PostgresOnly {
    /// `DataFlow::apply_plan`: explicit plans with data steps.
    ExplicitPlans,
    /// `DataFlow::not_null`: the NOT NULL handler.
    NotNullHandler,
}

#[cfg(feature = "postgres")]
impl std::fmt::Display for PostgresOnly {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            PostgresOnly::ExplicitPlans => "explicit plans",
            PostgresOnly::NotNullHandler => "the NOT NULL handler",
        })
    }
}

/// A database and the models it should match.
#[derive(Debug, Clone)]
pub struct DataFlow {
    database: Database,
    models: Vec<ModelDef>,
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
        DataFlow { database, models: Vec::new() }
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

    /// The PostgreSQL connector for `feature`, or the error saying this database does
    /// not have it yet: the one place a missing capability is checked.
    #[cfg(feature = "postgres")]
    pub(crate) fn pg(&self, feature: PostgresOnly) -> Result<&Postgres> {
        self.postgres().ok_or_else(|| self.not_available(feature))
    }

    /// "`feature` is not available on this database yet".
    #[cfg(feature = "postgres")]
    fn not_available(&self, feature: PostgresOnly) -> Error {
        let what = feature.to_string();
        let database = match &self.database {
            #[cfg(feature = "postgres")]
            Database::Postgres(_) => "PostgreSQL",
            #[cfg(feature = "sqlite")]
            Database::Sqlite(_) => "SQLite",
            #[cfg(feature = "mysql")]
            Database::Mysql(_) => "MySQL",
        };
        Error::NotAvailable { what, database }
    }

    /// The desired schema of the registered models.
    pub fn desired_schema(&self) -> Result<Schema> {
        Ok(schema_of(&self.models)?)
    }

    /// Brings the database to the registered models (see the module docs).
    pub async fn auto_migrate(&self, options: MigrateOptions) -> Result<MigrationReport> {
        let desired = self.desired_schema()?;
        let options_after_rollback = options.after_rollback;
        let outcome = on_database!(&self.database, db => migrate::migrate(db, &desired, Scope::Models, options).await);
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
        let options = MigrateOptions::default();
        on_database!(&self.database, db => migrate::plan(db, &desired, Scope::Models, &options).await)
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
        on_database!(&self.database, db => migrate::history(db, limit).await)
    }

    /// The schema the run `version` left, as recorded when it applied — what `status`
    /// compares the live schema with to show what changed since. `None` for a version
    /// not in the history, a baseline or failed run, or one recorded before dataflow kept it.
    pub async fn recorded_schema(&self, version: &str) -> Result<Option<Schema>> {
        on_database!(&self.database, db => migrate::recorded_schema(db, version).await)
    }

    /// `plan` as `auto_migrate` would run it now: drops rewritten to keep their data.
    #[cfg(feature = "cli")]
    pub(crate) async fn as_it_would_run(&self, plan: &Plan) -> Result<Plan> {
        let options = MigrateOptions::default();
        on_database!(&self.database, db => migrate::as_it_would_run(db, plan, &options).await)
    }

    /// The namespace of the history table.
    #[cfg(feature = "postgres")]
    pub(crate) fn history_namespace(&self) -> &str {
        DEFAULT_NAMESPACE
    }

    /// DB-vs-DB through this flow's history: brings the default namespace to `target`.
    #[cfg(feature = "postgres")]
    pub(crate) async fn migrate_namespace(
        &self,
        target: Schema,
        options: MigrateOptions,
    ) -> Result<MigrationReport> {
        let db = self.pg(PostgresOnly::NotNullHandler)?;
        migrate::migrate(db, &target, Scope::Database, options).await
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
        on_database!(&self.database, db => undo::rollback_migration(db, version, out_of_order).instrument(span).await)
            .map_err(crate::error::explain_connection_loss)
    }

    /// Rolls back every applied run newer than `version`, newest first.
    pub async fn rollback_to_version(&self, version: &str) -> Result<Vec<String>> {
        on_database!(&self.database, db => undo::rollback_to_version(db, version).await)
    }

    /// What rolling back `version` would do: whether every step can be undone, and
    /// which cannot.
    pub async fn analyze_rollback(&self, version: &str) -> Result<RollbackAnalysis> {
        on_database!(&self.database, db => undo::analyze_rollback(db, version).await)
    }

    /// The database's URL (password removed), for messages.
    fn url(&self) -> String {
        on_database!(&self.database, db => db.url().to_owned())
    }

    /// Drops the trash tables and column backups of runs started longer than `older_than`
    /// ago (under the lock) and returns their names. Those runs can no longer be rolled
    /// back with their data, so their rollback is refused from then on.
    pub async fn purge(&self, older_than: Duration) -> Result<Vec<String>> {
        on_database!(&self.database, db => undo::purge(db, older_than).await)
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
