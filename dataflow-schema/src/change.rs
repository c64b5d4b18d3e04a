//! One logical difference between two schemas, and the one place that orders them.

use crate::model::{
    CheckConstraint, Column, ColumnType, DefaultExpr, EnumType, ExclusionConstraint, ForeignKey,
    Identity, Index, PrimaryKey, QualifiedName, Sequence, Table, UniqueConstraint,
};
use serde::{Deserialize, Serialize};

/// A single difference between the current and the desired schema.
///
/// Changes carry everything their rendering and their rollback need (a dropped table
/// carries its definition), so a plan can be rendered without the two schemas.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Change {
    /// A namespace (PostgreSQL schema) the desired tables or types live in.
    CreateNamespace {
        /// The namespace, as `name` (its `schema` is unused).
        name: QualifiedName,
    },
    /// A new enum type.
    CreateEnum(EnumType),
    /// Values added to (or removed from) an enum type.
    AlterEnum {
        /// The type as it is.
        from: EnumType,
        /// The type as it should be.
        to: EnumType,
        /// Current columns of this type, `(table, column, default)`: a removal re-types them.
        columns: Vec<(QualifiedName, String, Option<DefaultExpr>)>,
    },
    /// A new sequence.
    CreateSequence(Sequence),
    /// A sequence's increment or start changed.
    AlterSequence {
        /// As it is.
        from: Sequence,
        /// As it should be.
        to: Sequence,
    },
    /// A foreign key dropped.
    DropForeignKey {
        /// Table holding the key.
        table: QualifiedName,
        /// The key.
        foreign_key: ForeignKey,
    },
    /// A table dropped (with its definition, for the rollback).
    DropTable(Table),
    /// A table renamed (`renamed_from`).
    RenameTable {
        /// Old name.
        from: QualifiedName,
        /// New name.
        to: QualifiedName,
    },
    /// A column renamed (`renamed_from`).
    RenameColumn {
        /// Table (new name).
        table: QualifiedName,
        /// Old column name.
        from: String,
        /// New column name.
        to: String,
    },
    /// An index dropped.
    DropIndex {
        /// Table.
        table: QualifiedName,
        /// The index.
        index: Index,
    },
    /// A unique constraint dropped.
    DropUnique {
        /// Table.
        table: QualifiedName,
        /// The constraint.
        unique: UniqueConstraint,
    },
    /// A check constraint dropped.
    DropCheck {
        /// Table.
        table: QualifiedName,
        /// The constraint.
        check: CheckConstraint,
    },
    /// An exclusion constraint dropped.
    DropExclusion {
        /// Table.
        table: QualifiedName,
        /// The constraint.
        exclusion: ExclusionConstraint,
    },
    /// The primary key dropped.
    DropPrimaryKey {
        /// Table.
        table: QualifiedName,
        /// The key.
        primary_key: PrimaryKey,
    },
    /// An index renamed (same definition, new name: e.g. after a table rename).
    RenameIndex {
        /// Table.
        table: QualifiedName,
        /// Old name.
        from: String,
        /// New name.
        to: String,
    },
    /// A constraint renamed (same definition, new name).
    RenameConstraint {
        /// Table.
        table: QualifiedName,
        /// Old name.
        from: String,
        /// New name.
        to: String,
    },
    /// A column dropped (with its definition, for the rollback).
    DropColumn {
        /// Table.
        table: QualifiedName,
        /// The column.
        column: Column,
        /// The table's primary key when the drop runs (empty if it has none then): the
        /// key of the backup that keeps the values.
        primary_key: Vec<String>,
    },
    /// A column added.
    AddColumn {
        /// Table.
        table: QualifiedName,
        /// The column, with its backfill rule if any.
        column: Column,
        /// The table's primary key (a sequence backfill walks it).
        primary_key: Vec<String>,
    },
    /// A column's type (or collation) changed.
    AlterColumnType {
        /// Table.
        table: QualifiedName,
        /// Column.
        column: String,
        /// Current type.
        from: ColumnType,
        /// Desired type.
        to: ColumnType,
        /// Current collation.
        from_collation: Option<String>,
        /// Desired collation.
        to_collation: Option<String>,
        /// The plan's other changes to this column (default, nullability, comment) that
        /// the same statement makes: MySQL's `MODIFY COLUMN` restates the whole column, so
        /// a type change carries them instead of each restating it again.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        also: Vec<Change>,
    },
    /// A column's default set or changed.
    SetDefault {
        /// Table.
        table: QualifiedName,
        /// Column.
        column: String,
        /// Current default.
        from: Option<DefaultExpr>,
        /// Desired default.
        to: DefaultExpr,
    },
    /// A column's default removed.
    DropDefault {
        /// Table.
        table: QualifiedName,
        /// Column.
        column: String,
        /// Current default.
        from: DefaultExpr,
    },
    /// A column became nullable.
    DropNotNull {
        /// Table.
        table: QualifiedName,
        /// Column.
        column: String,
        /// PostgreSQL 18: the NOT NULL constraint's name, which the rollback gives back.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        constraint: Option<String>,
    },
    /// Identity (auto-increment) added, removed or changed.
    AlterIdentity {
        /// Table.
        table: QualifiedName,
        /// Column.
        column: String,
        /// Current identity.
        from: Option<Identity>,
        /// Desired identity.
        to: Option<Identity>,
    },
    /// A column became NOT NULL; existing NULLs are filled from `column`'s default or
    /// backfill first, when it has one.
    SetNotNull {
        /// Table.
        table: QualifiedName,
        /// The desired column.
        column: Column,
        /// The table's primary key (a sequence backfill walks it).
        primary_key: Vec<String>,
    },
    /// A table or column comment changed.
    SetComment {
        /// Table.
        table: QualifiedName,
        /// Column, or `None` for the table's comment.
        column: Option<String>,
        /// Current comment.
        from: Option<String>,
        /// Desired comment.
        to: Option<String>,
    },
    /// A table created (without foreign keys: those are added last).
    CreateTable(Table),
    /// A primary key added.
    AddPrimaryKey {
        /// Table.
        table: QualifiedName,
        /// The key.
        primary_key: PrimaryKey,
    },
    /// A unique constraint added.
    AddUnique {
        /// Table.
        table: QualifiedName,
        /// The constraint.
        unique: UniqueConstraint,
    },
    /// A check constraint added.
    AddCheck {
        /// Table.
        table: QualifiedName,
        /// The constraint.
        check: CheckConstraint,
    },
    /// An exclusion constraint added.
    AddExclusion {
        /// Table.
        table: QualifiedName,
        /// The constraint.
        exclusion: ExclusionConstraint,
    },
    /// An index added.
    AddIndex {
        /// Table.
        table: QualifiedName,
        /// The index.
        index: Index,
    },
    /// SQLite: the table rebuilt to a new definition (new table, rows copied, old table
    /// dropped, new one renamed, indexes re-created) because SQLite's `ALTER TABLE` cannot
    /// make the change in place. It stands for all of the table's changes.
    RebuildTable {
        /// The table as it is.
        from: Box<Table>,
        /// The table as it should be (same name; columns may carry `renamed_from` and
        /// `backfill`, which the copy uses).
        to: Box<Table>,
        /// What the rebuild carries out, for the preview.
        covers: Vec<Operation>,
    },
    /// A constraint added `NOT VALID` is checked against existing rows.
    ValidateConstraint {
        /// Table.
        table: QualifiedName,
        /// Constraint name.
        name: String,
    },
    /// A foreign key added.
    AddForeignKey {
        /// Table.
        table: QualifiedName,
        /// The key.
        foreign_key: ForeignKey,
    },
    /// A sequence dropped.
    DropSequence(Sequence),
    /// An enum type dropped.
    DropEnum(EnumType),
}

