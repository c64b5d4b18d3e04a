//! Destructive steps that keep the data on SQLite (invariant 6, ARCHITECTURE.md), once the
//! migrator knows the run's version: a dropped table's rows are copied into the trash, and
//! the values of dropped columns are copied into a backup table keyed by the primary key
//! before the column goes, so the rollback restores data, not just the schema.
//! `dataflow purge` empties the trash later.

use super::render::{add_column, create_table, dropped_columns, rebuild_back};
use super::{ident_list, quote_ident};
use crate::change::Change;
use crate::dialect::postgres::keep::{backup_name, trash_name};
use crate::model::{Column, QualifiedName, Table};
use crate::plan::Plan;
use std::collections::BTreeMap;

/// Rewrites the plan's table and column drops to keep their data.
pub fn keep_data(plan: &mut Plan, version: &str) {
    crate::dialect::keep_drops(plan, |change, step| match change {
        Change::DropTable(table) => Some(trash_table(table, version, &step.up)),
        Change::DropColumn { table, column, primary_key } if !primary_key.is_empty() => {
            Some(backup_column(table, column, primary_key, version, &step.up))
        }
        Change::RebuildTable { from, to, .. } => backup_rebuilt(from, to, version, &step.up),
        _ => None,
    });
}

use crate::dialect::Kept;

/// The rows are copied into a plain trash table (no keys, so nothing in it constrains the
/// application's tables) before the table is dropped; the rollback re-creates the table
/// with its keys and indexes and copies the rows back.
fn trash_table(table: &Table, version: &str, drop: &[String]) -> Kept {
    let trash = trash_name(version, &table.name.name);
    let columns: Vec<String> = table.columns.iter().map(|c| c.name.clone()).collect();
    let mut up = vec![format!(
        "CREATE TABLE {} AS SELECT {} FROM {}",
        quote_ident(&trash),
        ident_list(&columns),
        quote_ident(&table.name.name)
    )];
    up.extend(drop.iter().cloned());
    let mut down = create_table(table);
    down.insert(
        1,
        format!(
            "INSERT INTO {} ({cols}) SELECT {cols} FROM {}",
            quote_ident(&table.name.name),
            quote_ident(&trash),
            cols = ident_list(&columns)
        ),
    );
    down.push(format!("DROP TABLE {}", quote_ident(&trash)));
    let reason =
        format!("its rows are kept in {trash} until `dataflow purge`; the rollback restores them");
    (up, down, reason)
}

/// `CREATE TABLE backup AS SELECT <key>, <columns> FROM table`.
fn copy_out(
    table: &QualifiedName,
    columns: &[String],
    primary_key: &[String],
    backup: &str,
) -> String {
    let mut selected = primary_key.to_vec();
    selected.extend(columns.iter().cloned());
    format!(
        "CREATE TABLE {} AS SELECT {} FROM {}",
        quote_ident(backup),
        ident_list(&selected),
        quote_ident(&table.name)
    )
}

/// The value of `column` for the current row of `table`, looked up in the backup by key.
fn restore_expression(
    table: &QualifiedName,
    column: &str,
    primary_key: &[String],
    backup: &str,
) -> String {
    let join = primary_key
        .iter()
        .map(|k| format!("backup.{k} = {}.{k}", quote_ident(&table.name), k = quote_ident(k)))
        .collect::<Vec<_>>()
        .join(" AND ");
    format!(
        "(SELECT backup.{} FROM {} AS backup WHERE {join})",
        quote_ident(column),
        quote_ident(backup)
    )
}

fn backup_column(
    table: &QualifiedName,
    column: &Column,
    primary_key: &[String],
    version: &str,
    drop: &[String],
) -> Kept {
    let backup = backup_name(version, &table.name, &column.name);
    let mut up = vec![copy_out(table, std::slice::from_ref(&column.name), primary_key, &backup)];
    up.extend(drop.iter().cloned());
    let down = vec![
        add_column(table, column),
        format!(
            "UPDATE {} SET {} = {}",
            quote_ident(&table.name),
            quote_ident(&column.name),
            restore_expression(table, &column.name, primary_key, &backup)
        ),
    ];
    let reason = format!(
        "its values are copied into {backup} first (as of the copy); the rollback restores them"
    );
    (up, down, reason)
}

/// A rebuild that drops columns copies their values out first; the rebuild back takes them
/// from there. Without a primary key there is nothing to match rows by: not kept.
fn backup_rebuilt(from: &Table, to: &Table, version: &str, rebuild: &[String]) -> Option<Kept> {
    let dropped = dropped_columns(from, to);
    let primary_key = from.primary_key.as_ref()?.columns.clone();
    if dropped.is_empty() || dropped.iter().any(|c| primary_key.contains(c)) {
        return None;
    }
    let backup = backup_name(version, &from.name.name, &dropped.join("_"));
    let restored: BTreeMap<String, String> = dropped
        .iter()
        .map(|c| (c.clone(), restore_expression(&to.name, c, &primary_key, &backup)))
        .collect();
    let down = rebuild_back(from, to, &restored).ok()?;
    let mut up = vec![copy_out(&from.name, &dropped, &primary_key, &backup)];
    up.extend(rebuild.iter().cloned());
    let reason = format!(
        "the values of {} are copied into {backup} first (as of the copy); the rollback restores them",
        dropped.join(", ")
    );
    Some((up, down, reason))
}
