//! The runtime of dataflow: connections, introspection, the migrator and the command
//! line's logic. Everything that does IO lives here; `dataflow-schema` stays pure.
//!
//! The PostgreSQL, SQLite and MySQL/MariaDB connectors (introspection, applying plans),
//! the migrator, the terminal preview and prompt, and the command line's logic (see
//! ARCHITECTURE.md).

#![warn(missing_docs)]

#[cfg(feature = "cli")]
pub mod cli;
pub mod connector;
pub mod error;
pub mod history;
#[cfg(feature = "cli")]
pub mod interrupt;
#[cfg(any(feature = "postgres", feature = "sqlite"))]
mod lent;
mod migrate;
pub mod migrator;
pub mod options;
mod orphans;
mod policy;
pub mod report;
mod reverse;
// Server sessions exist on PostgreSQL and MySQL (SQLite is a file).
#[cfg(any(feature = "postgres", feature = "mysql"))]
pub mod sessions;
pub mod terminal;

#[cfg(feature = "mysql")]
pub use connector::mysql::{contract::migrate_mysql_to, Mysql};
#[cfg(feature = "postgres")]
pub use connector::postgres::explicit::{ExplicitStep, MigrationPlan};
#[cfg(feature = "postgres")]
pub use connector::postgres::{contract::migrate_to, lock, not_null, Postgres};
#[cfg(feature = "sqlite")]
pub use connector::sqlite::{contract::migrate_sqlite_to, Sqlite};
pub use error::{Error, LeftBehind, Result, Violation};
pub use history::{HistoryRow, RunStatus};
pub use migrator::{DataFlow, Database};
pub use options::{
    AfterRollback, ApplyOptions, BackfillOptions, BatchSize, ConfirmHook, MigrateOptions, Mode,
};
pub use report::{ApplyReport, BackfillStats, GroupTiming, MigrationReport, RollbackAnalysis};
