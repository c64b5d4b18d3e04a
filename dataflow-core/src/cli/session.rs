//! Where a command works: the database (a [`DataFlow`]) and what it should look like —
//! the application's models, or a target schema (DB-vs-DB). Commands only talk to this,
//! so both front ends behave the same.

use super::args::{Database, ModelCommand, Namespaces, ToolCommand};
use crate::connector::mysql::contract::migrate_mysql_to;
use crate::connector::postgres::contract::migrate_to;
use crate::connector::postgres::Postgres;
use crate::connector::sqlite::contract::migrate_sqlite_to;
use crate::error::{Error, Result};
use crate::migrator::DataFlow;
use crate::migrator::Database as Connected;
use crate::options::MigrateOptions;
use crate::report::MigrationReport;
use dataflow_schema::introspect::postgres::{Introspected, DEFAULT_NAMESPACE};
use dataflow_schema::{plan_offline, Dialect, Plan, PlanOptions, Schema};

/// What the database should look like.
pub(super) enum Desired {
    /// The application's models; tables they do not name are left alone.
    Models,
    /// A whole namespace (DB-vs-DB): what it lacks is dropped.
    Target(TargetSource),
    /// No target: only the live database matters (status, snapshot, history …).
    Nothing,
}

/// Where a DB-vs-DB target comes from.
pub(super) enum TargetSource {
    /// A database URL or a schema.json path, read when needed (a DB-vs-DB diff reads
    /// both sides at the same time).
    Location(String),
    /// A schema already in hand (a reviewed plan's target).
    Schema(Schema),
}

/// A database and what it should look like.
pub(super) struct Session {
    pub flow: DataFlow,
    pub desired: Desired,
    /// The namespaces compared (DB-vs-DB) or snapshotted.
    pub namespaces: Vec<String>,
}

impl Session {
    /// An application's models.
    pub fn models(flow: DataFlow) -> Session {
        Session { flow, desired: Desired::Models, namespaces: vec![DEFAULT_NAMESPACE.to_owned()] }
    }

    /// The tool's command: connect, read the target, and the options as a model command.
    pub async fn for_tool(command: ToolCommand) -> Result<(Session, ModelCommand)> {
        // Only `apply` may create a SQLite file: a typo elsewhere must not leave an empty
        // database behind (or, as a target, plan to drop every table).
        let applies = matches!(command, ToolCommand::Apply { .. });
        let connect = |db: Database, namespaces: Namespaces| async move {
            if !applies {
                sqlite_file_must_exist(&db.db)?;
            }
            let flow = DataFlow::connect(&db.db).await?;
            Ok::<_, Error>(Session {
                flow,
                desired: Desired::Nothing,
                namespaces: namespaces.schemas,
            })
        };
        let none = || Namespaces { schemas: vec![DEFAULT_NAMESPACE.to_owned()] };
        let (mut session, target, command) = match command {
            ToolCommand::Diff { db, target, namespaces, args } => {
                (connect(db, namespaces).await?, Some(target), ModelCommand::Diff(args))
            }
            ToolCommand::Plan { db, target, namespaces, args } => {
                (connect(db, namespaces).await?, Some(target), ModelCommand::Plan(args))
            }
            ToolCommand::Apply { db, target, namespaces, args } => {
                (connect(db, namespaces).await?, target, ModelCommand::Apply(args))
            }
            ToolCommand::Status { db, target, namespaces, args } => {
                (connect(db, namespaces).await?, target, ModelCommand::Status(args))
            }
            ToolCommand::Snapshot { db, namespaces } => {
                (connect(db, namespaces).await?, None, ModelCommand::Snapshot)
            }
            ToolCommand::History { db, args } => {
                (connect(db, none()).await?, None, ModelCommand::History(args))
            }
            ToolCommand::Rollback { db, args } => {
                (connect(db, none()).await?, None, ModelCommand::Rollback(args))
            }
            ToolCommand::Purge { db, args } => {
                (connect(db, none()).await?, None, ModelCommand::Purge(args))
            }
        };
        if let Some(target) = target {
            session.desired = Desired::Target(TargetSource::Location(target));
        }
        Ok((session, command))
    }

