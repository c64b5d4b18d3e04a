//! Changes → PostgreSQL statements, up and down (direct forms; the online recipes for
//! large tables come with the large-table work).

use super::risk::{classify_type_change, TypeChange};
use super::{
    backfill_value, column_definition, ident_list, qualified, quote_ident, quote_literal,
    render_default, render_identity, render_type,
};
use crate::change::Change;
use crate::model::{
    Backfill, CheckConstraint, Column, ColumnType, DefaultExpr, EnumType, ExclusionConstraint,
    ForeignKey, Identity, Index, IndexMethod, IndexPart, PrimaryKey, QualifiedName, Sequence,
    Table, UniqueConstraint,
};
use crate::plan::Rollback;

/// Up statements and the rollback of one change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    /// Statements that make the change.
    pub up: Vec<String>,
    /// How to undo it.
    pub down: Rollback,
}

fn reversible(up: Vec<String>, down: Vec<String>) -> Rendered {
    Rendered { up, down: Rollback::Sql(down) }
}

/// Renders one change.
pub fn render(change: &Change) -> Rendered {
    match change {
        Change::CreateNamespace { name } => reversible(
            vec![format!("CREATE SCHEMA IF NOT EXISTS {}", quote_ident(&name.name))],
            // RESTRICT: the rollback never drops anything someone put in it since.
            vec![format!("DROP SCHEMA IF EXISTS {} RESTRICT", quote_ident(&name.name))],
        ),
        Change::ValidateConstraint { table, name } => Rendered {
            up: vec![format!(
                "ALTER TABLE {} VALIDATE CONSTRAINT {}",
                qualified(table),
                quote_ident(name)
            )],
            // Nothing to undo: the constraint was already enforced for new rows.
            down: Rollback::Sql(Vec::new()),
        },
        Change::CreateEnum(e) => reversible(vec![create_enum(e)], vec![drop_enum(e)]),
        Change::DropEnum(e) => reversible(vec![drop_enum(e)], vec![create_enum(e)]),
        Change::AlterEnum { from, to, columns } => alter_enum(from, to, columns),
        Change::CreateSequence(s) => reversible(vec![create_sequence(s)], vec![drop_sequence(s)]),
        Change::DropSequence(s) => reversible(vec![drop_sequence(s)], vec![create_sequence(s)]),
        Change::AlterSequence { from, to } => {
            reversible(vec![alter_sequence(to)], vec![alter_sequence(from)])
        }
        Change::CreateTable(t) => reversible(create_table(t), vec![drop_table(&t.name)]),
        // PostgreSQL alters in place; the planner never makes a rebuild for it.
        Change::RebuildTable { to, .. } => Rendered {
            up: Vec::new(),
            down: Rollback::Irreversible {
                reason: format!("a table rebuild of {} is a SQLite step", to.name),
            },
        },
        Change::DropTable(t) => {
            let mut down = create_table(t);
            down.extend(t.foreign_keys.iter().map(|fk| add_foreign_key(&t.name, fk)));
            reversible(vec![drop_table(&t.name)], down)
        }
        Change::RenameTable { from, to } => {
            reversible(vec![rename_table(from, to)], vec![rename_table(to, from)])
        }
        Change::RenameColumn { table, from, to } => {
            reversible(vec![rename_column(table, from, to)], vec![rename_column(table, to, from)])
        }
        Change::RenameIndex { table, from, to } => {
            reversible(vec![rename_index(table, from, to)], vec![rename_index(table, to, from)])
        }
        Change::RenameConstraint { table, from, to } => reversible(
            vec![rename_constraint(table, from, to)],
            vec![rename_constraint(table, to, from)],
        ),
        Change::DropForeignKey { table, foreign_key } => reversible(
            vec![drop_constraint(table, &foreign_key.name)],
            vec![add_foreign_key(table, foreign_key)],
        ),
        Change::AddForeignKey { table, foreign_key } => reversible(
            vec![add_foreign_key(table, foreign_key)],
            vec![drop_constraint(table, &foreign_key.name)],
        ),
        Change::DropIndex { table, index } => {
            reversible(vec![drop_index(table, index)], vec![create_index(table, index)])
        }
        Change::AddIndex { table, index } => {
            reversible(vec![create_index(table, index)], vec![drop_index(table, index)])
        }
        Change::DropUnique { table, unique } => {
            reversible(vec![drop_constraint(table, &unique.name)], vec![add_unique(table, unique)])
        }
        Change::AddUnique { table, unique } => {
            reversible(vec![add_unique(table, unique)], vec![drop_constraint(table, &unique.name)])
        }
        Change::DropCheck { table, check } => {
            reversible(vec![drop_constraint(table, &check.name)], vec![add_check(table, check)])
        }
        Change::AddCheck { table, check } => {
            reversible(vec![add_check(table, check)], vec![drop_constraint(table, &check.name)])
        }
        Change::DropExclusion { table, exclusion } => reversible(
            vec![drop_constraint(table, &exclusion.name)],
            vec![add_exclusion(table, exclusion)],
        ),
        Change::AddExclusion { table, exclusion } => reversible(
            vec![add_exclusion(table, exclusion)],
            vec![drop_constraint(table, &exclusion.name)],
        ),
        Change::DropPrimaryKey { table, primary_key } => reversible(
            vec![drop_constraint(table, &primary_key.name)],
            vec![add_primary_key(table, primary_key)],
        ),
        Change::AddPrimaryKey { table, primary_key } => reversible(
            vec![add_primary_key(table, primary_key)],
            vec![drop_constraint(table, &primary_key.name)],
        ),
        Change::DropColumn { table, column, .. } => {
            reversible(vec![drop_column(table, &column.name)], restore_column(table, column))
        }
        Change::AddColumn { table, column, primary_key } => reversible(
            add_column(table, column, primary_key),
            vec![drop_column(table, &column.name)],
        ),
        Change::AlterColumnType {
            table, column, from, to, from_collation, to_collation, ..
        } => reversible(
            alter_type(table, column, from, to, to_collation.as_deref()),
            alter_type(table, column, to, from, from_collation.as_deref()),
        ),
        Change::SetDefault { table, column, from, to } => reversible(
            vec![set_default(table, column, Some(to))],
            vec![set_default(table, column, from.as_ref())],
        ),
        Change::DropDefault { table, column, from } => reversible(
            vec![set_default(table, column, None)],
            vec![set_default(table, column, Some(from))],
        ),
        Change::DropNotNull { table, column, constraint } => reversible(
            vec![alter_column(table, column, "DROP NOT NULL")],
            vec![set_not_null(table, column, constraint.as_deref())],
        ),
        Change::SetNotNull { table, column, primary_key } => {
            let mut up: Vec<String> = fill_nulls(table, column, primary_key).into_iter().collect();
            up.push(alter_column(table, &column.name, "SET NOT NULL"));
            up.extend(name_not_null(table, column));
            reversible(up, vec![alter_column(table, &column.name, "DROP NOT NULL")])
        }
        Change::AlterIdentity { table, column, from, to } => reversible(
            alter_identity(table, column, *from, *to),
            alter_identity(table, column, *to, *from),
        ),
        Change::SetComment { table, column, from, to } => reversible(
            vec![comment(table, column.as_deref(), to.as_deref())],
            vec![comment(table, column.as_deref(), from.as_deref())],
        ),
    }
}

