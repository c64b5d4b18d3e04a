//! Destructive steps that keep the data (invariant 6, ARCHITECTURE.md): once the migrator knows
//! the run's version, a dropped table is renamed into the trash and a dropped column's
//! values are copied into a backup table first, so the rollback restores data, not just
//! the schema. `dataflow purge` empties the trash later.

use super::render::create_table_constraint_names;
use super::{ident_list, qualified, quote_ident};
use crate::change::Change;
use crate::checksum::sha256_hex;
use crate::model::{Column, QualifiedName, Table};
use crate::naming::{clip, POSTGRES_MAX_IDENTIFIER};
use crate::plan::Plan;

/// `<prefix><version>_<rest>`, cut to the identifier limit with a 6-hex hash of the
/// full name appended when it is too long.
pub fn engine_name(prefix: &str, version: &str, rest: &str) -> String {
    let full = format!("{prefix}{version}_{rest}");
    if full.len() <= POSTGRES_MAX_IDENTIFIER {
        return full;
    }
    let hash = &sha256_hex(&full)[..6];
    format!("{}_{hash}", clip(&full, POSTGRES_MAX_IDENTIFIER - 7))
}

/// The trash name of a dropped table.
pub fn trash_name(version: &str, table: &str) -> String {
    engine_name("_dataflow_trash_", version, table)
}

/// The backup table of a dropped column.
pub fn backup_name(version: &str, table: &str, column: &str) -> String {
    engine_name("_dataflow_backup_", version, &format!("{table}_{column}"))
}

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
        Change::DropEnum(enum_type) => Some(trash_enum(&enum_type.name, version)),
        _ => None,
    });
}

/// Renames a dropped enum type into the trash: the trash and backup tables this or an
/// earlier run kept may still have columns of it (they could not be dropped with it).
fn trash_enum(name: &QualifiedName, version: &str) -> Kept {
    let trash = engine_name("_dataflow_trash_", version, &name.name);
    let in_trash = QualifiedName { schema: name.schema.clone(), name: trash.clone() };
    let up = vec![format!("ALTER TYPE {} RENAME TO {}", qualified(name), quote_ident(&trash))];
    let down =
        vec![format!("ALTER TYPE {} RENAME TO {}", qualified(&in_trash), quote_ident(&name.name))];
    let reason = format!(
        "the type is kept as {in_trash} (kept rows may use it) until `dataflow purge`; \
         the rollback renames it back"
    );
    (up, down, reason)
}

use crate::dialect::Kept;

/// Renames the table and its index-backed names (indexes, primary key, unique and
/// exclusion constraints live in the namespace-wide relation namespace) out of the way,
/// and its NOT NULL constraints (PostgreSQL 18 picks a free name namespace-wide: a table
/// re-created beside the trash would get `…_not_null1`).
fn trash_table(table: &Table, version: &str) -> Kept {
    let trash = QualifiedName {
        schema: table.name.schema.clone(),
        name: trash_name(version, &table.name.name),
    };
    let mut up = vec![format!(
        "ALTER TABLE {} RENAME TO {}",
        qualified(&table.name),
        quote_ident(&trash.name)
    )];
    let mut down = Vec::new();
    let not_nulls = table.columns.iter().filter_map(|c| c.not_null_constraint.clone());
    for constraint in create_table_constraint_names(table).into_iter().chain(not_nulls) {
        let moved = engine_name("_dataflow_trash_", version, &constraint);
        up.push(format!(
            "ALTER TABLE {} RENAME CONSTRAINT {} TO {}",
            qualified(&trash),
            quote_ident(&constraint),
            quote_ident(&moved)
        ));
        down.push(format!(
            "ALTER TABLE {} RENAME CONSTRAINT {} TO {}",
            qualified(&trash),
            quote_ident(&moved),
            quote_ident(&constraint)
        ));
    }
    for index in &table.indexes {
        let moved = engine_name("_dataflow_trash_", version, &index.name);
        let in_schema =
            |name: &str| QualifiedName { schema: table.name.schema.clone(), name: name.to_owned() };
        up.push(format!(
            "ALTER INDEX {} RENAME TO {}",
            qualified(&in_schema(&index.name)),
            quote_ident(&moved)
        ));
        down.push(format!(
            "ALTER INDEX {} RENAME TO {}",
            qualified(&in_schema(&moved)),
            quote_ident(&index.name)
        ));
    }
    down.push(format!(
        "ALTER TABLE {} RENAME TO {}",
        qualified(&trash),
        quote_ident(&table.name.name)
    ));
    let reason =
        format!("its rows are kept in {trash} until `dataflow purge`; the rollback restores them");
    (up, down, reason)
}

/// Copies (primary key, values) into a backup table, then drops the column; the rollback
/// re-adds the column and restores the values by key.
fn backup_column(
    table: &QualifiedName,
    column: &Column,
    primary_key: &[String],
    version: &str,
) -> Kept {
    let backup = QualifiedName {
        schema: table.schema.clone(),
        name: backup_name(version, &table.name, &column.name),
    };
    let col = quote_ident(&column.name);
    let keys = ident_list(primary_key);
    let up = vec![
        format!(
            "CREATE TABLE {} AS SELECT {keys}, {col} FROM {}",
            qualified(&backup),
            qualified(table)
        ),
        format!("ALTER TABLE {} DROP COLUMN {col}", qualified(table)),
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
            "ALTER TABLE {} ADD COLUMN {}",
            qualified(table),
            super::column_definition(&restored)
        ),
        format!(
            "UPDATE {} AS target SET {col} = backup.{col} FROM {} AS backup WHERE {join}",
            qualified(table),
            qualified(&backup)
        ),
    ];
    if !column.nullable {
        down.push(super::render::set_not_null(
            table,
            &column.name,
            column.not_null_constraint.as_deref(),
        ));
    }
    if let Some(text) = &column.comment {
        down.push(format!(
            "COMMENT ON COLUMN {}.{col} IS {}",
            qualified(table),
            super::quote_literal(text)
        ));
    }
    let reason = format!(
        "its values are copied into {backup} first (as of the copy; code must no longer write the column); \
         the rollback restores them"
    );
    (up, down, reason)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_engine_names_are_cut_and_hashed() {
        let name = trash_name("20261123150000_abcdef12", &"t".repeat(60));
        assert_eq!(name.len(), 63);
        assert!(name.starts_with("_dataflow_trash_20261123150000_abcdef12_ttt"));
        assert_ne!(name, trash_name("20261123150000_abcdef12", &format!("{}x", "t".repeat(60))));
        assert_eq!(trash_name("v1", "users"), "_dataflow_trash_v1_users");
    }
}
