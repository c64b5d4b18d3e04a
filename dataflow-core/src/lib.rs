//! The runtime of dataflow: connections, introspection, the migrator and the command
//! line's logic. Everything that does IO lives here; `dataflow-schema` stays pure.
//!
//! The PostgreSQL, SQLite and MySQL/MariaDB connectors (introspection, applying plans),
//! the migrator, the terminal preview and prompt, and the command line's logic (see
//! ARCHITECTURE.md).

#![warn(missing_docs)]

pub mod backfill;
pub mod cli;
pub mod error;
pub mod explicit;
pub mod history;
pub mod lock;
pub mod migrator;
pub mod mysql;
pub mod mysql_history;
mod mysql_migrator;
pub mod not_null;
mod orphans;
pub mod postgres;
pub mod preflight;
mod reverse;
pub mod sqlite;
pub mod sqlite_history;
mod sqlite_migrator;
pub mod terminal;

pub use backfill::{BackfillOptions, BackfillStats, BatchSize};
pub use error::{Error, Result};
pub use explicit::{ExplicitStep, MigrationPlan};
pub use history::HistoryRow;
pub use migrator::{
    migrate_to, DataFlow, Database, MigrateOptions, MigrationReport, Mode, RollbackAnalysis,
};
pub use mysql::Mysql;
pub use mysql_migrator::migrate_mysql_to;
pub use postgres::{ApplyOptions, ApplyReport, GroupTiming, Postgres};
pub use preflight::Violation;
pub use sqlite::Sqlite;
pub use sqlite_migrator::migrate_sqlite_to;