/// NOT NULL given back to `column`: under the constraint name it had, when it had one
/// (only a PostgreSQL 18 database gives one; `SET NOT NULL` would name it after the
/// table's name at that moment, which a rename may since have changed).
pub(super) fn set_not_null(
    table: &QualifiedName,
    column: &str,
    constraint: Option<&str>,
) -> String {
    match constraint {
        Some(name) => format!(
            "ALTER TABLE {} ADD CONSTRAINT {} NOT NULL {}",
            qualified(table),
            quote_ident(name),
            quote_ident(column)
        ),
        None => alter_column(table, column, "SET NOT NULL"),
    }
}

/// PostgreSQL 18: after `SET NOT NULL`, the constraint it made (under the server's name)
/// renamed to the one the target gives it, if that is another.
pub(super) fn name_not_null(table: &QualifiedName, column: &Column) -> Option<String> {
    let wanted = column.not_null_constraint.as_ref()?;
    let made = crate::naming::not_null_constraint(&table.name, &column.name);
    (*wanted != made).then(|| {
        format!(
            "ALTER TABLE {} RENAME CONSTRAINT {} TO {}",
            qualified(table),
            quote_ident(&made),
            quote_ident(wanted)
        )
    })
}

fn create_enum(e: &EnumType) -> String {
    let values = e.values.iter().map(|v| quote_literal(v)).collect::<Vec<_>>().join(", ");
    format!("CREATE TYPE {} AS ENUM ({values})", qualified(&e.name))
}

