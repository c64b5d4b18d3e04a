//! MySQL/MariaDB SQL for each change, up and down. Every `ALTER TABLE` names its
//! `ALGORITHM` and `LOCK` (RISK.md §3): the server then refuses (ER 1845/1846) instead of
//! silently falling back to a blocking copy, and the connector retries with the next
//! algorithm of [`fallback`] when the run's risk policy allows it.
//!
//! `MODIFY COLUMN` needs the whole column definition (a part left out is reset), so the
//! renderer takes both schemas: a column change renders the desired column in full and
//! its down the current one. Every such step is idempotent, so a step retried after a
//! kill does no harm.

use super::{column_definition, fill_value, ident_list, quote_ident, quote_literal};
use crate::change::Change;
use crate::model::{
    Backfill, CheckConstraint, Column, DefaultExpr, FkAction, ForeignKey, Index, IndexPart,
    PrimaryKey, QualifiedName, Schema, Table,
};
use crate::plan::Rollback;

pub use crate::dialect::postgres::render::Rendered;

/// Metadata-only or instant: nobody waits beyond the brief metadata lock.
pub const INSTANT: &str = "ALGORITHM=INSTANT";
/// Built in place while reads and writes go on.
pub const ONLINE: &str = "ALGORITHM=INPLACE, LOCK=NONE";
/// The table is copied while writes wait.
pub const COPY: &str = "ALGORITHM=COPY, LOCK=SHARED";

/// The next algorithm to try when the server refuses `sql`'s (ER 1845/1846): instant →
/// online → copy. `None` when there is none left.
pub fn fallback(sql: &str) -> Option<String> {
    if let Some(head) = sql.strip_suffix(INSTANT) {
        return Some(format!("{head}{ONLINE}"));
    }
    sql.strip_suffix(ONLINE).map(|head| format!("{head}{COPY}"))
}

/// Whether `sql` (a fallback) blocks writes.
pub fn blocks_writes(sql: &str) -> bool {
    sql.ends_with(COPY)
}

fn reversible(up: Vec<String>, down: Vec<String>) -> Rendered {
    Rendered { up, down: Rollback::Sql(down) }
}

fn alter(table: &QualifiedName, action: &str, algorithm: &str) -> String {
    format!("ALTER TABLE {} {action}, {algorithm}", quote_ident(&table.name))
}