    /// The same database towards `schema` (a reviewed plan's target).
    pub fn towards(&self, schema: Schema) -> Session {
        Session {
            flow: self.flow.clone(),
            desired: Desired::Target(TargetSource::Schema(schema)),
            namespaces: self.namespaces.clone(),
        }
    }

    /// The schema the database should have, if there is one.
    pub async fn target_schema(&self) -> Result<Option<Schema>> {
        match &self.desired {
            Desired::Models => Ok(Some(self.flow.desired_schema()?)),
            Desired::Target(source) => Ok(Some(self.read(source).await?.0)),
            Desired::Nothing => Ok(None),
        }
    }

    /// A target's schema and the objects in it that dataflow does not manage.
    async fn read(&self, source: &TargetSource) -> Result<(Schema, Vec<String>)> {
        match source {
            TargetSource::Location(location) => read_target(location, &self.namespaces).await,
            TargetSource::Schema(schema) => Ok((schema.clone(), Vec::new())),
        }
    }

    /// An error when `target` is a URL of another kind of database than this one: types,
    /// defaults and constraints are written differently, so the plan would be nonsense.
    fn same_kind_of_database(&self, target: &str) -> Result<()> {
        let scheme = target.split_once(':').map_or("", |(scheme, _)| scheme).to_ascii_lowercase();
        let target_kind = match scheme.as_str() {
            "sqlite" => Dialect::Sqlite,
            "mysql" | "mariadb" => Dialect::Mysql,
            "postgres" | "postgresql" => Dialect::Postgres,
            // A schema.json: `dataflow snapshot` wrote where it came from.
            _ => match std::fs::read_to_string(target)
                .ok()
                .and_then(|text| Schema::snapshot_dialect(&text))
            {
                Some(dialect) => dialect,
                None => return Ok(()),
            },
        };
        self.same_dialect(target_kind)
    }

    /// An error unless `dialect` is this database's (a target or a reviewed plan's).
    pub fn same_dialect(&self, dialect: Dialect) -> Result<()> {
        if dialect == self.dialect() {
            return Ok(());
        }
        Err(Error::DifferentDatabases {
            database: self.dialect().to_string(),
            target: dialect.to_string(),
        })
    }

    /// This database's dialect.
    pub fn dialect(&self) -> Dialect {
        match self.flow.database() {
            Connected::Sqlite(_) => Dialect::Sqlite,
            Connected::Mysql(_) => Dialect::Mysql,
            Connected::Postgres(_) => Dialect::Postgres,
        }
    }

    /// The plan to what the database should look like, with warnings about what is left
    /// alone. Nothing is locked or changed.
    pub async fn plan(&self) -> Result<Plan> {
        match &self.desired {
            Desired::Models => self.flow.status().await,
            Desired::Target(source) => {
                if let TargetSource::Location(location) = source {
                    self.same_kind_of_database(location)?;
                }
                // Both sides at the same time: a DB-vs-DB diff costs one catalog read.
                let ((current, current_unmanaged), target) =
                    tokio::join!(self.live_unscoped(), self.read(source));
                let ((current, current_unmanaged), (schema, unmanaged)) =
                    ((current?, current_unmanaged), target?);
                let mut plan =
                    plan_offline(&current, &schema, self.dialect(), &PlanOptions::default())?;
                let mut left_alone = current_unmanaged;
                left_alone.extend(unmanaged);
                left_alone.sort();
                left_alone.dedup();
                if !left_alone.is_empty() {
                    plan.warnings.push(format!(
                        "not managed by dataflow, left alone: {}",
                        left_alone.join(", ")
                    ));
                }
                Ok(plan)
            }
            Desired::Nothing => Err(Error::NoTarget),
        }
    }