/// The coarse execution phases. **Order matters**: the declaration order is the
/// execution order, and every rule is explained here, in the one place that orders steps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Phase {
    /// Types and sequences first: new columns and re-typed columns use them.
    Types,
    /// Foreign keys go before anything they point at can change or disappear (dropped
    /// tables, dropped unique constraints, re-typed columns).
    DropForeignKeys,
    /// Dropped tables go before renames and creates: their names (and their indexes'
    /// names, which are namespace-wide on PostgreSQL) may be reused.
    DropTables,
    /// Table renames go before per-table work, which uses the new names.
    RenameTables,
    /// All other work on one existing table, as one group (one short transaction).
    AlterTable,
    /// New tables, after the types they use exist.
    CreateTables,
    /// Foreign keys last: every table and referenced key exists by now, cycles included.
    AddForeignKeys,
    /// Types and sequences no column uses any more.
    DropTypes,
}

impl Change {
    /// The change's phase (see [`Phase`]).
    pub fn phase(&self) -> Phase {
        match self {
            Change::CreateNamespace { .. }
            | Change::CreateEnum(_)
            | Change::AlterEnum { .. }
            | Change::CreateSequence(_)
            | Change::AlterSequence { .. } => Phase::Types,
            Change::DropForeignKey { .. } => Phase::DropForeignKeys,
            Change::DropTable(_) => Phase::DropTables,
            Change::RenameTable { .. } => Phase::RenameTables,
            Change::CreateTable(_) => Phase::CreateTables,
            Change::AddForeignKey { .. } => Phase::AddForeignKeys,
            Change::DropSequence(_) | Change::DropEnum(_) => Phase::DropTypes,
            Change::RenameColumn { .. }
            | Change::DropIndex { .. }
            | Change::DropUnique { .. }
            | Change::DropCheck { .. }
            | Change::DropExclusion { .. }
            | Change::AddExclusion { .. }
            | Change::DropPrimaryKey { .. }
            | Change::DropColumn { .. }
            | Change::RenameIndex { .. }
            | Change::RenameConstraint { .. }
            | Change::AddColumn { .. }
            | Change::AlterColumnType { .. }
            | Change::SetDefault { .. }
            | Change::DropDefault { .. }
            | Change::DropNotNull { .. }
            | Change::AlterIdentity { .. }
            | Change::SetNotNull { .. }
            | Change::SetComment { .. }
            | Change::AddPrimaryKey { .. }
            | Change::AddUnique { .. }
            | Change::AddCheck { .. }
            | Change::AddIndex { .. }
            | Change::RebuildTable { .. }
            | Change::ValidateConstraint { .. } => Phase::AlterTable,
        }
    }