/// Renders one change; `current` and `desired` are the plan's two (shaped) schemas.
pub fn render(change: &Change, current: &Schema, desired: &Schema) -> Rendered {
    let columns = Columns { current, desired };
    match change {
        Change::CreateTable(t) => reversible(vec![create_table(t)], vec![drop_table(&t.name)]),
        Change::DropTable(t) => reversible(vec![drop_table(&t.name)], vec![create_table(t)]),
        Change::RenameTable { from, to } => {
            reversible(vec![rename_table(from, to)], vec![rename_table(to, from)])
        }
        Change::RenameColumn { table, from, to } => {
            let rename = |a: &str, b: &str| {
                alter(
                    table,
                    &format!("RENAME COLUMN {} TO {}", quote_ident(a), quote_ident(b)),
                    ONLINE,
                )
            };
            reversible(vec![rename(from, to)], vec![rename(to, from)])
        }
        Change::AddColumn { table, column, primary_key } => {
            reversible(add_column(table, column, primary_key), vec![drop_column(table, column)])
        }
        Change::DropColumn { table, column, .. } => {
            reversible(vec![drop_column(table, column)], vec![add_plain_column(table, column)])
        }
        Change::AlterColumnType { table, column, .. }
        | Change::DropNotNull { table, column, .. }
        | Change::AlterIdentity { table, column, .. }
        | Change::SetComment { table, column: Some(column), .. } => {
            columns.modify(table, column, algorithm_of(change), &[])
        }
        Change::SetNotNull { table, column, primary_key } => {
            let fill = fill_nulls(table, column, primary_key);
            columns.modify(table, &column.name, ONLINE, &fill)
        }
        Change::SetDefault { table, column, to, from } => reversible(
            vec![set_default(table, column, Some(to))],
            vec![set_default(table, column, from.as_ref())],
        ),
        Change::DropDefault { table, column, from } => reversible(
            vec![set_default(table, column, None)],
            vec![set_default(table, column, Some(from))],
        ),
        Change::SetComment { table, column: None, to, from } => {
            let comment = |text: &Option<String>| {
                alter(
                    table,
                    &format!("COMMENT = {}", quote_literal(text.as_deref().unwrap_or_default())),
                    ONLINE,
                )
            };
            reversible(vec![comment(to)], vec![comment(from)])
        }
        Change::AddPrimaryKey { table, primary_key } => match columns.replaced_key(table) {
            // A replaced key is swapped in one statement, after the plan's new columns
            // exist: an AUTO_INCREMENT column is never keyless (MySQL refuses that), and
            // the table is rebuilt once, in place.
            Some(old) => reversible(
                vec![replace_key(table, &primary_key.columns)],
                vec![replace_key(table, &old.columns)],
            ),
            None => reversible(
                vec![alter(
                    table,
                    &format!("ADD PRIMARY KEY ({})", ident_list(&primary_key.columns)),
                    ONLINE,
                )],
                vec![alter(table, "DROP PRIMARY KEY", COPY)],
            ),
        },
        Change::DropPrimaryKey { table, primary_key } => match columns.replaced_key(table) {
            Some(_) => reversible(Vec::new(), Vec::new()),
            None => reversible(
                vec![alter(table, "DROP PRIMARY KEY", COPY)],
                vec![alter(
                    table,
                    &format!("ADD PRIMARY KEY ({})", ident_list(&primary_key.columns)),
                    ONLINE,
                )],
            ),
        },
        Change::AddIndex { table, index } => {
            reversible(vec![add_index(table, index)], vec![drop_index(table, &index.name)])
        }
        Change::DropIndex { table, index } => {
            reversible(vec![drop_index(table, &index.name)], vec![add_index(table, index)])
        }
        Change::AddUnique { table, unique } => {
            let index = unique_index(unique);
            reversible(vec![add_index(table, &index)], vec![drop_index(table, &index.name)])
        }
        Change::DropUnique { table, unique } => {
            let index = unique_index(unique);
            reversible(vec![drop_index(table, &index.name)], vec![add_index(table, &index)])
        }
        Change::RenameIndex { table, from, to } => {
            let rename = |a: &str, b: &str| {
                alter(
                    table,
                    &format!("RENAME INDEX {} TO {}", quote_ident(a), quote_ident(b)),
                    ONLINE,
                )
            };
            reversible(vec![rename(from, to)], vec![rename(to, from)])
        }
        Change::RenameConstraint { table, from, to } => rename_constraint(table, from, to, desired),
        Change::AddCheck { table, check } => {
            reversible(vec![add_check(table, check)], vec![drop_check(table, &check.name)])
        }
        Change::DropCheck { table, check } => {
            reversible(vec![drop_check(table, &check.name)], vec![add_check(table, check)])
        }
        Change::AddForeignKey { table, foreign_key } => reversible(
            vec![add_foreign_key(table, foreign_key)],
            vec![drop_foreign_key(table, &foreign_key.name)],
        ),
        Change::DropForeignKey { table, foreign_key } => reversible(
            vec![drop_foreign_key(table, &foreign_key.name)],
            vec![add_foreign_key(table, foreign_key)],
        ),
        // `shape` turns enums into column types and refuses the rest; a change that still
        // got here would otherwise be silently skipped.
        other => Rendered {
            up: vec![format!(
                "SIGNAL SQLSTATE '0A000' SET MESSAGE_TEXT = {}",
                quote_literal(&format!("{} is not supported on MySQL", other.operation().label()))
            )],
            down: Rollback::Irreversible {
                reason: format!("{} is not planned for MySQL", other.operation().label()),
            },
        },
    }
}

/// The algorithm of a `MODIFY COLUMN` for `change` (RISK.md §3).
fn algorithm_of(change: &Change) -> &'static str {
    match change {
        Change::AlterColumnType { from, to, .. } => {
            if super::risk::is_online_type_change(from, to) {
                ONLINE
            } else {
                COPY
            }
        }
        Change::AlterIdentity { .. } => COPY,
        _ => ONLINE,
    }
}

/// Finds a column on either side (the current side under its old names).
struct Columns<'a> {
    current: &'a Schema,
    desired: &'a Schema,
}

