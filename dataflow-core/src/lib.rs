//! The runtime of dataflow: connections, introspection, the migrator and the command
//! line's logic. Everything that does IO lives here; `dataflow-schema` stays pure.
//!
//! The PostgreSQL, SQLite and MySQL/MariaDB connectors (introspection, applying plans),
//! the migrator, the terminal preview and prompt, and the command line's logic (see
//! ARCHITECTURE.md).

#![warn(missing_docs)]

pub mod cli;
pub mod connector;
pub mod error;
pub mod history;
pub mod interrupt;
mod lent;
pub mod migrator;
pub mod options;
mod orphans;
mod policy;
pub mod report;
mod reverse;
pub mod sessions;
pub mod terminal;

pub use connector::mysql::migrator::migrate_mysql_to;
pub use connector::mysql::Mysql;
pub use connector::postgres::explicit::{ExplicitStep, MigrationPlan};
pub use connector::postgres::{lock, not_null, Postgres};
pub use connector::sqlite::migrator::migrate_sqlite_to;
pub use connector::sqlite::Sqlite;
pub use error::{Error, LeftBehind, Result, Violation};
pub use history::{HistoryRow, RunStatus};
pub use migrator::{migrate_to, DataFlow, Database};
pub use options::{
    AfterRollback, ApplyOptions, BackfillOptions, BatchSize, ConfirmHook, MigrateOptions, Mode,
};
pub use report::{ApplyReport, BackfillStats, GroupTiming, MigrationReport, RollbackAnalysis};