    /// The table a change works on, or the type/sequence name for type changes.
    pub fn subject(&self) -> &QualifiedName {
        match self {
            Change::CreateNamespace { name } => name,
            Change::CreateEnum(e) | Change::DropEnum(e) => &e.name,
            Change::AlterEnum { to, .. } => &to.name,
            Change::CreateSequence(s) | Change::DropSequence(s) => &s.name,
            Change::AlterSequence { to, .. } => &to.name,
            Change::DropTable(t) | Change::CreateTable(t) => &t.name,
            Change::RebuildTable { to, .. } => &to.name,
            Change::RenameTable { to, .. } => to,
            Change::DropForeignKey { table, .. }
            | Change::RenameColumn { table, .. }
            | Change::DropIndex { table, .. }
            | Change::DropUnique { table, .. }
            | Change::DropCheck { table, .. }
            | Change::DropExclusion { table, .. }
            | Change::AddExclusion { table, .. }
            | Change::DropPrimaryKey { table, .. }
            | Change::DropColumn { table, .. }
            | Change::RenameIndex { table, .. }
            | Change::RenameConstraint { table, .. }
            | Change::AddColumn { table, .. }
            | Change::AlterColumnType { table, .. }
            | Change::SetDefault { table, .. }
            | Change::DropDefault { table, .. }
            | Change::DropNotNull { table, .. }
            | Change::AlterIdentity { table, .. }
            | Change::SetNotNull { table, .. }
            | Change::SetComment { table, .. }
            | Change::AddPrimaryKey { table, .. }
            | Change::AddUnique { table, .. }
            | Change::AddCheck { table, .. }
            | Change::AddIndex { table, .. }
            | Change::ValidateConstraint { table, .. }
            | Change::AddForeignKey { table, .. } => table,
        }
    }