impl Columns<'_> {
    fn desired(&self, table: &QualifiedName, column: &str) -> Option<&Column> {
        self.desired.table(table)?.column(column)
    }

    /// The table as it is now (under its old name if the plan renames it).
    fn current_table(&self, table: &QualifiedName) -> Option<&Table> {
        self.current.table(table).or_else(|| {
            let renamed = self.desired.table(table)?.renamed_from.iter();
            renamed.filter_map(|old| self.current.table(old)).next()
        })
    }

    /// The current primary key when the plan replaces it by another and keeps all its
    /// columns: then the add step swaps the keys in one statement and the drop step does
    /// nothing.
    fn replaced_key(&self, table: &QualifiedName) -> Option<&PrimaryKey> {
        let wanted = self.desired.table(table)?;
        wanted.primary_key.as_ref()?;
        let existing = self.current_table(table)?.primary_key.as_ref()?;
        let kept = existing.columns.iter().all(|old| {
            wanted.columns.iter().any(|c| c.name == *old || c.renamed_from.contains(old))
        });
        kept.then_some(existing)
    }

    fn current(&self, table: &QualifiedName, column: &str) -> Option<&Column> {
        let wanted = self.desired(table, column);
        let old_table = self.current_table(table)?;
        old_table
            .column(column)
            .or_else(|| wanted?.renamed_from.iter().filter_map(|old| old_table.column(old)).next())
    }

    /// `MODIFY COLUMN` to the desired definition; the down modifies back to the current
    /// one (under the new name).
    fn modify(
        &self,
        table: &QualifiedName,
        column: &str,
        algorithm: &str,
        before: &[String],
    ) -> Rendered {
        let (Some(wanted), Some(existing)) =
            (self.desired(table, column), self.current(table, column))
        else {
            return Rendered {
                up: Vec::new(),
                down: Rollback::Irreversible {
                    reason: format!("column {table}.{column} is not in both schemas"),
                },
            };
        };
        let mut existing = existing.clone();
        existing.name = wanted.name.clone();
        let modify = |c: &Column, algorithm: &str| {
            alter(table, &format!("MODIFY COLUMN {}", column_definition(c)), algorithm)
        };
        let mut up = before.to_vec();
        // Whichever of the column's steps makes it NOT NULL first fills its NULLs first
        // (an idempotent UPDATE: a later step finds none).
        if up.is_empty() && existing.nullable && !wanted.nullable {
            let key = self.desired.table(table).and_then(|t| t.primary_key.as_ref());
            let key = key.map(|pk| pk.columns.clone()).unwrap_or_default();
            up = fill_nulls(table, wanted, &key);
        }
        up.push(modify(wanted, algorithm));
        // The down restates the column as it was before the plan, from the column as the
        // plan leaves it: when an earlier step of the plan changed its type, that is a
        // type change too, which MySQL does only by copying (error 1846 in place).
        let back = if existing.ty != wanted.ty
            && !super::risk::is_online_type_change(&wanted.ty, &existing.ty)
        {
            COPY
        } else {
            algorithm
        };
        reversible(up, vec![modify(&existing, back)])
    }
}

/// `CREATE TABLE` with its primary key, indexes and checks (foreign keys come later).
pub fn create_table(t: &Table) -> String {
    let mut lines: Vec<String> = t.columns.iter().map(column_definition).collect();
    if let Some(pk) = &t.primary_key {
        lines.push(format!("PRIMARY KEY ({})", ident_list(&pk.columns)));
    }
    for index in &t.indexes {
        lines.push(format!(
            "{}INDEX {} ({})",
            if index.unique { "UNIQUE " } else { "" },
            quote_ident(&index.name),
            index_parts(index)
        ));
    }
    for check in &t.checks {
        lines.push(check_clause(check));
    }
    let mut sql =
        format!("CREATE TABLE {} (\n    {}\n)", quote_ident(&t.name.name), lines.join(",\n    "));
    if let Some(comment) = &t.comment {
        sql.push_str(&format!(" COMMENT = {}", quote_literal(comment)));
    }
    sql
}

fn replace_key(table: &QualifiedName, columns: &[String]) -> String {
    alter(table, &format!("DROP PRIMARY KEY, ADD PRIMARY KEY ({})", ident_list(columns)), ONLINE)
}

fn set_default(table: &QualifiedName, column: &str, default: Option<&DefaultExpr>) -> String {
    let action = match default {
        Some(d) => format!("SET DEFAULT {}", super::render_default(d)),
        None => "DROP DEFAULT".into(),
    };
    alter(table, &format!("ALTER COLUMN {} {action}", quote_ident(column)), ONLINE)
}

fn drop_table(name: &QualifiedName) -> String {
    format!("DROP TABLE {}", quote_ident(&name.name))
}

fn rename_table(from: &QualifiedName, to: &QualifiedName) -> String {
    format!("RENAME TABLE {} TO {}", quote_ident(&from.name), quote_ident(&to.name))
}

