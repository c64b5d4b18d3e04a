//! SQLite SQL: what `ALTER TABLE` does in place (add, rename and some drops of columns,
//! renames of tables, indexes), and the table rebuild for everything else (RISK.md §4):
//! create the new table under a temporary name, copy the rows, drop the old table, rename
//! the new one, re-create the indexes. The connector wraps the whole plan in one
//! transaction with foreign keys off and `PRAGMA foreign_key_check` before commit, and
//! re-creates the table's triggers around a rebuild.

use super::shape::AUTOMATIC_INDEX_PREFIX;
use super::{ident_list, quote_ident, render_default, render_type};
use crate::change::{Change, Operation};
use crate::dialect::postgres::backfill_value;
use crate::model::{
    Backfill, Column, DefaultExpr, ForeignKey, Index, IndexPart, QualifiedName, Schema, Table,
};
use crate::plan::Rollback;
use std::collections::BTreeMap;

/// Up and down SQL of one change (the same shape for every dialect).
pub use crate::dialect::postgres::render::Rendered;

fn reversible(up: Vec<String>, down: Vec<String>) -> Rendered {
    Rendered { up, down: Rollback::Sql(down) }
}

/// The prefix of the temporary name a rebuilt table is created under.
pub const REBUILD_PREFIX: &str = "_dataflow_new_";

/// Renders one change (after [`coalesce`]: everything not native is a rebuild).
pub fn render(change: &Change) -> Rendered {
    match change {
        Change::CreateTable(t) => reversible(create_table(t), vec![drop_table(&t.name)]),
        Change::DropTable(t) => reversible(vec![drop_table(&t.name)], create_table(t)),
        Change::RenameTable { from, to } => {
            reversible(vec![rename_table(from, to)], vec![rename_table(to, from)])
        }
        Change::RenameColumn { table, from, to } => {
            reversible(vec![rename_column(table, from, to)], vec![rename_column(table, to, from)])
        }
        Change::AddColumn { table, column, .. } => {
            reversible(vec![add_column(table, column)], vec![drop_column(table, &column.name)])
        }
        // In place only for a column that can be added back (see `is_native`).
        Change::DropColumn { table, column, .. } => {
            reversible(vec![drop_column(table, &column.name)], vec![add_column(table, column)])
        }
        Change::AddIndex { table, index } => {
            reversible(vec![create_index(table, index)], vec![drop_index(&index.name)])
        }
        Change::DropIndex { table, index } => {
            reversible(vec![drop_index(&index.name)], vec![create_index(table, index)])
        }
        Change::RebuildTable { from, to, .. } => rebuild(from, to),
        // `coalesce` turns every other change into one of the above; a change that still
        // gets here would otherwise be silently skipped.
        other => Rendered {
            up: Vec::new(),
            down: Rollback::Irreversible {
                reason: format!("{} is not planned for SQLite", other.operation().label()),
            },
        },
    }
}

/// `CREATE TABLE` with its keys, checks and foreign keys inline (SQLite cannot add them
/// later), then its indexes.
pub fn create_table(t: &Table) -> Vec<String> {
    let mut sql = vec![create_table_as(t, &t.name.name)];
    sql.extend(t.indexes.iter().map(|index| create_index(&t.name, index)));
    sql
}

fn create_table_as(t: &Table, name: &str) -> String {
    let rowid_alias = rowid_alias(t);
    let mut lines: Vec<String> = t
        .columns
        .iter()
        .map(|c| {
            let mut line = format!("{} {}", quote_ident(&c.name), column_type(c, rowid_alias));
            if !c.nullable {
                line.push_str(" NOT NULL");
            }
            if rowid_alias == Some(c.name.as_str()) {
                line.push_str(" PRIMARY KEY");
            }
            if let Some(default) = &c.default {
                line.push_str(&format!(" DEFAULT {}", render_default(default)));
            }
            line
        })
        .collect();
    if let (Some(pk), None) = (&t.primary_key, rowid_alias) {
        lines.push(format!(
            "CONSTRAINT {} PRIMARY KEY ({})",
            quote_ident(&pk.name),
            ident_list(&pk.columns)
        ));
    }
    for check in &t.checks {
        // The application's own SQL (`check = "…"`), rendered verbatim.
        lines.push(format!("CONSTRAINT {} CHECK ({})", quote_ident(&check.name), check.expression));
    }
    for unique in &t.uniques {
        // SQLite names the index of an unnamed UNIQUE itself (`sqlite_autoindex_…`).
        if unique.name.starts_with(AUTOMATIC_INDEX_PREFIX) {
            lines.push(format!("UNIQUE ({})", ident_list(&unique.columns)));
        } else {
            lines.push(format!(
                "CONSTRAINT {} UNIQUE ({})",
                quote_ident(&unique.name),
                ident_list(&unique.columns)
            ));
        }
    }
    lines.extend(t.foreign_keys.iter().map(foreign_key_clause));
    format!("CREATE TABLE {} (\n    {}\n)", quote_ident(name), lines.join(",\n    "))
}