    /// The operation kind, as shown in previews and accepted by `exclude_operations`.
    pub fn operation(&self) -> Operation {
        match self {
            Change::CreateNamespace { .. } => Operation::CreateNamespace,
            Change::CreateEnum(_) => Operation::CreateEnum,
            Change::AlterEnum { .. } => Operation::AlterEnum,
            Change::DropEnum(_) => Operation::DropEnum,
            Change::CreateSequence(_) => Operation::CreateSequence,
            Change::AlterSequence { .. } => Operation::AlterSequence,
            Change::DropSequence(_) => Operation::DropSequence,
            Change::DropForeignKey { .. } => Operation::DropForeignKey,
            Change::DropTable(_) => Operation::DropTable,
            Change::RenameTable { .. } => Operation::RenameTable,
            Change::RenameColumn { .. } => Operation::RenameColumn,
            Change::DropIndex { .. } => Operation::DropIndex,
            Change::DropUnique { .. } => Operation::DropUnique,
            Change::DropCheck { .. } => Operation::DropCheck,
            Change::DropExclusion { .. } => Operation::DropExclusion,
            Change::AddExclusion { .. } => Operation::AddExclusion,
            Change::DropPrimaryKey { .. } => Operation::DropPrimaryKey,
            Change::DropColumn { .. } => Operation::DropColumn,
            Change::RenameIndex { .. } => Operation::RenameIndex,
            Change::RenameConstraint { .. } => Operation::RenameConstraint,
            Change::AddColumn { .. } => Operation::AddColumn,
            Change::AlterColumnType { .. } => Operation::AlterColumnType,
            Change::SetDefault { .. } => Operation::SetDefault,
            Change::DropDefault { .. } => Operation::DropDefault,
            Change::DropNotNull { .. } => Operation::DropNotNull,
            Change::AlterIdentity { to: None, .. } => Operation::DropIdentity,
            Change::AlterIdentity { to: Some(_), .. } => Operation::AddIdentity,
            Change::SetNotNull { .. } => Operation::SetNotNull,
            Change::SetComment { .. } => Operation::SetComment,
            Change::CreateTable(_) => Operation::CreateTable,
            Change::AddPrimaryKey { .. } => Operation::AddPrimaryKey,
            Change::AddUnique { .. } => Operation::AddUnique,
            Change::AddCheck { .. } => Operation::AddCheck,
            Change::AddIndex { .. } => Operation::AddIndex,
            Change::ValidateConstraint { .. } => Operation::ValidateConstraint,
            Change::AddForeignKey { .. } => Operation::AddForeignKey,
            Change::RebuildTable { .. } => Operation::RebuildTable,
        }
    }

    /// The name of the object inside the table (column, index, constraint), for ordering
    /// and display.
    pub fn object_name(&self) -> &str {
        match self {
            Change::DropForeignKey { foreign_key, .. }
            | Change::AddForeignKey { foreign_key, .. } => &foreign_key.name,
            Change::RenameColumn { to, .. }
            | Change::RenameIndex { to, .. }
            | Change::RenameConstraint { to, .. } => to,
            Change::DropIndex { index, .. } | Change::AddIndex { index, .. } => &index.name,
            Change::DropUnique { unique, .. } | Change::AddUnique { unique, .. } => &unique.name,
            Change::DropCheck { check, .. } | Change::AddCheck { check, .. } => &check.name,
            Change::DropExclusion { exclusion, .. } | Change::AddExclusion { exclusion, .. } => {
                &exclusion.name
            }
            Change::DropPrimaryKey { primary_key, .. }
            | Change::AddPrimaryKey { primary_key, .. } => &primary_key.name,
            Change::DropColumn { column, .. }
            | Change::AddColumn { column, .. }
            | Change::SetNotNull { column, .. } => &column.name,
            Change::AlterColumnType { column, .. }
            | Change::SetDefault { column, .. }
            | Change::DropDefault { column, .. }
            | Change::DropNotNull { column, .. }
            | Change::AlterIdentity { column, .. } => column,
            Change::SetComment { column, .. } => column.as_deref().unwrap_or(""),
            Change::ValidateConstraint { name, .. } => name,
            Change::CreateNamespace { .. }
            | Change::CreateEnum(_)
            | Change::AlterEnum { .. }
            | Change::DropEnum(_)
            | Change::CreateSequence(_)
            | Change::AlterSequence { .. }
            | Change::DropSequence(_)
            | Change::DropTable(_)
            | Change::RenameTable { .. }
            | Change::RebuildTable { .. }
            | Change::CreateTable(_) => "",
        }
    }

    /// The total execution order: phase, then table, then operation kind inside the
    /// table's group (drops before adds, so names and columns are free again; column
    /// changes before the constraints and indexes that use them), then object name.
    pub fn sort_key(&self) -> (Phase, &QualifiedName, Operation, &str) {
        (self.phase(), self.subject(), self.operation(), self.object_name())
    }
}

