//! Applies changes to a schema in memory: what the database would look like afterwards.
//!
//! Used to check the differ (`apply(a, diff(a, b))` equals `b`) and to predict the schema
//! a plan leads to without a database.

use crate::change::Change;
use crate::model::{IndexPart, Schema};
use thiserror::Error;

/// A change that does not fit the schema it is applied to.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("cannot apply {operation} to {subject}: {reason}")]
pub struct ApplyError {
    /// The operation.
    pub operation: &'static str,
    /// The table or type it works on.
    pub subject: String,
    /// What is missing or in the way.
    pub reason: String,
}

/// Returns `schema` with `changes` applied in order. Desired-side metadata (rename hints,
/// backfill rules) is carried along as the changes hold it; statistics are kept.
pub fn apply(schema: &Schema, changes: &[Change]) -> Result<Schema, ApplyError> {
    let mut schema = schema.clone();
    for change in changes {
        apply_one(&mut schema, change).map_err(|reason| ApplyError {
            operation: change.operation().label(),
            subject: change.subject().to_string(),
            reason,
        })?;
    }
    schema.canonicalize();
    Ok(schema)
}

/// Applies one change to `schema` in place (not re-canonicalised): the schema as it is
/// when the plan's next step runs.
pub fn apply_change(schema: &mut Schema, change: &Change) -> Result<(), ApplyError> {
    apply_one(schema, change).map_err(|reason| ApplyError {
        operation: change.operation().label(),
        subject: change.subject().to_string(),
        reason,
    })
}

fn remove_named<T>(items: &mut Vec<T>, name: &str, get: impl Fn(&T) -> &str) -> Result<(), String> {
    let before = items.len();
    items.retain(|item| get(item) != name);
    if items.len() == before {
        return Err(format!("{name} does not exist"));
    }
    Ok(())
}