fn drop_enum(e: &EnumType) -> String {
    format!("DROP TYPE {}", qualified(&e.name))
}

/// Values only appended (in order) use `ADD VALUE`, which PostgreSQL cannot undo. Any
/// other change re-creates the type and re-types every column using it.
fn alter_enum(
    from: &EnumType,
    to: &EnumType,
    columns: &[(QualifiedName, String, Option<DefaultExpr>)],
) -> Rendered {
    if let Some(added) = appended_values(from, to) {
        let up = added
            .iter()
            .map(|v| format!("ALTER TYPE {} ADD VALUE {}", qualified(&to.name), quote_literal(v)))
            .collect();
        // PostgreSQL has no DROP VALUE: the way back re-creates the type without the
        // added values, rewriting the columns that use it (it fails, changing nothing,
        // while a row holds an added value).
        return reversible(up, recreate_enum(from, columns));
    }
    reversible(recreate_enum(to, columns), recreate_enum(from, columns))
}

/// The values appended at the end of `from` to give `to`, if that is all that changed.
pub fn appended_values<'a>(from: &EnumType, to: &'a EnumType) -> Option<&'a [String]> {
    to.values.starts_with(&from.values).then(|| &to.values[from.values.len()..])
}

fn recreate_enum(
    target: &EnumType,
    columns: &[(QualifiedName, String, Option<DefaultExpr>)],
) -> Vec<String> {
    let old_name = QualifiedName {
        schema: target.name.schema.clone(),
        name: format!("{}_old", target.name.name),
    };
    let mut sql = vec![format!(
        "ALTER TYPE {} RENAME TO {}",
        qualified(&target.name),
        quote_ident(&old_name.name)
    )];
    sql.push(create_enum(target));
    for (table, column, default) in columns {
        if default.is_some() {
            sql.push(set_default(table, column, None));
        }
        sql.push(format!(
            "ALTER TABLE {} ALTER COLUMN {col} TYPE {ty} USING {col}::text::{ty}",
            qualified(table),
            col = quote_ident(column),
            ty = qualified(&target.name),
        ));
        if default.is_some() {
            sql.push(set_default(table, column, default.as_ref()));
        }
    }
    sql.push(convert_engine_columns(&old_name, &target.name));
    sql.push(format!("DROP TYPE {}", qualified(&old_name)));
    sql
}