/// The column that is the rowid alias (`integer PRIMARY KEY`), if any.
fn rowid_alias(t: &Table) -> Option<&str> {
    let pk = t.primary_key.as_ref()?;
    let [key] = pk.columns.as_slice() else { return None };
    t.column(key).filter(|c| c.identity.is_some()).map(|c| c.name.as_str())
}

fn column_type(c: &Column, rowid_alias: Option<&str>) -> String {
    if rowid_alias == Some(c.name.as_str()) {
        // Exactly `integer`: any other spelling (bigint) would not be the rowid alias.
        "integer".into()
    } else {
        render_type(&c.ty)
    }
}

fn foreign_key_clause(fk: &ForeignKey) -> String {
    let mut sql = format!(
        "CONSTRAINT {} FOREIGN KEY ({}) REFERENCES {} ({})",
        quote_ident(&fk.name),
        ident_list(&fk.columns),
        quote_ident(&fk.ref_table.name),
        ident_list(&fk.ref_columns)
    );
    if fk.on_delete != crate::model::FkAction::NoAction {
        sql.push_str(&format!(" ON DELETE {}", fk.on_delete.as_sql()));
    }
    if fk.on_update != crate::model::FkAction::NoAction {
        sql.push_str(&format!(" ON UPDATE {}", fk.on_update.as_sql()));
    }
    sql
}

fn drop_table(name: &QualifiedName) -> String {
    format!("DROP TABLE {}", quote_ident(&name.name))
}

fn rename_table(from: &QualifiedName, to: &QualifiedName) -> String {
    format!("ALTER TABLE {} RENAME TO {}", quote_ident(&from.name), quote_ident(&to.name))
}

fn rename_column(table: &QualifiedName, from: &str, to: &str) -> String {
    format!(
        "ALTER TABLE {} RENAME COLUMN {} TO {}",
        quote_ident(&table.name),
        quote_ident(from),
        quote_ident(to)
    )
}

pub(crate) fn add_column(table: &QualifiedName, c: &Column) -> String {
    let mut sql = format!(
        "ALTER TABLE {} ADD COLUMN {} {}",
        quote_ident(&table.name),
        quote_ident(&c.name),
        render_type(&c.ty)
    );
    if !c.nullable {
        sql.push_str(" NOT NULL");
    }
    if let Some(default) = &c.default {
        sql.push_str(&format!(" DEFAULT {}", render_default(default)));
    }
    sql
}

fn drop_column(table: &QualifiedName, column: &str) -> String {
    format!("ALTER TABLE {} DROP COLUMN {}", quote_ident(&table.name), quote_ident(column))
}

/// `CREATE [UNIQUE] INDEX` (SQLite index names are database-wide, like the table's).
pub fn create_index(table: &QualifiedName, index: &Index) -> String {
    let parts = index
        .parts
        .iter()
        .enumerate()
        .map(|(i, part)| {
            let key = match part {
                IndexPart::Column(name) => quote_ident(name),
                // The application's own SQL (an expression index), parenthesised.
                IndexPart::Expression(expr) => format!("({expr})"),
            };
            match index.part_options.get(i).filter(|o| !o.is_empty()) {
                Some(options) => format!("{key} {options}"),
                None => key,
            }
        })
        .collect::<Vec<_>>()
        .join(", ");
    let mut sql = format!(
        "CREATE {}INDEX {} ON {} ({parts})",
        if index.unique { "UNIQUE " } else { "" },
        quote_ident(&index.name),
        quote_ident(&table.name)
    );
    if let Some(predicate) = &index.predicate {
        sql.push_str(&format!(" WHERE {predicate}"));
    }
    sql
}

pub(crate) fn drop_index(name: &str) -> String {
    format!("DROP INDEX {}", quote_ident(name))
}