/// A new column. With a value for existing rows that is not a constant default, the
/// column is added nullable, filled, then made NOT NULL (MySQL would otherwise give old
/// rows the type's zero value).
fn add_column(table: &QualifiedName, column: &Column, primary_key: &[String]) -> Vec<String> {
    let volatile =
        matches!(&column.default, Some(DefaultExpr::Sql(sql)) if !super::is_current_timestamp(sql));
    if column.backfill.is_none() && !volatile {
        return vec![add_plain_column(table, column)];
    }
    let mut staged = column.clone();
    staged.nullable = true;
    staged.default = None;
    let mut sql = vec![add_plain_column(table, &staged)];
    sql.extend(fill(table, column, primary_key, false));
    sql.push(alter(table, &format!("MODIFY COLUMN {}", column_definition(column)), ONLINE));
    sql
}

fn add_plain_column(table: &QualifiedName, column: &Column) -> String {
    alter(table, &format!("ADD COLUMN {}", column_definition(column)), INSTANT)
}

fn drop_column(table: &QualifiedName, column: &Column) -> String {
    alter(table, &format!("DROP COLUMN {}", quote_ident(&column.name)), ONLINE)
}

/// The statements that give existing NULLs the column's value before SET NOT NULL.
fn fill_nulls(table: &QualifiedName, column: &Column, primary_key: &[String]) -> Vec<String> {
    if column.backfill.is_none() && column.default.is_none() {
        return Vec::new();
    }
    fill(table, column, primary_key, true)
}

/// `UPDATE` statements giving rows the column's backfill or default; a sequence numbers
/// rows in key order with a session variable.
pub fn fill(
    table: &QualifiedName,
    column: &Column,
    primary_key: &[String],
    only_nulls: bool,
) -> Vec<String> {
    let col = quote_ident(&column.name);
    let filter = if only_nulls { format!(" WHERE {col} IS NULL") } else { String::new() };
    if let Some(Backfill::Sequence { start, step }) = &column.backfill {
        return vec![format!(
            "UPDATE {t} AS target JOIN (SELECT {keys}, {start} + (ROW_NUMBER() OVER (ORDER BY {keys}) - 1) * {step} AS value \
             FROM {t}{filter}) AS numbered ON {join} SET target.{col} = numbered.value",
            t = quote_ident(&table.name),
            keys = ident_list(primary_key),
            join = primary_key
                .iter()
                .map(|k| format!("target.{k} = numbered.{k}", k = quote_ident(k)))
                .collect::<Vec<_>>()
                .join(" AND "),
        )];
    }
    match fill_value(column) {
        Some(value) => {
            vec![format!("UPDATE {} SET {col} = {value}{filter}", quote_ident(&table.name))]
        }
        None => Vec::new(),
    }
}