/// A `DO` block moving the columns of the engine's own tables (trash and backup tables
/// kept by earlier runs, which the models do not list) from the renamed old enum type to
/// the new one, so the old type can be dropped. Defaults are set again on the new type.
/// Any other column still on the old type makes `DROP TYPE` fail, naming it.
fn convert_engine_columns(old: &QualifiedName, new: &QualifiedName) -> String {
    let body = format!(
        "DECLARE r record; BEGIN \
         FOR r IN SELECT a.attrelid::regclass AS rel, a.attname AS col, \
         pg_get_expr(d.adbin, d.adrelid) AS def \
         FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid \
         LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum \
         WHERE a.atttypid = {old}::regtype AND NOT a.attisdropped AND c.relkind = 'r' \
         AND starts_with(c.relname, '_dataflow_') LOOP \
         IF r.def IS NOT NULL THEN \
         EXECUTE format('ALTER TABLE %s ALTER COLUMN %I DROP DEFAULT', r.rel, r.col); END IF; \
         EXECUTE format('ALTER TABLE %s ALTER COLUMN %I TYPE %s USING %I::text::%s', \
         r.rel, r.col, {new}, r.col, {new}); \
         IF r.def IS NOT NULL THEN \
         EXECUTE format('ALTER TABLE %s ALTER COLUMN %I SET DEFAULT %s', r.rel, r.col, \
         replace(r.def, '::' || {old}::regtype::text, '::' || {new})); END IF; \
         END LOOP; END",
        old = quote_literal(&qualified(old)),
        new = quote_literal(&qualified(new)),
    );
    format!("DO {}", quote_literal(&body))
}

fn create_sequence(s: &Sequence) -> String {
    format!(
        "CREATE SEQUENCE {} INCREMENT BY {} START WITH {}",
        qualified(&s.name),
        s.increment,
        s.start
    )
}

fn alter_sequence(s: &Sequence) -> String {
    format!(
        "ALTER SEQUENCE {} INCREMENT BY {} START WITH {}",
        qualified(&s.name),
        s.increment,
        s.start
    )
}

fn drop_sequence(s: &Sequence) -> String {
    format!("DROP SEQUENCE {}", qualified(&s.name))
}

/// `CREATE TABLE` with columns, primary key, unique and check constraints, then its
/// indexes. Foreign keys are separate steps (added last).
pub fn create_table(t: &Table) -> Vec<String> {
    let mut lines: Vec<String> = t.columns.iter().map(column_definition).collect();
    if let Some(pk) = &t.primary_key {
        lines.push(format!(
            "CONSTRAINT {} PRIMARY KEY ({})",
            quote_ident(&pk.name),
            ident_list(&pk.columns)
        ));
    }
    for unique in &t.uniques {
        lines.push(format!("CONSTRAINT {} {}", quote_ident(&unique.name), unique_clause(unique)));
    }
    for check in &t.checks {
        lines.push(format!("CONSTRAINT {} {}", quote_ident(&check.name), check_clause(check)));
    }
    for exclusion in &t.exclusions {
        lines.push(format!("CONSTRAINT {} {}", quote_ident(&exclusion.name), exclusion.definition));
    }
    let mut sql =
        vec![format!("CREATE TABLE {} (\n    {}\n)", qualified(&t.name), lines.join(",\n    "))];
    sql.extend(t.indexes.iter().map(|index| create_index(&t.name, index)));
    if let Some(comment_text) = &t.comment {
        sql.push(comment(&t.name, None, Some(comment_text)));
    }
    for column in t.columns.iter().filter(|c| c.comment.is_some()) {
        sql.push(comment(&t.name, Some(&column.name), column.comment.as_deref()));
    }
    sql
}

/// The constraints of `table` that own an index (primary key, unique, exclusion): their
/// names share the namespace with every relation.
pub fn create_table_constraint_names(table: &Table) -> Vec<String> {
    table
        .primary_key
        .iter()
        .map(|k| k.name.clone())
        .chain(table.uniques.iter().map(|k| k.name.clone()))
        .chain(table.exclusions.iter().map(|k| k.name.clone()))
        .collect()
}

fn drop_table(name: &QualifiedName) -> String {
    format!("DROP TABLE {}", qualified(name))
}