/// Sorts changes into execution order (see [`Phase`] and [`Change::sort_key`]).
pub fn sort_changes(changes: &mut [Change]) {
    changes.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
}

/// Operation kinds. Inside one table's group the declaration order is the execution order:
/// renames first (later steps use new names), then drops (freeing names; indexes and
/// constraints before the columns they use), then column additions and alterations, then
/// the constraints and indexes that need those columns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[allow(missing_docs)]
#[non_exhaustive]
pub enum Operation {
    CreateNamespace,
    CreateEnum,
    AlterEnum,
    CreateSequence,
    AlterSequence,
    DropForeignKey,
    DropTable,
    RenameTable,
    RenameColumn,
    DropIndex,
    DropUnique,
    DropCheck,
    DropExclusion,
    // Identity and defaults exclude each other, and identity needs NOT NULL: drop the
    // identity before defaults change, add it after NOT NULL is set, and drop NOT NULL
    // only once the identity is gone. A default that cannot be cast to a column's new
    // type is dropped before the type changes and set again after. MySQL keeps an
    // AUTO_INCREMENT column in a key: the identity goes before the primary key does, and
    // the key comes before the identity.
    DropIdentity,
    DropPrimaryKey,
    DropColumn,
    RenameIndex,
    RenameConstraint,
    AddColumn,
    DropDefault,
    AlterColumnType,
    SetDefault,
    SetNotNull,
    AddPrimaryKey,
    AddIdentity,
    DropNotNull,
    SetComment,
    CreateTable,
    AddUnique,
    AddCheck,
    AddExclusion,
    AddIndex,
    // SQLite: a table's changes made by copying it, after its native changes.
    RebuildTable,
    // Validation scans existing rows without blocking them: after every instant step.
    ValidateConstraint,
    AddForeignKey,
    DropSequence,
    DropEnum,
}

impl Operation {
    /// The label shown in previews (`ADD COLUMN`, …).
    pub fn label(self) -> &'static str {
        match self {
            Operation::CreateNamespace => "CREATE SCHEMA",
            Operation::CreateEnum => "CREATE ENUM",
            Operation::AlterEnum => "ALTER ENUM",
            Operation::CreateSequence => "CREATE SEQUENCE",
            Operation::AlterSequence => "ALTER SEQUENCE",
            Operation::DropForeignKey => "DROP FOREIGN KEY",
            Operation::DropTable => "DROP TABLE",
            Operation::RenameTable => "RENAME TABLE",
            Operation::RenameColumn => "RENAME COLUMN",
            Operation::DropIndex => "DROP INDEX",
            Operation::DropUnique => "DROP UNIQUE",
            Operation::DropCheck => "DROP CHECK",
            Operation::DropExclusion => "DROP EXCLUSION",
            Operation::AddExclusion => "ADD EXCLUSION",
            Operation::DropPrimaryKey => "DROP PRIMARY KEY",
            Operation::DropColumn => "DROP COLUMN",
            Operation::RenameIndex => "RENAME INDEX",
            Operation::RenameConstraint => "RENAME CONSTRAINT",
            Operation::AddColumn => "ADD COLUMN",
            Operation::AlterColumnType => "ALTER COLUMN TYPE",
            Operation::DropDefault => "DROP DEFAULT",
            Operation::SetDefault => "SET DEFAULT",
            Operation::DropNotNull => "DROP NOT NULL",
            Operation::DropIdentity => "DROP IDENTITY",
            Operation::AddIdentity => "ADD IDENTITY",
            Operation::SetNotNull => "SET NOT NULL",
            Operation::SetComment => "SET COMMENT",
            Operation::CreateTable => "CREATE TABLE",
            Operation::AddPrimaryKey => "ADD PRIMARY KEY",
            Operation::AddUnique => "ADD UNIQUE",
            Operation::AddCheck => "ADD CHECK",
            Operation::AddIndex => "ADD INDEX",
            Operation::ValidateConstraint => "VALIDATE CONSTRAINT",
            Operation::RebuildTable => "REBUILD TABLE",
            Operation::AddForeignKey => "ADD FOREIGN KEY",
            Operation::DropSequence => "DROP SEQUENCE",
            Operation::DropEnum => "DROP ENUM",
        }
    }
}