    /// Brings the database to the target through the migrator (lock, re-plan, history).
    pub async fn migrate(&self, options: MigrateOptions) -> Result<MigrationReport> {
        match &self.desired {
            Desired::Models => self.flow.auto_migrate(options).await,
            Desired::Target(source) => {
                let target = self.read(source).await?.0;
                match self.flow.database() {
                    Connected::Sqlite(db) => migrate_sqlite_to(db, target, options).await,
                    Connected::Mysql(db) => migrate_mysql_to(db, target, options).await,
                    Connected::Postgres(db) => migrate_to(db, target, options).await,
                }
            }
            Desired::Nothing => Err(Error::NoTarget),
        }
    }

    /// The live schema of the compared namespaces (not widened to the models'), with
    /// the objects dataflow does not manage; errors are the schema's.
    async fn live_unscoped(&self) -> (Result<Schema>, Vec<String>) {
        let found = match self.flow.database() {
            Connected::Sqlite(db) => db.introspect().await.map(|f| (f.schema, f.unmanaged)),
            Connected::Mysql(db) => db.introspect().await.map(|f| (f.schema, f.unmanaged)),
            Connected::Postgres(db) => {
                db.introspect(&self.namespaces).await.map(|f| (f.schema, f.unmanaged))
            }
        };
        match found {
            Ok((schema, unmanaged)) => (Ok(schema), unmanaged),
            Err(error) => (Err(error), Vec::new()),
        }
    }

    /// The live schema of the compared namespaces (in model mode: the models'), and the
    /// objects dataflow does not manage.
    pub async fn live(&self) -> Result<(Schema, Vec<String>)> {
        Ok(match self.flow.database() {
            Connected::Sqlite(db) => db.introspect().await.map(|f| (f.schema, f.unmanaged))?,
            Connected::Mysql(db) => db.introspect().await.map(|f| (f.schema, f.unmanaged))?,
            Connected::Postgres(db) => {
                let mut namespaces = self.namespaces.clone();
                if let Desired::Models = self.desired {
                    namespaces.extend(self.flow.desired_schema()?.namespaces);
                    namespaces.sort();
                    namespaces.dedup();
                }
                db.introspect(&namespaces).await.map(|f| (f.schema, f.unmanaged))?
            }
        })
    }
}

/// A target given as a database URL or a schema.json path.
async fn read_target(target: &str, namespaces: &[String]) -> Result<(Schema, Vec<String>)> {
    if target.starts_with("sqlite:") {
        sqlite_file_must_exist(target)?;
        let found = crate::connector::sqlite::Sqlite::connect(target).await?.introspect().await?;
        return Ok((found.schema, found.unmanaged));
    }
    if target.starts_with("mysql://") || target.starts_with("mariadb://") {
        let found = crate::connector::mysql::Mysql::connect(target).await?.introspect().await?;
        return Ok((found.schema, found.unmanaged));
    }
    if target.contains("://") {
        let db = Postgres::connect(target).await?;
        let Introspected { schema, unmanaged, .. } = db.introspect(namespaces).await?;
        return Ok((schema, unmanaged));
    }
    let text = std::fs::read_to_string(target)
        .map_err(|source| Error::ReadFile { path: target.to_owned(), source })?;
    let schema = Schema::from_json(&text)
        .map_err(|source| Error::Snapshot { path: target.to_owned(), source })?;
    Ok((schema, Vec::new()))
}

/// An error unless the SQLite URL `url` names a file that exists (in-memory databases and
/// other databases' URLs pass).
fn sqlite_file_must_exist(url: &str) -> Result<()> {
    let Some(rest) = url.strip_prefix("sqlite:") else { return Ok(()) };
    let path = rest.trim_start_matches("//").split('?').next().unwrap_or("");
    if path.is_empty() || crate::connector::sqlite::in_memory(url) {
        return Ok(());
    }
    if std::path::Path::new(path).exists() {
        return Ok(());
    }
    Err(Error::ReadFile {
        path: path.to_owned(),
        source: std::io::Error::new(
            std::io::ErrorKind::NotFound,
            "no such SQLite database file: only `apply` creates one (check the path)",
        ),
    })
}