fn rename_table(from: &QualifiedName, to: &QualifiedName) -> String {
    format!("ALTER TABLE {} RENAME TO {}", qualified(from), quote_ident(&to.name))
}

fn rename_column(table: &QualifiedName, from: &str, to: &str) -> String {
    format!(
        "ALTER TABLE {} RENAME COLUMN {} TO {}",
        qualified(table),
        quote_ident(from),
        quote_ident(to)
    )
}

fn rename_index(table: &QualifiedName, from: &str, to: &str) -> String {
    let index = QualifiedName { schema: table.schema.clone(), name: from.to_owned() };
    format!("ALTER INDEX {} RENAME TO {}", qualified(&index), quote_ident(to))
}

fn rename_constraint(table: &QualifiedName, from: &str, to: &str) -> String {
    format!(
        "ALTER TABLE {} RENAME CONSTRAINT {} TO {}",
        qualified(table),
        quote_ident(from),
        quote_ident(to)
    )
}

fn drop_constraint(table: &QualifiedName, name: &str) -> String {
    format!("ALTER TABLE {} DROP CONSTRAINT {}", qualified(table), quote_ident(name))
}

fn add_foreign_key(table: &QualifiedName, fk: &ForeignKey) -> String {
    let mut sql = format!(
        "ALTER TABLE {} ADD CONSTRAINT {} FOREIGN KEY ({}) REFERENCES {} ({})",
        qualified(table),
        quote_ident(&fk.name),
        ident_list(&fk.columns),
        qualified(&fk.ref_table),
        ident_list(&fk.ref_columns)
    );
    if fk.match_full {
        sql.push_str(" MATCH FULL");
    }
    if fk.on_delete != crate::model::FkAction::NoAction {
        sql.push_str(&format!(" ON DELETE {}", fk.on_delete.as_sql()));
    }
    if fk.on_update != crate::model::FkAction::NoAction {
        sql.push_str(&format!(" ON UPDATE {}", fk.on_update.as_sql()));
    }
    sql.push_str(deferrable_clause(fk.deferrable, fk.initially_deferred));
    if fk.not_valid {
        sql.push_str(" NOT VALID");
    }
    sql
}

pub(crate) fn deferrable_clause(deferrable: bool, initially_deferred: bool) -> &'static str {
    match (deferrable, initially_deferred) {
        (true, true) => " DEFERRABLE INITIALLY DEFERRED",
        (true, false) => " DEFERRABLE",
        (false, _) => "",
    }
}

/// `UNIQUE [NULLS NOT DISTINCT] (cols) [DEFERRABLE [INITIALLY DEFERRED]]`.
fn unique_clause(unique: &UniqueConstraint) -> String {
    let nulls = if unique.nulls_not_distinct { " NULLS NOT DISTINCT" } else { "" };
    format!(
        "UNIQUE{nulls} ({}){}",
        ident_list(&unique.columns),
        deferrable_clause(unique.deferrable, unique.initially_deferred)
    )
}

/// `CHECK (expr) [NO INHERIT]` (NOT VALID is added by ALTER TABLE only).
fn check_clause(check: &CheckConstraint) -> String {
    let no_inherit = if check.no_inherit { " NO INHERIT" } else { "" };
    format!("CHECK ({}){no_inherit}", check.expression)
}

/// `CREATE [UNIQUE] INDEX …` (the online recipes add `CONCURRENTLY`).
pub(crate) fn create_index_sql(table: &QualifiedName, index: &Index) -> String {
    create_index(table, index)
}