fn apply_one(schema: &mut Schema, change: &Change) -> Result<(), String> {
    match change {
        Change::CreateNamespace { name } => schema.namespaces.push(name.name.clone()),
        Change::ValidateConstraint { table, name } => {
            let t = schema.table_mut(table).ok_or("no such table")?;
            let checks = t.checks.iter_mut().filter(|c| &c.name == name).map(|c| &mut c.not_valid);
            let fks =
                t.foreign_keys.iter_mut().filter(|c| &c.name == name).map(|c| &mut c.not_valid);
            let mut found = false;
            for flag in checks.chain(fks) {
                *flag = false;
                found = true;
            }
            if !found {
                return Err(format!("no check or foreign key {name}"));
            }
        }
        Change::CreateEnum(e) => schema.enums.push(e.clone()),
        Change::AlterEnum { to, .. } => {
            let existing =
                schema.enums.iter_mut().find(|e| e.name == to.name).ok_or("no such enum")?;
            *existing = to.clone();
        }
        Change::DropEnum(e) => {
            let before = schema.enums.len();
            schema.enums.retain(|x| x.name != e.name);
            if before == schema.enums.len() {
                return Err("no such enum".into());
            }
        }
        Change::CreateSequence(s) => schema.sequences.push(s.clone()),
        Change::AlterSequence { to, .. } => {
            let existing = schema
                .sequences
                .iter_mut()
                .find(|s| s.name == to.name)
                .ok_or("no such sequence")?;
            *existing = to.clone();
        }
        Change::DropSequence(s) => {
            let before = schema.sequences.len();
            schema.sequences.retain(|x| x.name != s.name);
            if before == schema.sequences.len() {
                return Err("no such sequence".into());
            }
        }
        Change::CreateTable(t) => {
            if schema.table(&t.name).is_some() {
                return Err("the table already exists".into());
            }
            schema.tables.push(t.clone());
        }
        Change::RebuildTable { to, .. } => {
            let table = schema.table_mut(&to.name).ok_or("no such table")?;
            *table = (**to).clone();
        }
        Change::DropTable(t) => {
            let before = schema.tables.len();
            schema.tables.retain(|x| x.name != t.name);
            if before == schema.tables.len() {
                return Err("no such table".into());
            }
        }
        Change::RenameTable { from, to } => {
            if schema.table(to).is_some() {
                return Err(format!("{to} already exists"));
            }
            for table in &mut schema.tables {
                for fk in &mut table.foreign_keys {
                    if &fk.ref_table == from {
                        fk.ref_table = to.clone();
                    }
                }
            }
            schema.table_mut(from).ok_or("no such table")?.name = to.clone();
        }
        Change::RenameColumn { table, from, to } => {
            let t = schema.table_mut(table).ok_or("no such table")?;
            if t.column(to).is_some() {
                return Err(format!("column {to} already exists"));
            }
            t.column_mut(from).ok_or("no such column")?.name = to.clone();
            let rename = |names: &mut Vec<String>| {
                names.iter_mut().filter(|n| *n == from).for_each(|n| *n = to.clone())
            };
            if let Some(pk) = &mut t.primary_key {
                rename(&mut pk.columns);
            }
            t.uniques.iter_mut().for_each(|u| rename(&mut u.columns));
            t.foreign_keys.iter_mut().for_each(|f| rename(&mut f.columns));
            for index in &mut t.indexes {
                for part in &mut index.parts {
                    if matches!(part, IndexPart::Column(c) if c == from) {
                        *part = IndexPart::Column(to.clone());
                    }
                }
            }
            // The servers rewrite expressions that name the column.
            let renames = [(from.as_str(), to.as_str())];
            let rewrite =
                |text: &mut String| *text = crate::normalize::rename_identifiers(text, &renames);
            t.checks.iter_mut().for_each(|c| rewrite(&mut c.expression));
            for index in &mut t.indexes {
                if let Some(predicate) = &mut index.predicate {
                    rewrite(predicate);
                }
                for part in &mut index.parts {
                    if let IndexPart::Expression(expression) = part {
                        rewrite(expression);
                    }
                }
            }
            for other in &mut schema.tables {
                for fk in other.foreign_keys.iter_mut().filter(|f| &f.ref_table == table) {
                    fk.ref_columns.iter_mut().filter(|n| *n == from).for_each(|n| *n = to.clone());
                }
            }
        }
        Change::RenameIndex { table, from, to } => {
            let t = schema.table_mut(table).ok_or("no such table")?;
            t.indexes.iter_mut().find(|i| &i.name == from).ok_or("no such index")?.name =
                to.clone();
        }
        Change::RenameConstraint { table, from, to } => {
            let t = schema.table_mut(table).ok_or("no such table")?;
            let mut found = false;
            for name in t
                .primary_key
                .iter_mut()
                .map(|k| &mut k.name)
                .chain(t.uniques.iter_mut().map(|k| &mut k.name))
                .chain(t.checks.iter_mut().map(|k| &mut k.name))
                .chain(t.foreign_keys.iter_mut().map(|k| &mut k.name))
                .chain(t.exclusions.iter_mut().map(|k| &mut k.name))
                .chain(t.columns.iter_mut().filter_map(|c| c.not_null_constraint.as_mut()))
            {
                if name == from {
                    *name = to.clone();
                    found = true;
                }
            }
            if !found {
                return Err(format!("no constraint {from}"));
            }
        }
        Change::DropForeignKey { table, foreign_key } => {
            let t = schema.table_mut(table).ok_or("no such table")?;
            remove_named(&mut t.foreign_keys, &foreign_key.name, |k| &k.name)?;
        }
        Change::AddForeignKey { table, foreign_key } => {
            schema.table_mut(table).ok_or("no such table")?.foreign_keys.push(foreign_key.clone());
        }
        Change::DropIndex { table, index } => {
            let t = schema.table_mut(table).ok_or("no such table")?;
            remove_named(&mut t.indexes, &index.name, |k| &k.name)?;
        }
        Change::AddIndex { table, index } => {
            schema.table_mut(table).ok_or("no such table")?.indexes.push(index.clone());
        }
        Change::DropUnique { table, unique } => {
            let t = schema.table_mut(table).ok_or("no such table")?;
            remove_named(&mut t.uniques, &unique.name, |k| &k.name)?;
        }
        Change::AddUnique { table, unique } => {
            schema.table_mut(table).ok_or("no such table")?.uniques.push(unique.clone());
        }
        Change::DropExclusion { table, exclusion } => {
            let t = schema.table_mut(table).ok_or("no such table")?;
            remove_named(&mut t.exclusions, &exclusion.name, |k| &k.name)?;
        }
        Change::AddExclusion { table, exclusion } => {
            schema.table_mut(table).ok_or("no such table")?.exclusions.push(exclusion.clone());
        }
        Change::DropCheck { table, check } => {
            let t = schema.table_mut(table).ok_or("no such table")?;
            remove_named(&mut t.checks, &check.name, |k| &k.name)?;
        }
        Change::AddCheck { table, check } => {
            schema.table_mut(table).ok_or("no such table")?.checks.push(check.clone());
        }
        Change::DropPrimaryKey { table, .. } => {
            let t = schema.table_mut(table).ok_or("no such table")?;
            t.primary_key.take().ok_or("no primary key")?;
        }
        Change::AddPrimaryKey { table, primary_key } => {
            let t = schema.table_mut(table).ok_or("no such table")?;
            if t.primary_key.is_some() {
                return Err("the table already has a primary key".into());
            }
            t.primary_key = Some(primary_key.clone());
        }
        Change::DropColumn { table, column, .. } => {
            let t = schema.table_mut(table).ok_or("no such table")?;
            remove_named(&mut t.columns, &column.name, |c| &c.name)?;
        }
        Change::AddColumn { table, column, .. } => {
            let t = schema.table_mut(table).ok_or("no such table")?;
            if t.column(&column.name).is_some() {
                return Err(format!("column {} already exists", column.name));
            }
            t.columns.push(column.clone());
        }
        Change::AlterColumnType { table, column, to, to_collation, also, .. } => {
            let c = column_mut(schema, table, column)?;
            c.ty = to.clone();
            c.collation = to_collation.clone();
            for carried in also {
                apply_one(schema, carried)?;
            }
        }
        Change::SetDefault { table, column, to, .. } => {
            column_mut(schema, table, column)?.default = Some(to.clone());
        }
        Change::DropDefault { table, column, .. } => {
            column_mut(schema, table, column)?.default = None
        }
        Change::DropNotNull { table, column, .. } => {
            let column = column_mut(schema, table, column)?;
            column.nullable = true;
            column.not_null_constraint = None;
        }
        Change::SetNotNull { table, column, .. } => {
            column_mut(schema, table, &column.name)?.nullable = false;
        }
        Change::AlterIdentity { table, column, to, .. } => {
            column_mut(schema, table, column)?.identity = *to;
        }
        Change::SetComment { table, column, to, .. } => {
            let t = schema.table_mut(table).ok_or("no such table")?;
            match column {
                Some(column) => t.column_mut(column).ok_or("no such column")?.comment = to.clone(),
                None => t.comment = to.clone(),
            }
        }
    }
    Ok(())
}

fn column_mut<'a>(
    schema: &'a mut Schema,
    table: &crate::model::QualifiedName,
    column: &str,
) -> Result<&'a mut crate::model::Column, String> {
    schema
        .table_mut(table)
        .ok_or_else(|| "no such table".to_owned())?
        .column_mut(column)
        .ok_or_else(|| format!("no column {column}"))
}
