//! The pure core of dataflow: the schema model, Rust → SQL type mapping, the differ,
//! risk rating, plans and SQL rendering per dialect.
//!
//! **Invariant:** this crate does no IO (no database, no files, no async). Every plan is
//! a pure function of its inputs and can be snapshot-tested offline.

#![warn(missing_docs)]

pub mod apply;
pub mod change;
pub mod checksum;
pub mod dialect;
mod dialects;
pub mod diff;
pub mod error;
pub mod file_format;
pub mod fragment;
pub mod introspect;
#[doc(hidden)]
pub mod invariants;
pub mod model;
pub mod models;
pub mod naming;
pub mod normalize;
pub mod not_null;
pub mod plan;
mod plan_options;
mod planner;
pub mod preview;
pub mod risk;
mod setters;
pub mod sql_type;
mod type_change;
pub mod validate;

pub use apply::{apply, ApplyError};
pub use change::{Change, Operation};
pub use checksum::schema_checksum;
pub use dialect::assess;
pub use dialect::Dialect;
pub use diff::diff;
pub use error::{ModelError, PlanError};
pub use model::{
    Backfill, CheckConstraint, Column, ColumnType, DefaultExpr, EnumType, FkAction, ForeignKey,
    Identity, Index, IndexMethod, IndexPart, Literal, PrimaryKey, QualifiedName, Schema, Sequence,
    Table, TableStats, UniqueConstraint,
};
pub use models::{model, schema_of, DbEnum, Model, ModelDef};
pub use plan::{Batched, LockLevel, Plan, PlanOptions, Rollback, Step};
pub use planner::{check_referenced_tables, plan_models, plan_offline, scope_to_models};
pub use preview::{LockHold, Preview, PreviewOptions, SafetySummary};
pub use risk::{Assessment, Hazard, RiskLevel};
pub use sql_type::{Json, SqlType};

/// Items the derive macros' generated code uses. Not public API: may change in any release.
#[doc(hidden)]
pub mod __private {
    pub use crate::model::{
        Backfill, CheckConstraint, Column, ColumnType, DefaultExpr, EnumType, FkAction, ForeignKey,
        Identity, Index, IndexMethod, IndexPart, Literal, PrimaryKey, QualifiedName, Table,
        UniqueConstraint,
    };
    pub use crate::models::{finish_table, DbEnum, Model};
    pub use crate::naming::object_name;
    pub use crate::sql_type::SqlType;
    pub use std::option::Option::{self, None, Some};
    pub use std::string::String;
    pub use std::vec::Vec;
}