/// Where a rebuilt table's column gets its values.
#[derive(Debug, Clone, PartialEq)]
enum Source {
    /// Copied from this column of the old table (with a fill for NULLs when the new
    /// column is NOT NULL and has one).
    Column { from: String, fill: Option<String> },
    /// A new column: computed, or the default; `None`: NULL.
    New(Option<String>),
}

/// The old table's column each new column comes from: same name, or a `renamed_from`.
fn sources(from: &Table, to: &Table) -> Vec<(String, Source)> {
    to.columns
        .iter()
        .map(|c| {
            let old = std::iter::once(&c.name)
                .chain(&c.renamed_from)
                .find(|name| from.column(name).is_some());
            let fill = fill_value(c, to);
            let source = match old {
                Some(old) => {
                    let was_nullable = from.column(old).is_some_and(|o| o.nullable);
                    let fill = if !c.nullable && was_nullable { fill } else { None };
                    Source::Column { from: old.clone(), fill }
                }
                None => Source::New(fill),
            };
            (c.name.clone(), source)
        })
        .collect()
}

/// The value a column gets where it has none: its backfill, else its default.
fn fill_value(c: &Column, table: &Table) -> Option<String> {
    if let Some(backfill) = &c.backfill {
        if let Some(value) = backfill_value(backfill) {
            return Some(value);
        }
        if let Backfill::Sequence { start, step } = backfill {
            let keys = table
                .primary_key
                .as_ref()
                .map(|pk| ident_list(&pk.columns))
                .unwrap_or_else(|| "rowid".to_owned());
            return Some(format!("{start} + (row_number() OVER (ORDER BY {keys}) - 1) * {step}"));
        }
    }
    c.default.as_ref().map(|d| match d {
        DefaultExpr::Literal(_) => render_default(d),
        DefaultExpr::Sql(sql) => format!("({sql})"),
    })
}

/// The copy of the rows from `from` into a new table shaped like `to`.
fn copy_rows(into: &str, from: &Table, sources: &[(String, Source)]) -> String {
    let columns: Vec<String> = sources.iter().map(|(name, _)| name.clone()).collect();
    let values: Vec<String> = sources
        .iter()
        .map(|(_, source)| match source {
            Source::Column { from, fill: Some(fill) } => {
                format!("COALESCE({}, {fill})", quote_ident(from))
            }
            Source::Column { from, fill: None } => quote_ident(from),
            Source::New(Some(value)) => value.clone(),
            Source::New(None) => "NULL".into(),
        })
        .collect();
    format!(
        "INSERT INTO {} ({}) SELECT {} FROM {}",
        quote_ident(into),
        ident_list(&columns),
        values.join(", "),
        quote_ident(&from.name.name)
    )
}

/// The statements that rebuild `from` as `to` (same name), rows kept.
fn rebuild_statements(from: &Table, to: &Table, sources: &[(String, Source)]) -> Vec<String> {
    let temporary = format!("{REBUILD_PREFIX}{}", to.name.name);
    let mut sql = vec![
        create_table_as(to, &temporary),
        copy_rows(&temporary, from, sources),
        drop_table(&from.name),
        format!("ALTER TABLE {} RENAME TO {}", quote_ident(&temporary), quote_ident(&to.name.name)),
    ];
    sql.extend(to.indexes.iter().map(|index| create_index(&to.name, index)));
    sql
}

/// A rebuild and the rebuild back. The way back copies the columns both tables share; a
/// NOT NULL column the new table lacks makes it irreversible (its values are gone) unless
/// the data is kept (see `keep`).
fn rebuild(from: &Table, to: &Table) -> Rendered {
    let up = rebuild_statements(from, to, &sources(from, to));
    let down = match rebuild_back(from, to, &BTreeMap::new()) {
        Ok(down) => Rollback::Sql(down),
        Err(reason) => Rollback::Irreversible { reason },
    };
    Rendered { up, down }
}

/// The columns of `from` the rebuild to `to` does not carry over.
pub fn dropped_columns(from: &Table, to: &Table) -> Vec<String> {
    let carried: Vec<String> = sources(from, to)
        .into_iter()
        .filter_map(|(_, source)| match source {
            Source::Column { from, .. } => Some(from),
            Source::New(_) => None,
        })
        .collect();
    from.columns.iter().map(|c| c.name.clone()).filter(|c| !carried.contains(c)).collect()
}