fn create_index(table: &QualifiedName, index: &Index) -> String {
    let parts = index
        .parts
        .iter()
        .enumerate()
        .map(|(i, part)| {
            let key = match part {
                IndexPart::Column(name) => quote_ident(name),
                // The application's own SQL (an expression index), parenthesised as required.
                IndexPart::Expression(expr) => format!("({expr})"),
            };
            match index.part_options.get(i).filter(|o| !o.is_empty()) {
                // Collation, operator class and order as the catalog spells them.
                Some(options) => format!("{key} {options}"),
                None => key,
            }
        })
        .collect::<Vec<_>>()
        .join(", ");
    let method = match index.method {
        IndexMethod::Btree => String::new(),
        other => format!(" USING {}", other.as_sql()),
    };
    let mut sql = format!(
        "CREATE {}INDEX {} ON {}{method} ({parts})",
        if index.unique { "UNIQUE " } else { "" },
        quote_ident(&index.name),
        qualified(table)
    );
    if !index.include.is_empty() {
        sql.push_str(&format!(" INCLUDE ({})", ident_list(&index.include)));
    }
    if index.nulls_not_distinct {
        sql.push_str(" NULLS NOT DISTINCT");
    }
    if !index.with.is_empty() {
        // Storage parameters as the catalog lists them (`fillfactor=70`).
        sql.push_str(&format!(" WITH ({})", index.with.join(", ")));
    }
    if let Some(predicate) = &index.predicate {
        sql.push_str(&format!(" WHERE ({predicate})"));
    }
    sql
}

fn drop_index(table: &QualifiedName, index: &Index) -> String {
    let name = QualifiedName { schema: table.schema.clone(), name: index.name.clone() };
    format!("DROP INDEX {}", qualified(&name))
}

fn add_unique(table: &QualifiedName, unique: &UniqueConstraint) -> String {
    format!(
        "ALTER TABLE {} ADD CONSTRAINT {} {}",
        qualified(table),
        quote_ident(&unique.name),
        unique_clause(unique)
    )
}

fn add_check(table: &QualifiedName, check: &CheckConstraint) -> String {
    let not_valid = if check.not_valid { " NOT VALID" } else { "" };
    format!(
        "ALTER TABLE {} ADD CONSTRAINT {} {}{not_valid}",
        qualified(table),
        quote_ident(&check.name),
        check_clause(check)
    )
}

/// The definition is the server's own text (`EXCLUDE USING gist (…)`), read from the
/// catalog of the target database.
fn add_exclusion(table: &QualifiedName, exclusion: &ExclusionConstraint) -> String {
    format!(
        "ALTER TABLE {} ADD CONSTRAINT {} {}",
        qualified(table),
        quote_ident(&exclusion.name),
        exclusion.definition
    )
}

fn add_primary_key(table: &QualifiedName, pk: &PrimaryKey) -> String {
    format!(
        "ALTER TABLE {} ADD CONSTRAINT {} PRIMARY KEY ({})",
        qualified(table),
        quote_ident(&pk.name),
        ident_list(&pk.columns)
    )
}

fn drop_column(table: &QualifiedName, column: &str) -> String {
    format!("ALTER TABLE {} DROP COLUMN {}", qualified(table), quote_ident(column))
}

/// The rollback of a dropped column re-creates it; its values are gone (the migrator's
/// column backup restores them). A NOT NULL column without a default comes back
/// nullable, since the rows that exist have no value for it.
fn restore_column(table: &QualifiedName, column: &Column) -> Vec<String> {
    let mut restored = column.clone();
    if !restored.nullable && restored.default.is_none() && restored.identity.is_none() {
        restored.nullable = true;
    }
    let mut sql = vec![format!(
        "ALTER TABLE {} ADD COLUMN {}",
        qualified(table),
        column_definition(&restored)
    )];
    if let Some(text) = &column.comment {
        sql.push(comment(table, Some(&column.name), Some(text)));
    }
    sql
}

