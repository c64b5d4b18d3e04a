//! # dataflow
//!
//! Keeps a relational database in step with your Rust structs. Annotate structs with
//! `#[derive(Model)]`; dataflow diffs them against the database, rates every change
//! SAFE / MEDIUM / HIGH, previews it, applies it with a rollback for every step, and
//! records it.
//!
//! ```
//! use dataflow::{model, plan_offline, schema_of, Dialect, Model, PlanOptions, Schema};
//!
//! #[derive(Model)]
//! #[dataflow(table = "users")]
//! struct User {
//!     #[dataflow(primary_key, auto)]
//!     id: i64,
//!     #[dataflow(unique, max_length = 255)]
//!     email: String,
//!     phone: Option<String>,
//! }
//!
//! let desired = schema_of(&[model::<User>()]).unwrap();
//! let plan = plan_offline(&Schema::default(), &desired, Dialect::Postgres, &PlanOptions::default()).unwrap();
//! assert_eq!(plan.steps.len(), 1); // CREATE TABLE "users" (…)
//! println!("{plan}");
//! ```
//!
//! ## The derive's attributes
//!
//! Struct level: `table = "…"` (default: the struct name in snake_case), `schema = "…"`,
//! `renamed_from = "old_table"`, `comment = "…"`, `primary_key(columns("a", "b"))` (composite key),
//! `index(columns("a", "b"), name = "…", unique, method = "gin", predicate = "a > 0")`,
//! `unique(columns("a", "b"), name = "…")`, `check = "price >= 0"` (repeatable).
//!
//! Field level: `column = "…"`, `primary_key`, `auto` (identity), `unique`, `index`,
//! `max_length = 255` (varchar), `default = <literal>` (STATIC), `default_sql = "now()"`
//! (FUNCTION), `sql_type = "numeric(10,2)"`, `references = "table.column"` (or
//! `"schema.table.column"`; without a schema the model's own), `on_delete` / `on_update`
//! (`"cascade"`, `"restrict"`, `"set null"`, `"set default"`, `"no action"`), `check = "…"`,
//! `comment = "…"`, `renamed_from = "old_name"`, `skip`, and one backfill for existing rows:
//! `backfill = "expr"` (COMPUTED), `backfill_case(when("cond", "value"), else = "value")`
//! (CONDITIONAL), `backfill_sequence(start = 1000, step = 1)` (SEQUENCE),
//! `backfill_fk(value = 1)` or `backfill_fk(table = "orgs", where = "name = 'default'")`
//! (FOREIGN KEY).
//!
//! Unknown or repeated keys are compile errors, all reported at once.

#![warn(missing_docs)]

pub use dataflow_derive::{DbEnum, Model};
pub use dataflow_schema::{
    apply, assess, diff, model, plan_models, plan_offline, schema_checksum, schema_of,
    scope_to_models, ApplyError, Assessment, Backfill, Change, CheckConstraint, Column, ColumnType,
    DefaultExpr, Dialect, EnumType, FkAction, ForeignKey, Hazard, Identity, Index, IndexMethod,
    IndexPart, Json, Literal, LockHold, LockLevel, ModelDef, ModelError, Operation, Plan,
    PlanError, PlanOptions, Preview, PreviewOptions, PrimaryKey, QualifiedName, RiskLevel,
    Rollback, SafetySummary, Schema, Sequence, SqlType, Step, Table, TableStats, UniqueConstraint,
};
pub use dataflow_schema::{DbEnum, Model};

// MySQL and MariaDB (cargo feature `mysql`).
#[cfg(feature = "mysql")]
pub use dataflow_core::{migrate_mysql_to, Mysql};
// SQLite (cargo feature `sqlite`).
#[cfg(feature = "sqlite")]
pub use dataflow_core::{migrate_sqlite_to, Sqlite};
// PostgreSQL (cargo feature `postgres`).
#[cfg(feature = "postgres")]
pub use dataflow_core::{migrate_to, ExplicitStep, MigrationPlan, Postgres};
// Talking to databases: connect, introspect, plan against models, apply, roll back. (A
// doc comment here would be shown as every item's summary.)
pub use dataflow_core::{
    AfterRollback, ApplyOptions, ApplyReport, BackfillOptions, BackfillStats, BatchSize, DataFlow,
    Error, HistoryRow, LeftBehind, MigrateOptions, MigrationReport, Mode, RollbackAnalysis,
    RunStatus, Violation,
};

/// The NOT NULL handler: `flow.not_null_handler()`, six strategies, `recommend_strategy`.
#[cfg(feature = "postgres")]
pub use dataflow_core::not_null;

/// The command line, for an application's own binary: `dataflow::cli::run_app(connect)`
/// (cargo feature `cli`).
#[cfg(feature = "cli")]
pub use dataflow_core::cli;

/// The sqlx this crate is built with: its pool types are the ones [`DataFlow::from_pool`]
/// and friends take, so an application that uses `dataflow::sqlx` never has two versions.
pub use sqlx;

/// The pure layer, for everything not re-exported at the top (dialects, naming, risk).
pub use dataflow_schema as schema;

#[doc(hidden)]
pub use dataflow_schema::__private;