/// The statements that rebuild `to` back into `from`: shared columns copied back,
/// `restored` columns (dropped by the rebuild) computed by the given expressions, other
/// dropped columns NULL or their default. `Err` when a dropped NOT NULL column has no value.
pub fn rebuild_back(
    from: &Table,
    to: &Table,
    restored: &BTreeMap<String, String>,
) -> Result<Vec<String>, String> {
    let forward = sources(from, to);
    let renamed: BTreeMap<&str, &str> = forward
        .iter()
        .filter_map(|(new, source)| match source {
            Source::Column { from, .. } => Some((from.as_str(), new.as_str())),
            Source::New(_) => None,
        })
        .collect();
    let mut back = Vec::new();
    for c in &from.columns {
        let source = match (renamed.get(c.name.as_str()), restored.get(&c.name)) {
            (Some(new), _) => Source::Column { from: (*new).to_owned(), fill: None },
            (None, Some(expression)) => Source::New(Some(expression.clone())),
            (None, None) if c.nullable || c.default.is_some() => Source::New(fill_value(c, from)),
            (None, None) => {
                return Err(format!(
                    "{}.{} is NOT NULL without a default and the rebuild drops it: its values \
                     are gone",
                    from.name, c.name
                ))
            }
        };
        back.push((c.name.clone(), source));
    }
    let mut plain_from = from.clone();
    plain_from.name = to.name.clone();
    Ok(rebuild_statements(to, &plain_from, &back))
}

/// Turns the differ's changes into what SQLite can run: changes its `ALTER TABLE` makes
/// in place stay; all changes of a table that needs anything else become one
/// [`Change::RebuildTable`]. Foreign keys of new tables go into their `CREATE TABLE`.
pub fn coalesce(current: &Schema, desired: &Schema, changes: Vec<Change>) -> Vec<Change> {
    let created: Vec<QualifiedName> = changes
        .iter()
        .filter_map(|c| match c {
            Change::CreateTable(t) => Some(t.name.clone()),
            _ => None,
        })
        .collect();
    let dropped: Vec<QualifiedName> = changes
        .iter()
        .filter_map(|c| match c {
            Change::DropTable(t) => Some(t.name.clone()),
            _ => None,
        })
        .collect();
    // The current table behind each table name after renames.
    let renamed: BTreeMap<QualifiedName, QualifiedName> = changes
        .iter()
        .filter_map(|c| match c {
            Change::RenameTable { from, to } => Some((to.clone(), from.clone())),
            _ => None,
        })
        .collect();
    // A dropped foreign key names its table as it was before the renames (it is dropped
    // first); its rebuild is the renamed table's.
    let new_name: BTreeMap<QualifiedName, QualifiedName> =
        renamed.iter().map(|(to, from)| (from.clone(), to.clone())).collect();
    let key_of = |change: &Change| -> QualifiedName {
        let table = change.subject();
        match change {
            Change::DropForeignKey { .. } => new_name.get(table).unwrap_or(table).clone(),
            _ => table.clone(),
        }
    };
    let mut rebuilt: BTreeMap<QualifiedName, Vec<Operation>> = BTreeMap::new();
    for change in &changes {
        let key = key_of(change);
        let table = &key;
        let per_table = !matches!(
            change,
            Change::CreateTable(_) | Change::DropTable(_) | Change::RenameTable { .. }
        );
        if !per_table || created.contains(table) || dropped.contains(table) {
            continue;
        }
        let old_name = renamed.get(table).unwrap_or(table);
        let native = current.table(old_name).is_some_and(|old| is_native(change, old, current));
        if !native {
            rebuilt.entry(table.clone()).or_default();
        }
    }
    let mut out = Vec::new();
    for change in changes {
        let table = key_of(&change);
        match change {
            Change::CreateTable(mut t) => {
                if let Some(wanted) = desired.table(&t.name) {
                    t.foreign_keys = wanted.foreign_keys.clone();
                }
                out.push(Change::CreateTable(t));
            }
            // Part of the CREATE TABLE, or gone with the dropped table.
            Change::AddForeignKey { .. } if created.contains(&table) => {}
            // SQLite keeps no names of primary and foreign keys (both sides use canonical
            // ones), so renaming them is nothing to do.
            Change::RenameConstraint { ref from, .. }
                if unnamed_constraint(
                    current.table(renamed.get(&table).unwrap_or(&table)),
                    from,
                ) => {}
            Change::DropForeignKey { .. } if dropped.contains(&table) => {}
            // The differ lifts a dropped table's foreign keys into their own changes; on
            // SQLite they go with the table, and its way back re-creates them.
            Change::DropTable(mut t) => {
                if let Some(old) = current.table(&t.name) {
                    t.foreign_keys = old.foreign_keys.clone();
                }
                out.push(Change::DropTable(t));
            }
            Change::RenameTable { .. } => out.push(change),
            other => match rebuilt.get_mut(&table) {
                Some(covers) => covers.push(other.operation()),
                None => match other {
                    Change::RenameIndex { table, from, to } => {
                        let old = current
                            .table(renamed.get(&table).unwrap_or(&table))
                            .and_then(|t| t.indexes.iter().find(|i| i.name == from).cloned());
                        let new = desired
                            .table(&table)
                            .and_then(|t| t.indexes.iter().find(|i| i.name == to).cloned());
                        if let (Some(mut old), Some(new)) = (old, new) {
                            // The drop runs after the plan's column renames: its rollback
                            // re-creates the index with the names the columns have then.
                            if let Some(wanted) = desired.table(&table) {
                                for part in &mut old.parts {
                                    if let IndexPart::Column(column) = part {
                                        if let Some(renamed) = wanted
                                            .columns
                                            .iter()
                                            .find(|c| c.renamed_from.contains(column))
                                        {
                                            *column = renamed.name.clone();
                                        }
                                    }
                                }
                            }
                            out.push(Change::DropIndex { table: table.clone(), index: old });
                            out.push(Change::AddIndex { table, index: new });
                        }
                    }
                    other => out.push(other),
                },
            },
        }
    }
    for (name, covers) in rebuilt {
        let old_name = renamed.get(&name).unwrap_or(&name);
        let (Some(old), Some(new)) = (current.table(old_name), desired.table(&name)) else {
            continue;
        };
        let mut from = old.clone();
        from.name = name.clone();
        let mut to = new.clone();
        to.renamed_from.clear();
        out.push(Change::RebuildTable { from: Box::new(from), to: Box::new(to), covers });
    }
    crate::change::sort_changes(&mut out);
    out
}