/// Adds a column. A NOT NULL column with a backfill rule is added nullable, filled, then
/// made NOT NULL (all in the table's transaction); its default, if any, applies to new
/// rows only.
fn add_column(table: &QualifiedName, column: &Column, primary_key: &[String]) -> Vec<String> {
    let mut sql = match &column.backfill {
        None => vec![format!(
            "ALTER TABLE {} ADD COLUMN {}",
            qualified(table),
            column_definition(column)
        )],
        Some(backfill) => {
            let mut staged = column.clone();
            staged.nullable = true;
            staged.default = None;
            let mut sql = vec![format!(
                "ALTER TABLE {} ADD COLUMN {}",
                qualified(table),
                column_definition(&staged)
            )];
            if let Some(default) = &column.default {
                sql.push(set_default(table, &column.name, Some(default)));
            }
            sql.push(backfill_statement(table, &column.name, backfill, primary_key, false));
            if !column.nullable {
                sql.push(alter_column(table, &column.name, "SET NOT NULL"));
            }
            sql
        }
    };
    if let Some(text) = &column.comment {
        sql.push(comment(table, Some(&column.name), Some(text)));
    }
    sql
}

/// Fills the NULLs of a column about to become NOT NULL, from its backfill rule or its
/// default. Without either there is nothing to fill with (SET NOT NULL fails on NULLs).
pub(crate) fn fill_nulls(
    table: &QualifiedName,
    column: &Column,
    primary_key: &[String],
) -> Option<String> {
    if let Some(backfill) = &column.backfill {
        return Some(backfill_statement(table, &column.name, backfill, primary_key, true));
    }
    let default = column.default.as_ref()?;
    Some(format!(
        "UPDATE {} SET {col} = {} WHERE {col} IS NULL",
        qualified(table),
        render_default(default),
        col = quote_ident(&column.name)
    ))
}

/// One `UPDATE` giving every existing row (or only the NULL ones) its backfill value.
/// A sequence numbers rows in primary-key order, so it needs a primary key (checked
/// when planning).
pub fn backfill_statement(
    table: &QualifiedName,
    column: &str,
    backfill: &Backfill,
    primary_key: &[String],
    only_nulls: bool,
) -> String {
    let col = quote_ident(column);
    let null_filter = if only_nulls { format!(" WHERE {col} IS NULL") } else { String::new() };
    if let Some(value) = backfill_value(backfill) {
        return format!("UPDATE {} SET {col} = {value}{null_filter}", qualified(table));
    }
    let Backfill::Sequence { start, step } = backfill else {
        unreachable!("backfill_value covers every other strategy")
    };
    let keys = ident_list(primary_key);
    let join = primary_key
        .iter()
        .map(|k| format!("target.{k} = numbered.{k}", k = quote_ident(k)))
        .collect::<Vec<_>>()
        .join(" AND ");
    format!(
        "UPDATE {table} AS target SET {col} = numbered.value FROM (SELECT {keys}, \
         {start} + (row_number() OVER (ORDER BY {keys}) - 1) * {step} AS value FROM {table}{null_filter}) \
         AS numbered WHERE {join}",
        table = qualified(table),
    )
}

pub(crate) fn alter_column(table: &QualifiedName, column: &str, action: &str) -> String {
    format!("ALTER TABLE {} ALTER COLUMN {} {action}", qualified(table), quote_ident(column))
}

pub(crate) fn set_default(
    table: &QualifiedName,
    column: &str,
    default: Option<&DefaultExpr>,
) -> String {
    match default {
        Some(default) => {
            alter_column(table, column, &format!("SET DEFAULT {}", render_default(default)))
        }
        None => alter_column(table, column, "DROP DEFAULT"),
    }
}

