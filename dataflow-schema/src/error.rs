//! Errors of the pure schema layer. Each message says what, where, why and what to do.

use crate::model::QualifiedName;
use thiserror::Error;

/// A set of models that cannot form one schema.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum ModelError {
    /// Two models map to the same table.
    #[error(
        "{first} and {second} both map to table {table}: give one of them \
         #[dataflow(table = \"…\")]"
    )]
    DuplicateTable {
        /// The table.
        table: QualifiedName,
        /// The first model (its Rust type when known).
        first: String,
        /// The second.
        second: String,
    },
    /// Two enums share a type name but not their values.
    #[error(
        "enum type {name} is defined twice with different values ({first:?} and {second:?}): \
         rename one with #[dataflow(name = \"…\")]"
    )]
    ConflictingEnum {
        /// The type name.
        name: QualifiedName,
        /// Values of the first definition.
        first: Vec<String>,
        /// Values of the second definition.
        second: Vec<String>,
    },
    /// A foreign key names a column its modelled target does not have.
    #[error(
        "foreign key {constraint} on {table} references {target}.{column}, \
         but the model of {target} has no column {column}: fix `references = \"…\"`"
    )]
    UnknownReference {
        /// The referencing table.
        table: String,
        /// The constraint name.
        constraint: String,
        /// The referenced table.
        target: String,
        /// The missing column.
        column: String,
    },
}

/// A plan that cannot be made. Nothing has been changed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum PlanError {
    /// Model mode: a foreign key to a table no registered model names and the database
    /// does not have (the table would be created, then the key would fail).
    #[error(
        "foreign key {constraint} on {table} references table {target}, which no registered \
         model names and the database does not have: register its model (`.model::<…>()`), or \
         fix `references = \"…\"`"
    )]
    UnknownReferencedTable {
        /// The referencing table.
        table: String,
        /// The constraint name.
        constraint: String,
        /// The referenced table.
        target: String,
    },
    /// A foreign key to columns the database cannot reference: the referenced table has
    /// no primary key or unique constraint on exactly them (MySQL: no index begins with
    /// them). The server would refuse the key after the plan's earlier steps ran.
    #[error(
        "foreign key {constraint} on {table} references {target} ({columns}), which {reason}: \
         reference its primary key, or make ({columns}) unique on {target} (`unique` on the \
         field, or `unique(columns(…))` on the model)"
    )]
    UnreferenceableKey {
        /// The referencing table.
        table: String,
        /// The constraint name.
        constraint: String,
        /// The referenced table.
        target: String,
        /// The referenced columns, comma-separated.
        columns: String,
        /// What the referenced table lacks.
        reason: &'static str,
    },
    /// SQL from a model attribute that is not one expression (it could end the statement
    /// it is placed in and start another).
    #[error(
        "{object}: {text:?} is not a single SQL expression: {reason}; write one expression \
         (dataflow places it inside its own statement)"
    )]
    InvalidSql {
        /// Where it is (e.g. `check users_check on users`).
        object: String,
        /// The text.
        text: String,
        /// What is wrong.
        reason: String,
    },
    /// An identifier the server would reject or silently alter.
    #[error("{object} has an invalid name {name:?}: {reason}")]
    InvalidIdentifier {
        /// What is named (e.g. `column users.email`).
        object: String,
        /// The name.
        name: String,
        /// Why it is invalid and what to do.
        reason: String,
    },
    /// A literal the server cannot store (e.g. a NUL byte).
    #[error("{object}: {reason}")]
    InvalidLiteral {
        /// Where the literal is used.
        object: String,
        /// Why it is invalid and what to do.
        reason: String,
    },
    /// A NOT NULL column without a value for the rows a table already has.
    #[error(
        "column {table}.{column} is NOT NULL without a default and the table has ~{rows} rows: \
         add `default`, `backfill`, or make it Option<…>"
    )]
    NotNullWithoutValue {
        /// The table.
        table: QualifiedName,
        /// The column.
        column: String,
        /// Estimated rows.
        rows: u64,
    },
    /// A backfill that needs a primary key on a table without one.
    #[error(
        "column {table}.{column}: backfill_sequence numbers rows in primary-key order, but the \
         table has no primary key: add one or use another backfill"
    )]
    BackfillNeedsPrimaryKey {
        /// The table.
        table: QualifiedName,
        /// The column.
        column: String,
    },
    /// Something the dialect cannot represent.
    #[error("{object}: {reason}")]
    Unsupported {
        /// What (e.g. `table app.users`).
        object: String,
        /// Why, and what to do instead.
        reason: String,
    },
    /// A rename hint that points nowhere or at something ambiguous.
    #[error("{object}: renamed_from = {from:?} {reason}")]
    BadRename {
        /// The renamed object.
        object: String,
        /// The hinted old name.
        from: String,
        /// What is wrong and what to do.
        reason: String,
    },
}