/// Whether `name` is the primary key or a foreign key of `table`: names SQLite does not keep.
fn unnamed_constraint(table: Option<&Table>, name: &str) -> bool {
    table.is_some_and(|t| {
        t.primary_key.as_ref().is_some_and(|pk| pk.name == name)
            || t.foreign_keys.iter().any(|fk| fk.name == name)
    })
}

/// Whether SQLite's `ALTER TABLE` makes `change` in place on table `old` (RISK.md §4).
fn is_native(change: &Change, old: &Table, current: &Schema) -> bool {
    match change {
        Change::RenameColumn { .. }
        | Change::AddIndex { .. }
        | Change::RenameIndex { .. }
        | Change::SetComment { .. } => true,
        Change::DropIndex { index, .. } => !index.name.starts_with(AUTOMATIC_INDEX_PREFIX),
        Change::RenameConstraint { from, .. } => unnamed_constraint(Some(old), from),
        Change::AddColumn { column, .. } => {
            let constant_default = matches!(column.default, Some(DefaultExpr::Literal(_)));
            column.backfill.is_none()
                && column.identity.is_none()
                && (column.nullable || constant_default)
                && (column.default.is_none() || constant_default)
        }
        Change::DropColumn { column, .. } => {
            let name = column.name.as_str();
            let in_key =
                old.primary_key.as_ref().is_some_and(|pk| pk.columns.iter().any(|c| c == name));
            let indexed = old.indexes.iter().any(|i| {
                i.parts.iter().any(|p| match p {
                    IndexPart::Column(c) => c == name,
                    IndexPart::Expression(e) => e.contains(name),
                }) || i.predicate.as_deref().is_some_and(|p| p.contains(name))
            });
            let unique = old.uniques.iter().any(|u| u.columns.iter().any(|c| c == name));
            let checked = old.checks.iter().any(|c| c.expression.contains(name));
            let keyed = old.foreign_keys.iter().any(|fk| fk.columns.iter().any(|c| c == name));
            let referenced = current.tables.iter().any(|t| {
                t.foreign_keys
                    .iter()
                    .any(|fk| fk.ref_table == old.name && fk.ref_columns.iter().any(|c| c == name))
            });
            // A NOT NULL column without a default could not be added back in place.
            let restorable = column.nullable || column.default.is_some();
            restorable && !(in_key || indexed || unique || checked || keyed || referenced)
        }
        _ => false,
    }
}