/// Moves a column from one kind of generated key to another. Identity kinds switch in
/// place; otherwise the old kind is removed (a serial's owned sequence stays until the
/// column goes) and the new one added, its sequence moved past the existing values.
pub(crate) fn alter_identity(
    table: &QualifiedName,
    column: &str,
    from: Option<Identity>,
    to: Option<Identity>,
) -> Vec<String> {
    use Identity::{Always, ByDefault, Serial};
    if let (Some(ByDefault | Always), Some(kind @ (ByDefault | Always))) = (from, to) {
        let kind = if kind == Always { "ALWAYS" } else { "BY DEFAULT" };
        return vec![alter_column(table, column, &format!("SET GENERATED {kind}"))];
    }
    let mut sql = Vec::new();
    match from {
        Some(ByDefault | Always) => {
            sql.push(alter_column(table, column, "DROP IDENTITY IF EXISTS"))
        }
        Some(Serial) => sql.push(alter_column(table, column, "DROP DEFAULT")),
        None => {}
    }
    match to {
        Some(identity @ (ByDefault | Always)) => {
            sql.push(alter_column(table, column, &format!("ADD {}", render_identity(identity))));
            sql.push(restart_identity(table, column));
        }
        Some(Serial) => {
            let sequence = QualifiedName {
                schema: table.schema.clone(),
                name: crate::naming::object_name(&table.name, Some(column), "seq"),
            };
            sql.push(format!(
                "CREATE SEQUENCE IF NOT EXISTS {} OWNED BY {}.{}",
                qualified(&sequence),
                qualified(table),
                quote_ident(column)
            ));
            let default = format!("nextval({}::regclass)", quote_literal(&qualified(&sequence)));
            sql.push(alter_column(table, column, &format!("SET DEFAULT {default}")));
            sql.push(restart_identity(table, column));
        }
        None => {}
    }
    sql
}

/// After `ADD GENERATED … AS IDENTITY` the sequence starts at 1: move it past the values
/// the column already holds, or the next insert collides.
fn restart_identity(table: &QualifiedName, column: &str) -> String {
    format!(
        "SELECT setval(pg_get_serial_sequence({}, {}), COALESCE(max({col}), 0) + 1, false) FROM {}",
        quote_literal(&qualified(table)),
        quote_literal(column),
        qualified(table),
        col = quote_ident(column),
    )
}

/// Whether `from → to` gets an explicit cast (`USING`). Catalog-only changes and
/// narrowings deliberately get none: without `USING` PostgreSQL refuses values that do
/// not fit instead of silently truncating them (RISK.md 10d).
fn needs_using(from: &ColumnType, to: &ColumnType) -> bool {
    matches!(classify_type_change(from, to), TypeChange::Rewrite | TypeChange::Cast)
}

fn alter_type(
    table: &QualifiedName,
    column: &str,
    from: &ColumnType,
    to: &ColumnType,
    collation: Option<&str>,
) -> Vec<String> {
    let mut action = format!("TYPE {}", render_type(to));
    if let Some(collation) = collation {
        action.push_str(&format!(" COLLATE {}", quote_ident(collation)));
    }
    if needs_using(from, to) {
        let via_text = matches!(from, ColumnType::Enum(_)) || matches!(to, ColumnType::Enum(_));
        action.push_str(&format!(
            " USING {}{}::{}",
            quote_ident(column),
            if via_text { "::text" } else { "" },
            render_type(to)
        ));
    }
    let sql = alter_column(table, column, &action);
    if matches!(
        (from, to),
        (ColumnType::Timestamp, ColumnType::TimestampTz)
            | (ColumnType::TimestampTz, ColumnType::Timestamp)
    ) {
        // With the session in UTC the conversion is catalog-only (RISK.md 10b) and the
        // stored values are read as UTC, whatever the server's TimeZone.
        return vec!["SET LOCAL TimeZone = 'UTC'".to_owned(), sql];
    }
    vec![sql]
}

pub(crate) fn comment(table: &QualifiedName, column: Option<&str>, text: Option<&str>) -> String {
    let target = match column {
        Some(column) => format!("COLUMN {}.{}", qualified(table), quote_ident(column)),
        None => format!("TABLE {}", qualified(table)),
    };
    let value = text.map(quote_literal).unwrap_or_else(|| "NULL".into());
    format!("COMMENT ON {target} IS {value}")
}
