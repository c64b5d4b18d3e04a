//! Destructive steps that keep the data (invariant 6, ARCHITECTURE.md), as on PostgreSQL: a
//! dropped table is renamed into the trash (its indexes, checks and foreign keys go
//! with it: on MySQL they belong to the table), a dropped column's values are copied
//! into a backup table first. The rollback restores them; `dataflow purge` empties the
//! trash later. Names are the PostgreSQL ones (`keep::trash_name`, `keep::backup_name`).

use super::{column_definition, ident_list, quote_ident};
use crate::change::Change;
use crate::dialect::postgres::keep::{backup_name, trash_name};
use crate::model::{Column, QualifiedName, Table};
use crate::plan::Plan;

/// Rewrites the plan's table and column drops to keep their data.
pub fn keep_data(plan: &mut Plan, version: &str) {
    crate::dialect::keep_drops(plan, |change, _| match change {
        Change::DropTable(table) => Some(trash_table(table, version)),
        // A generated column's values come back with it: nothing to keep.
        Change::DropColumn { table, column, primary_key }
            if !primary_key.is_empty() && column.generated.is_none() =>
        {
            Some(backup_column(table, column, primary_key, version))
        }
        _ => None,
    });
}

use crate::dialect::Kept;

fn trash_table(table: &Table, version: &str) -> Kept {
    let trash = trash_name(version, &table.name.name);
    let rename =
        |a: &str, b: &str| format!("RENAME TABLE {} TO {}", quote_ident(a), quote_ident(b));
    (
        vec![rename(&table.name.name, &trash)],
        vec![rename(&trash, &table.name.name)],
        format!("its rows are kept in {trash} until `dataflow purge`; the rollback restores them"),
    )
}

fn backup_column(
    table: &QualifiedName,
    column: &Column,
    primary_key: &[String],
    version: &str,
) -> Kept {
    let backup = backup_name(version, &table.name, &column.name);
    let col = quote_ident(&column.name);
    let keys = ident_list(primary_key);
    let up = vec![
        format!(
            "CREATE TABLE {} AS SELECT {keys}, {col} FROM {}",
            quote_ident(&backup),
            quote_ident(&table.name)
        ),
        format!(
            "ALTER TABLE {} DROP COLUMN {col}, {}",
            quote_ident(&table.name),
            super::render::ONLINE
        ),
    ];
    let mut restored = column.clone();
    restored.nullable = true;
    let join = primary_key
        .iter()
        .map(|k| format!("target.{k} = backup.{k}", k = quote_ident(k)))
        .collect::<Vec<_>>()
        .join(" AND ");
    let mut down = vec![
        format!(
            "ALTER TABLE {} ADD COLUMN {}, {}",
            quote_ident(&table.name),
            column_definition(&restored),
            super::render::INSTANT
        ),
        format!(
            "UPDATE {} AS target JOIN {} AS backup ON {join} SET target.{col} = backup.{col}",
            quote_ident(&table.name),
            quote_ident(&backup)
        ),
    ];
    if !column.nullable {
        down.push(format!(
            "ALTER TABLE {} MODIFY COLUMN {}, {}",
            quote_ident(&table.name),
            column_definition(column),
            super::render::ONLINE
        ));
    }
    let reason = format!(
        "its values are copied into {backup} first (as of the copy; code must no longer write the column); \
         the rollback restores them"
    );
    (up, down, reason)
}
