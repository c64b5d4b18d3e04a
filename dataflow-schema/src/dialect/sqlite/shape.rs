//! The shape a desired schema takes on SQLite, so that it equals what introspection reads
//! back from the tables the renderer creates:
//! - one namespace (`main`): a model with `schema = …` is an error;
//! - an auto-increment key is the rowid alias `integer PRIMARY KEY` (a 64-bit integer), and
//!   so is any single-column `integer` primary key — SQLite makes it one;
//! - unique constraints are unique indexes (created and dropped in place, no rebuild);
//! - enum columns are `text` with a CHECK listing the values;
//! - primary keys and foreign keys get canonical names (SQLite does not keep them);
//! - comments, index methods other than btree and index options SQLite lacks are left out,
//!   with a warning;
//! - arrays, sequences, exclusion constraints and generated columns are errors.

use crate::error::PlanError;
use crate::model::{
    CheckConstraint, ColumnType, Identity, Index, IndexMethod, IndexPart, QualifiedName, Schema,
    Table,
};
use crate::naming::object_name;

/// The SQLite form of `desired`, and warnings about what SQLite cannot keep.
pub fn shape(desired: &Schema) -> Result<(Schema, Vec<String>), PlanError> {
    let mut schema = desired.clone();
    let mut warnings = Vec::new();
    if let Some(sequence) = schema.sequences.first() {
        return Err(unsupported(
            format!("sequence {}", sequence.name),
            "SQLite has no sequences: use an auto-increment primary key (`auto`)",
        ));
    }
    let mut comments = 0;
    for table in &mut schema.tables {
        shape_table(table, desired, &mut warnings, &mut comments)?;
    }
    if comments > 0 {
        warnings.push(format!("SQLite keeps no comments: {comments} comment(s) are not stored"));
    }
    schema.enums.clear();
    schema.namespaces.clear();
    schema.canonicalize();
    Ok((schema, warnings))
}

fn unsupported(object: String, reason: &str) -> PlanError {
    PlanError::Unsupported { object, reason: reason.to_owned() }
}

fn shape_table(
    table: &mut Table,
    desired: &Schema,
    warnings: &mut Vec<String>,
    comments: &mut usize,
) -> Result<(), PlanError> {
    if let Some(namespace) = &table.name.schema {
        return Err(unsupported(
            format!("table {}", table.name),
            &format!("SQLite has one namespace: remove `schema = \"{namespace}\"`"),
        ));
    }
    if let Some(exclusion) = table.exclusions.first() {
        return Err(unsupported(
            format!("exclusion constraint {} on {}", exclusion.name, table.name),
            "SQLite has no exclusion constraints",
        ));
    }
    *comments += usize::from(table.comment.take().is_some());
    let name = table.name.name.clone();
    let sole_key = match &table.primary_key {
        Some(pk) if pk.columns.len() == 1 => Some(pk.columns[0].clone()),
        _ => None,
    };
    let mut enum_checks = Vec::new();
    for column in &mut table.columns {
        *comments += usize::from(column.comment.take().is_some());
        if column.generated.is_some() {
            return Err(unsupported(
                format!("column {}.{}", table.name, column.name),
                "generated columns are not supported on SQLite yet",
            ));
        }
        if let Some(collation) = column.collation.take() {
            warnings.push(format!(
                "column {}.{}: collation {collation:?} is not applied on SQLite",
                table.name, column.name
            ));
        }
        match &column.ty {
            ColumnType::Array(_) => {
                return Err(unsupported(
                    format!("column {}.{}", table.name, column.name),
                    "SQLite has no array types: store JSON (`Json<Vec<…>>`) instead",
                ))
            }
            ColumnType::Enum(type_name) => {
                let values = enum_values(desired, type_name);
                let list: Vec<String> = values.iter().map(|v| super::quote_literal(v)).collect();
                enum_checks.push(CheckConstraint {
                    name: object_name(&name, Some(&column.name), "check"),
                    expression: format!(
                        "{} IN ({})",
                        super::quote_ident(&column.name),
                        list.join(", ")
                    ),
                    not_valid: false,
                    no_inherit: false,
                });
                column.ty = ColumnType::Text;
            }
            _ => {}
        }
        let is_sole_key = sole_key.as_deref() == Some(column.name.as_str());
        if column.identity.is_some() && !is_sole_key {
            return Err(unsupported(
                format!("column {}.{}", table.name, column.name),
                "on SQLite only a single-column primary key can auto-increment",
            ));
        }
        // SQLite makes any single-column `integer` primary key the rowid alias.
        if is_sole_key && (column.identity.is_some() || column.ty == ColumnType::Integer) {
            column.ty = ColumnType::BigInt;
            column.identity = Some(Identity::ByDefault);
        }
    }
    table.checks.extend(enum_checks);
    if let Some(pk) = &mut table.primary_key {
        pk.name = object_name(&name, None, "pkey");
    }
    for fk in &mut table.foreign_keys {
        fk.name = foreign_key_name(&name, &fk.columns);
        fk.match_full = false;
        fk.not_valid = false;
        if fk.deferrable {
            warnings.push(format!(
                "foreign key {} on {}: DEFERRABLE is not applied on SQLite",
                fk.name, table.name
            ));
            fk.deferrable = false;
            fk.initially_deferred = false;
        }
    }
    // A UNIQUE constraint read from an existing table keeps SQLite's automatic index name
    // and stays a constraint; every other becomes a unique index.
    let (automatic, declared): (Vec<_>, Vec<_>) = std::mem::take(&mut table.uniques)
        .into_iter()
        .partition(|u| u.name.starts_with(AUTOMATIC_INDEX_PREFIX));
    table.uniques = automatic;
    for unique in declared {
        table.indexes.push(Index {
            name: unique.name,
            parts: unique.columns.into_iter().map(IndexPart::Column).collect(),
            unique: true,
            ..Index::default()
        });
    }
    for index in &mut table.indexes {
        if index.method != IndexMethod::Btree
            || !index.include.is_empty()
            || !index.with.is_empty()
            || index.nulls_not_distinct
        {
            warnings.push(format!(
                "index {} on {}: only a plain b-tree index is made on SQLite",
                index.name, table.name
            ));
            index.method = IndexMethod::Btree;
            index.include.clear();
            index.with.clear();
            index.nulls_not_distinct = false;
        }
    }
    Ok(())
}

/// The prefix of the indexes SQLite makes for UNIQUE and PRIMARY KEY constraints.
pub const AUTOMATIC_INDEX_PREFIX: &str = "sqlite_autoindex_";

/// The name SQLite's foreign keys get on both sides (it does not keep theirs).
pub fn foreign_key_name(table: &str, columns: &[String]) -> String {
    object_name(table, Some(&columns.join("_")), "fkey")
}

fn enum_values(schema: &Schema, name: &QualifiedName) -> Vec<String> {
    schema.enum_type(name).map(|e| e.values.clone()).unwrap_or_default()
}