fn index_parts(index: &Index) -> String {
    index
        .parts
        .iter()
        .enumerate()
        .map(|(i, part)| {
            let mut sql = match part {
                IndexPart::Column(c) => quote_ident(c),
                IndexPart::Expression(e) => format!("({e})"),
            };
            if let Some(option) = index.part_options.get(i).filter(|o| !o.is_empty()) {
                // A prefix length is part of the key part: `name(10)`.
                if !option.starts_with('(') {
                    sql.push(' ');
                }
                sql.push_str(option);
            }
            sql
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn add_index(table: &QualifiedName, index: &Index) -> String {
    let kind = if index.unique { "UNIQUE INDEX" } else { "INDEX" };
    alter(
        table,
        &format!("ADD {kind} {} ({})", quote_ident(&index.name), index_parts(index)),
        ONLINE,
    )
}

fn drop_index(table: &QualifiedName, name: &str) -> String {
    alter(table, &format!("DROP INDEX {}", quote_ident(name)), ONLINE)
}

fn unique_index(unique: &crate::model::UniqueConstraint) -> Index {
    Index {
        name: unique.name.clone(),
        parts: unique.columns.iter().cloned().map(IndexPart::Column).collect(),
        unique: true,
        ..Index::default()
    }
}

fn check_clause(check: &CheckConstraint) -> String {
    // The application's own SQL (`check = "…"`), rendered verbatim.
    format!("CONSTRAINT {} CHECK ({})", quote_ident(&check.name), check.expression)
}

fn add_check(table: &QualifiedName, check: &CheckConstraint) -> String {
    // Existing rows are checked: InnoDB can only do that by copying the table.
    alter(table, &format!("ADD {}", check_clause(check)), COPY)
}

fn drop_check(table: &QualifiedName, name: &str) -> String {
    alter(table, &format!("DROP CONSTRAINT {}", quote_ident(name)), ONLINE)
}

fn action(action: FkAction) -> &'static str {
    match action {
        FkAction::NoAction => "NO ACTION",
        FkAction::Restrict => "RESTRICT",
        FkAction::Cascade => "CASCADE",
        FkAction::SetNull => "SET NULL",
        FkAction::SetDefault => "SET DEFAULT",
    }
}

fn add_foreign_key(table: &QualifiedName, fk: &ForeignKey) -> String {
    // With foreign_key_checks on, InnoDB checks existing rows by copying the table.
    alter(
        table,
        &format!(
            "ADD CONSTRAINT {} FOREIGN KEY ({}) REFERENCES {} ({}) ON DELETE {} ON UPDATE {}",
            quote_ident(&fk.name),
            ident_list(&fk.columns),
            quote_ident(&fk.ref_table.name),
            ident_list(&fk.ref_columns),
            action(fk.on_delete),
            action(fk.on_update)
        ),
        COPY,
    )
}

fn drop_foreign_key(table: &QualifiedName, name: &str) -> String {
    alter(table, &format!("DROP FOREIGN KEY {}", quote_ident(name)), ONLINE)
}

/// MySQL cannot rename a check or a foreign key: drop it and add it under the new name.
fn rename_constraint(table: &QualifiedName, from: &str, to: &str, desired: &Schema) -> Rendered {
    let wanted = desired.table(table);
    if let Some(check) = wanted.and_then(|t| t.checks.iter().find(|c| c.name == to)) {
        let mut old = check.clone();
        old.name = from.to_owned();
        return reversible(
            vec![drop_check(table, from), add_check(table, check)],
            vec![drop_check(table, to), add_check(table, &old)],
        );
    }
    if let Some(fk) = wanted.and_then(|t| t.foreign_keys.iter().find(|f| f.name == to)) {
        let mut old = fk.clone();
        old.name = from.to_owned();
        return reversible(
            vec![drop_foreign_key(table, from), add_foreign_key(table, fk)],
            vec![drop_foreign_key(table, to), add_foreign_key(table, &old)],
        );
    }
    // Unique keys and the primary key are indexes here: renamed as such.
    let rename = |a: &str, b: &str| {
        alter(table, &format!("RENAME INDEX {} TO {}", quote_ident(a), quote_ident(b)), ONLINE)
    };
    reversible(vec![rename(from, to)], vec![rename(to, from)])
}

/// `MODIFY COLUMN` restates the whole column — type, NULL, default, comment — so a type
/// change carries the plan's other changes to its column (`AlterColumnType::also`): one
/// statement (one table copy) instead of several restating it again, each with a down
/// that would have to undo a type change in place, which MySQL refuses (error 1846).
pub fn carry_restated_column_changes(changes: Vec<Change>) -> Vec<Change> {
    let retyped: Vec<(QualifiedName, String)> = changes
        .iter()
        .filter_map(|change| match change {
            Change::AlterColumnType { table, column, .. } => Some((table.clone(), column.clone())),
            _ => None,
        })
        .collect();
    let mut carried: Vec<((QualifiedName, String), Change)> = Vec::new();
    let mut kept = Vec::with_capacity(changes.len());
    for change in changes {
        let column = match &change {
            Change::SetDefault { table, column, .. }
            | Change::DropDefault { table, column, .. }
            | Change::DropNotNull { table, column, .. }
            | Change::SetComment { table, column: Some(column), .. } => {
                Some((table.clone(), column.clone()))
            }
            Change::SetNotNull { table, column, .. } => Some((table.clone(), column.name.clone())),
            _ => None,
        };
        match column {
            Some(column) if retyped.contains(&column) => carried.push((column, change)),
            _ => kept.push(change),
        }
    }
    for change in &mut kept {
        if let Change::AlterColumnType { table, column, also, .. } = change {
            let key = (table.clone(), column.clone());
            also.extend(carried.iter().filter(|(k, _)| *k == key).map(|(_, c)| c.clone()));
        }
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fallback_goes_instant_online_copy_then_stops() {
        let instant = format!("ALTER TABLE `t` ADD COLUMN `c` int NULL, {INSTANT}");
        let online = fallback(&instant).expect("online");
        assert!(online.ends_with(ONLINE) && !blocks_writes(&online));
        let copy = fallback(&online).expect("copy");
        assert!(blocks_writes(&copy));
        assert_eq!(fallback(&copy), None);
    }
}
