//! The pure differ: two schemas in, ordered changes out.
//!
//! Renames come only from the desired schema's `renamed_from` hints; without a hint a
//! changed name is a drop plus an add. Indexes and constraints are matched by name, then
//! by definition (a match under another name is a rename, e.g. `accounts_pkey` after the
//! table was renamed to `users`). Column order is not compared.

use crate::change::{sort_changes, Change};
use crate::model::{CheckConstraint, Column, DefaultExpr, QualifiedName, Schema, Table};
use crate::normalize::expression_key;
use std::collections::BTreeMap;

/// The changes that turn `current` into `desired`, in execution order.
///
/// Pure and deterministic: the same inputs give the same changes, whatever order the
/// schemas' collections are in.
pub fn diff(current: &Schema, desired: &Schema) -> Vec<Change> {
    let mut changes = Vec::new();
    let pairs = match_tables(current, desired);
    for namespace in desired.namespaces.iter().filter(|n| !current.namespaces.contains(n)) {
        changes.push(Change::CreateNamespace { name: QualifiedName::new(namespace.clone()) });
    }
    push_enum_changes(&mut changes, current, desired);
    push_sequence_changes(&mut changes, current, desired);

    let renamed = |name: &QualifiedName| -> QualifiedName {
        pairs.of_current(name).map(|(_, des)| des.name.clone()).unwrap_or_else(|| name.clone())
    };
    for table in &current.tables {
        if pairs.of_current(&table.name).is_none() {
            // Its foreign keys go first (with the other key drops), so tables that
            // reference each other can be dropped in any order.
            let mut dropped = table.clone();
            for foreign_key in std::mem::take(&mut dropped.foreign_keys) {
                changes.push(Change::DropForeignKey { table: table.name.clone(), foreign_key });
            }
            changes.push(Change::DropTable(dropped));
        }
    }
    for desired_table in &desired.tables {
        if let Some((current_table, _)) = pairs.of_desired(&desired_table.name) {
            push_table_changes(&mut changes, current_table, desired_table, &renamed, &pairs);
        } else {
            let mut created = desired_table.clone();
            let foreign_keys = std::mem::take(&mut created.foreign_keys);
            created.stats = None;
            changes.push(Change::CreateTable(created));
            for foreign_key in foreign_keys {
                changes
                    .push(Change::AddForeignKey { table: desired_table.name.clone(), foreign_key });
            }
        }
    }
    push_foreign_key_rebuilds(&mut changes, current, desired, &renamed);
    restore_pre_rename_names(&mut changes, &pairs);
    sort_changes(&mut changes);
    changes
}

/// Foreign keys are dropped before any table or column is renamed (see `Phase`), so a
/// dropped key names its table, columns and target as they are *before* the renames —
/// which is also what its rollback must re-create.
fn restore_pre_rename_names(changes: &mut [Change], pairs: &TablePairs) {
    for change in changes {
        let Change::DropForeignKey { table, foreign_key } = change else {
            continue;
        };
        let Some((current, _)) = pairs.of_desired(table) else {
            continue;
        };
        if let Some(original) = current.foreign_keys.iter().find(|fk| fk.name == foreign_key.name) {
            *foreign_key = original.clone();
        }
        *table = current.name.clone();
    }
}

/// Current and desired tables paired up, looked up by either name in O(log n) (schemas
/// of thousands of tables must not make the diff quadratic).
struct TablePairs<'a> {
    by_current: BTreeMap<&'a QualifiedName, (&'a Table, &'a Table)>,
    by_desired: BTreeMap<&'a QualifiedName, (&'a Table, &'a Table)>,
}

impl<'a> TablePairs<'a> {
    fn of_current(&self, name: &QualifiedName) -> Option<(&'a Table, &'a Table)> {
        self.by_current.get(name).copied()
    }

    fn of_desired(&self, name: &QualifiedName) -> Option<(&'a Table, &'a Table)> {
        self.by_desired.get(name).copied()
    }
}

/// Pairs each desired table with its current table: by name, else by the first
/// `renamed_from` hint naming a current table that no other desired table claims.
fn match_tables<'a>(current: &'a Schema, desired: &'a Schema) -> TablePairs<'a> {
    let current_by_name: BTreeMap<&QualifiedName, &Table> =
        current.tables.iter().map(|t| (&t.name, t)).collect();
    let desired_names: std::collections::BTreeSet<&QualifiedName> =
        desired.tables.iter().map(|t| &t.name).collect();
    let mut pairs = TablePairs { by_current: BTreeMap::new(), by_desired: BTreeMap::new() };
    let add = |pairs: &mut TablePairs<'a>, current: &'a Table, desired: &'a Table| {
        pairs.by_current.insert(&current.name, (current, desired));
        pairs.by_desired.insert(&desired.name, (current, desired));
    };
    for desired_table in &desired.tables {
        if let Some(current_table) = current_by_name.get(&desired_table.name) {
            add(&mut pairs, current_table, desired_table);
        }
    }
    for desired_table in &desired.tables {
        if current_by_name.contains_key(&desired_table.name) {
            continue;
        }
        let old = desired_table.renamed_from.iter().find_map(|old| {
            let candidate = current_by_name.get(old)?;
            let free = !desired_names.contains(old) && !pairs.by_current.contains_key(old);
            free.then_some(*candidate)
        });
        if let Some(current_table) = old {
            add(&mut pairs, current_table, desired_table);
        }
    }
    pairs
}

fn push_enum_changes(changes: &mut Vec<Change>, current: &Schema, desired: &Schema) {
    for desired_enum in &desired.enums {
        match current.enum_type(&desired_enum.name) {
            None => changes.push(Change::CreateEnum(desired_enum.clone())),
            Some(current_enum) if current_enum.values != desired_enum.values => {
                let columns = current
                    .tables
                    .iter()
                    .flat_map(|t| t.columns.iter().map(move |c| (t, c)))
                    .filter(|(_, c)| {
                        c.ty == crate::model::ColumnType::Enum(desired_enum.name.clone())
                    })
                    .map(|(t, c)| (t.name.clone(), c.name.clone(), c.default.clone()))
                    .collect();
                changes.push(Change::AlterEnum {
                    from: current_enum.clone(),
                    to: desired_enum.clone(),
                    columns,
                });
            }
            Some(_) => {}
        }
    }
    for current_enum in &current.enums {
        if desired.enum_type(&current_enum.name).is_none() {
            changes.push(Change::DropEnum(current_enum.clone()));
        }
    }
}

fn push_sequence_changes(changes: &mut Vec<Change>, current: &Schema, desired: &Schema) {
    for desired_seq in &desired.sequences {
        match current.sequences.iter().find(|s| s.name == desired_seq.name) {
            None => changes.push(Change::CreateSequence(desired_seq.clone())),
            Some(current_seq) if current_seq != desired_seq => changes
                .push(Change::AlterSequence { from: current_seq.clone(), to: desired_seq.clone() }),
            Some(_) => {}
        }
    }
    for current_seq in &current.sequences {
        if !desired.sequences.iter().any(|s| s.name == current_seq.name) {
            changes.push(Change::DropSequence(current_seq.clone()));
        }
    }
}

/// Pairs each desired column with its current column: by name, else by a hint.
fn match_columns<'a>(current: &'a Table, desired: &'a Table) -> Vec<(&'a Column, &'a Column)> {
    let mut pairs: Vec<(&Column, &Column)> = Vec::new();
    for column in &desired.columns {
        if let Some(current_column) = current.column(&column.name) {
            pairs.push((current_column, column));
        }
    }
    for column in &desired.columns {
        if current.column(&column.name).is_some() {
            continue;
        }
        let old = column.renamed_from.iter().find_map(|old| {
            let candidate = current.column(old)?;
            let free = desired.column(old).is_none() && !pairs.iter().any(|(c, _)| c.name == *old);
            free.then_some(candidate)
        });
        if let Some(current_column) = old {
            pairs.push((current_column, column));
        }
    }
    pairs
}

/// The current table as it will look after the renames: new table name, new column names
/// in every key, index and foreign key (PostgreSQL, MySQL and SQLite all follow renames).
fn project_renames(
    current: &Table,
    desired_name: &QualifiedName,
    columns: &[(&Column, &Column)],
    renamed_table: &dyn Fn(&QualifiedName) -> QualifiedName,
    all_pairs: &TablePairs,
) -> Table {
    let rename = |name: &String| -> String {
        columns
            .iter()
            .find(|(c, _)| &c.name == name)
            .map(|(_, d)| d.name.clone())
            .unwrap_or_else(|| name.clone())
    };
    let rename_all = |names: &mut Vec<String>| names.iter_mut().for_each(|n| *n = rename(n));
    let mut table = current.clone();
    table.name = desired_name.clone();
    for column in &mut table.columns {
        column.name = rename(&column.name);
    }
    if let Some(pk) = &mut table.primary_key {
        rename_all(&mut pk.columns);
    }
    for unique in &mut table.uniques {
        rename_all(&mut unique.columns);
    }
    for index in &mut table.indexes {
        for part in &mut index.parts {
            if let crate::model::IndexPart::Column(name) = part {
                *name = rename(name);
            }
        }
    }
    for fk in &mut table.foreign_keys {
        rename_all(&mut fk.columns);
        fk.ref_columns = rename_referenced_columns(&fk.ref_table, &fk.ref_columns, all_pairs);
        fk.ref_table = renamed_table(&fk.ref_table);
    }
    // Expressions name columns too (the servers rewrite them on a rename): a check or a
    // predicate dropped after the rename is re-created, by its rollback, with the names
    // the table has at that moment.
    let renames: Vec<(&str, &str)> = columns
        .iter()
        .filter(|(c, d)| c.name != d.name)
        .map(|(c, d)| (c.name.as_str(), d.name.as_str()))
        .collect();
    if !renames.is_empty() {
        let rewrite =
            |text: &mut String| *text = crate::normalize::rename_identifiers(text, &renames);
        table.checks.iter_mut().for_each(|c| rewrite(&mut c.expression));
        for index in &mut table.indexes {
            if let Some(predicate) = &mut index.predicate {
                rewrite(predicate);
            }
            for part in &mut index.parts {
                if let crate::model::IndexPart::Expression(expression) = part {
                    rewrite(expression);
                }
            }
        }
        for column in &mut table.columns {
            if let Some(generated) = &mut column.generated {
                rewrite(generated);
            }
        }
    }
    table
}

fn rename_referenced_columns(
    ref_table: &QualifiedName,
    ref_columns: &[String],
    all_pairs: &TablePairs,
) -> Vec<String> {
    let Some((current, desired)) = all_pairs.of_current(ref_table) else {
        return ref_columns.to_vec();
    };
    let columns = match_columns(current, desired);
    ref_columns
        .iter()
        .map(|name| {
            columns
                .iter()
                .find(|(c, _)| &c.name == name)
                .map(|(_, d)| d.name.clone())
                .unwrap_or_else(|| name.clone())
        })
        .collect()
}

fn push_table_changes(
    changes: &mut Vec<Change>,
    current: &Table,
    desired: &Table,
    renamed_table: &dyn Fn(&QualifiedName) -> QualifiedName,
    all_pairs: &TablePairs,
) {
    let name = &desired.name;
    if current.name != desired.name {
        changes.push(Change::RenameTable { from: current.name.clone(), to: name.clone() });
    }
    let columns = match_columns(current, desired);
    let projected = project_renames(current, name, &columns, renamed_table, all_pairs);
    let pk_columns = desired.primary_key_columns().to_vec();
    // The key a dropped column's backup is joined on: the current primary key (by its
    // columns' new names) while all of its columns stay, even if the key constraint
    // changes in the same plan: a rollback undoes the plan's type changes before it
    // restores the backup, so the key columns hold the values the backup has, and
    // re-creates the old key constraint after it. Without such a key the rollback
    // re-creates the column empty.
    let current_key = projected.primary_key_columns();
    let stable_pk = if current_key.iter().all(|k| desired.columns.iter().any(|c| &c.name == k)) {
        current_key.to_vec()
    } else {
        Vec::new()
    };

    for current_column in &current.columns {
        if !columns.iter().any(|(c, _)| c.name == current_column.name) {
            changes.push(Change::DropColumn {
                table: name.clone(),
                column: current_column.clone(),
                primary_key: stable_pk.clone(),
            });
        }
    }
    for desired_column in &desired.columns {
        match columns.iter().find(|(_, d)| d.name == desired_column.name) {
            // A generated column's expression cannot be altered: it is re-created.
            Some((current_column, _))
                if current_column.generated.as_deref().map(expression_key)
                    != desired_column.generated.as_deref().map(expression_key) =>
            {
                changes.push(Change::DropColumn {
                    table: name.clone(),
                    column: (*current_column).clone(),
                    primary_key: stable_pk.clone(),
                });
                changes.push(Change::AddColumn {
                    table: name.clone(),
                    column: desired_column.clone(),
                    primary_key: pk_columns.clone(),
                });
            }
            Some((current_column, _)) => {
                push_column_changes(changes, name, current_column, desired_column, &pk_columns)
            }
            None => changes.push(Change::AddColumn {
                table: name.clone(),
                column: desired_column.clone(),
                primary_key: pk_columns.clone(),
            }),
        }
    }
    if projected.comment != desired.comment {
        changes.push(Change::SetComment {
            table: name.clone(),
            column: None,
            from: projected.comment.clone(),
            to: desired.comment.clone(),
        });
    }
    push_keyed_changes(changes, name, &projected, desired);
}

fn push_column_changes(
    changes: &mut Vec<Change>,
    table: &QualifiedName,
    current: &Column,
    desired: &Column,
    pk_columns: &[String],
) {
    let column = desired.name.clone();
    if current.name != desired.name {
        changes.push(Change::RenameColumn {
            table: table.clone(),
            from: current.name.clone(),
            to: column.clone(),
        });
    }
    let type_changes = current.ty != desired.ty || current.collation != desired.collation;
    // A default the new type cannot take by cast is dropped before the change and the
    // desired one set after it (PostgreSQL: "default … cannot be cast automatically").
    let recast_default = type_changes
        && current.default.is_some()
        && matches!(
            crate::type_change::classify_type_change(&current.ty, &desired.ty),
            crate::type_change::TypeChange::Rewrite | crate::type_change::TypeChange::Cast
        );
    if type_changes {
        changes.push(Change::AlterColumnType {
            table: table.clone(),
            column: column.clone(),
            from: current.ty.clone(),
            to: desired.ty.clone(),
            from_collation: current.collation.clone(),
            to_collation: desired.collation.clone(),
            also: Vec::new(),
        });
    }
    let current_default = if recast_default {
        if let Some(from) = &current.default {
            changes.push(Change::DropDefault {
                table: table.clone(),
                column: column.clone(),
                from: from.clone(),
            });
        }
        &None
    } else {
        &current.default
    };
    match (current_default, &desired.default) {
        (from, Some(to)) if !same_default(from.as_ref(), Some(to)) => {
            changes.push(Change::SetDefault {
                table: table.clone(),
                column: column.clone(),
                from: from.clone(),
                to: to.clone(),
            })
        }
        (Some(from), None) if desired.identity != Some(crate::model::Identity::Serial) => changes
            .push(Change::DropDefault {
                table: table.clone(),
                column: column.clone(),
                from: from.clone(),
            }),
        _ => {}
    }
    if current.identity != desired.identity {
        changes.push(Change::AlterIdentity {
            table: table.clone(),
            column: column.clone(),
            from: current.identity,
            to: desired.identity,
        });
    }
    if current.nullable && !desired.nullable {
        changes.push(Change::SetNotNull {
            table: table.clone(),
            column: desired.clone(),
            primary_key: pk_columns.to_vec(),
        });
    } else if !current.nullable && desired.nullable {
        changes.push(Change::DropNotNull {
            table: table.clone(),
            column: column.clone(),
            constraint: current.not_null_constraint.clone(),
        });
    } else if let (false, Some(from)) = (desired.nullable, &current.not_null_constraint) {
        // PostgreSQL 18: a NOT NULL constraint under another name than the one wanted (the
        // server's own, `<table>_<column>_not_null`, unless the target names it) — after a
        // rename of its table or column, or made by hand under a name of one's own.
        let to = desired
            .not_null_constraint
            .clone()
            .unwrap_or_else(|| crate::naming::not_null_constraint(&table.name, &column));
        if *from != to {
            changes.push(Change::RenameConstraint { table: table.clone(), from: from.clone(), to });
        }
    }
    if current.comment != desired.comment {
        changes.push(Change::SetComment {
            table: table.clone(),
            column: Some(column),
            from: current.comment.clone(),
            to: desired.comment.clone(),
        });
    }
}

/// Constraints with the validity flag cleared (see `push_keyed_changes`); a constraint
/// added by the plan is added valid unless the desired schema says otherwise.
trait Validity: Clone {
    fn clear_validity(&mut self);
    fn is_not_valid(&self) -> bool;
}

/// Names of NOT VALID constraints whose desired twin (same name and definition) is valid.
fn to_validate<'a, T: Validity + Keyed>(
    current: &'a [T],
    desired: &'a [T],
) -> impl Iterator<Item = String> + 'a {
    current
        .iter()
        .filter(|c| c.is_not_valid())
        .filter(|c| {
            desired
                .iter()
                .any(|d| !d.is_not_valid() && d.name() == c.name() && same_when_valid(d, c))
        })
        .map(|c| c.name().to_owned())
}

macro_rules! validity {
    ($ty:ty) => {
        impl Validity for $ty {
            fn clear_validity(&mut self) {
                self.not_valid = false;
            }
            fn is_not_valid(&self) -> bool {
                self.not_valid
            }
        }
    };
}
validity!(crate::model::CheckConstraint);
validity!(crate::model::ForeignKey);

fn same_when_valid<T: Validity + Keyed>(a: &T, b: &T) -> bool {
    let (mut a, mut b) = (a.clone(), b.clone());
    a.clear_validity();
    b.clear_validity();
    a.same(&b)
}

/// Whether `check` is the proof the online NOT NULL recipe adds and drops again
/// (`<table>_<column>_nn_proof`, `CHECK (column IS NOT NULL)`), left behind by a run cut
/// short, on a column the target declares NOT NULL and under a name the target does not
/// use. It is not the user's: the recipe's own `DROP CONSTRAINT IF EXISTS` removes it
/// when it makes the column NOT NULL, and on a column that already is it guards nothing
/// more. Planned as a user check's drop it would be rated HIGH, and the default policy
/// would refuse every restart after an interrupted migration.
fn is_leftover_not_null_proof(current: &Table, desired: &Table, check: &CheckConstraint) -> bool {
    let squeeze = |text: &str| -> String {
        text.chars()
            .filter(|c| !matches!(c, '(' | ')' | '"') && !c.is_whitespace())
            .flat_map(char::to_lowercase)
            .collect()
    };
    !desired.checks.iter().any(|c| c.name == check.name)
        && desired.columns.iter().any(|column| {
            !column.nullable
                && current.columns.iter().any(|c| c.name == column.name)
                && [crate::naming::not_null_proof, crate::naming::legacy_not_null_proof]
                    .iter()
                    .any(|name| check.name == name(&current.name.name, &column.name))
                && squeeze(&check.expression) == squeeze(&format!("{} IS NOT NULL", column.name))
        })
}

fn without_validity<T: Validity>(items: &[T]) -> Vec<T> {
    items
        .iter()
        .cloned()
        .map(|mut item| {
            item.clear_validity();
            item
        })
        .collect()
}

/// A named object compared by definition: indexes and each kind of constraint.
trait Keyed: Clone + PartialEq {
    fn name(&self) -> &str;
    /// The form compared: SQL expressions replaced by their canonical key.
    fn comparable(&self) -> Self {
        self.clone()
    }
    fn same(&self, other: &Self) -> bool {
        self.comparable() == other.comparable()
    }
    fn same_definition(&self, other: &Self) -> bool {
        let mut renamed = other.clone();
        renamed.set_name(self.name());
        self.same(&renamed)
    }
    fn set_name(&mut self, name: &str);
}

macro_rules! keyed {
    ($ty:ty $(, $comparable:expr)?) => {
        impl Keyed for $ty {
            fn name(&self) -> &str {
                &self.name
            }
            fn set_name(&mut self, name: &str) {
                self.name = name.to_owned();
            }
            $(fn comparable(&self) -> Self {
                let normalize: fn(&Self) -> Self = $comparable;
                normalize(self)
            })?
        }
    };
}
keyed!(crate::model::Index, |index| {
    let mut index = index.clone();
    index.predicate = index.predicate.as_deref().map(expression_key);
    for part in &mut index.parts {
        if let crate::model::IndexPart::Expression(expr) = part {
            *expr = expression_key(expr);
        }
    }
    index
});
keyed!(crate::model::UniqueConstraint);
keyed!(crate::model::CheckConstraint, |check| {
    let mut check = check.clone();
    check.expression = expression_key(&check.expression);
    check
});
keyed!(crate::model::ForeignKey);
keyed!(crate::model::ExclusionConstraint);
keyed!(crate::model::PrimaryKey);

/// Whether two defaults are the same expression (literals and SQL compared by their
/// canonical form, so `'-5'::integer` and `-5` are equal).
fn same_default(a: Option<&DefaultExpr>, b: Option<&DefaultExpr>) -> bool {
    let key = crate::normalize::default_key;
    match (a, b) {
        (None, None) => true,
        (Some(a), Some(b)) => a == b || key(a) == key(b),
        _ => false,
    }
}

/// How each keyed kind becomes changes.
struct KeyedChanges<T> {
    drop: fn(QualifiedName, T) -> Change,
    add: fn(QualifiedName, T) -> Change,
    rename: fn(QualifiedName, String, String) -> Change,
}

fn push_keyed_changes(
    changes: &mut Vec<Change>,
    table: &QualifiedName,
    current: &Table,
    desired: &Table,
) {
    let rename_constraint = |table, from, to| Change::RenameConstraint { table, from, to };
    diff_keyed(
        changes,
        table,
        current.primary_key.as_slice(),
        desired.primary_key.as_slice(),
        &KeyedChanges {
            drop: |table, primary_key| Change::DropPrimaryKey { table, primary_key },
            add: |table, primary_key| Change::AddPrimaryKey { table, primary_key },
            rename: rename_constraint,
        },
    );
    diff_keyed(
        changes,
        table,
        &current.uniques,
        &desired.uniques,
        &KeyedChanges {
            drop: |table, unique| Change::DropUnique { table, unique },
            add: |table, unique| Change::AddUnique { table, unique },
            rename: rename_constraint,
        },
    );
    // Validity is compared apart: a NOT VALID constraint that should be valid is
    // validated in place; a valid one where NOT VALID is asked for already does more.
    let (mut current_checks, desired_checks) =
        (without_validity(&current.checks), without_validity(&desired.checks));
    current_checks.retain(|check| !is_leftover_not_null_proof(current, desired, check));
    diff_keyed(
        changes,
        table,
        &current_checks,
        &desired_checks,
        &KeyedChanges {
            drop: |table, check| Change::DropCheck { table, check },
            add: |table, check| Change::AddCheck { table, check },
            rename: rename_constraint,
        },
    );
    diff_keyed(
        changes,
        table,
        &current.indexes,
        &desired.indexes,
        &KeyedChanges {
            drop: |table, index| Change::DropIndex { table, index },
            add: |table, index| Change::AddIndex { table, index },
            rename: |table, from, to| Change::RenameIndex { table, from, to },
        },
    );
    diff_keyed(
        changes,
        table,
        &current.exclusions,
        &desired.exclusions,
        &KeyedChanges {
            drop: |table, exclusion| Change::DropExclusion { table, exclusion },
            add: |table, exclusion| Change::AddExclusion { table, exclusion },
            rename: rename_constraint,
        },
    );
    let (current_fks, desired_fks) =
        (without_validity(&current.foreign_keys), without_validity(&desired.foreign_keys));
    diff_keyed(
        changes,
        table,
        &current_fks,
        &desired_fks,
        &KeyedChanges {
            drop: |table, foreign_key| Change::DropForeignKey { table, foreign_key },
            add: |table, foreign_key| Change::AddForeignKey { table, foreign_key },
            rename: rename_constraint,
        },
    );
    let validations = to_validate(&current.checks, &desired.checks)
        .chain(to_validate(&current.foreign_keys, &desired.foreign_keys));
    for name in validations {
        changes.push(Change::ValidateConstraint { table: table.clone(), name });
    }
}

fn diff_keyed<T: Keyed>(
    changes: &mut Vec<Change>,
    table: &QualifiedName,
    current: &[T],
    desired: &[T],
    kind: &KeyedChanges<T>,
) {
    let mut unmatched_current: Vec<&T> = Vec::new();
    let mut unmatched_desired: Vec<&T> = Vec::new();
    for item in current {
        match desired.iter().find(|d| d.name() == item.name()) {
            Some(wanted) if wanted.same(item) => {}
            Some(_) => {
                changes.push((kind.drop)(table.clone(), item.clone()));
            }
            None => unmatched_current.push(item),
        }
    }
    for item in desired {
        match current.iter().find(|c| c.name() == item.name()) {
            Some(existing) if existing.same(item) => {}
            Some(_) => changes.push((kind.add)(table.clone(), item.clone())),
            None => unmatched_desired.push(item),
        }
    }
    let mut renamed: BTreeMap<&str, &str> = BTreeMap::new();
    for wanted in unmatched_desired {
        let twin = unmatched_current
            .iter()
            .find(|c| wanted.same_definition(c) && !renamed.contains_key(c.name()));
        match twin {
            Some(existing) => {
                renamed.insert(existing.name(), wanted.name());
                changes.push((kind.rename)(
                    table.clone(),
                    existing.name().to_owned(),
                    wanted.name().to_owned(),
                ));
            }
            None => changes.push((kind.add)(table.clone(), wanted.clone())),
        }
    }
    for existing in unmatched_current {
        if !renamed.contains_key(existing.name()) {
            changes.push((kind.drop)(table.clone(), existing.clone()));
        }
    }
}

/// A primary key or unique constraint that is dropped (or re-created) cannot go while
/// foreign keys still reference its columns: such keys are dropped first and re-added.
fn push_foreign_key_rebuilds(
    changes: &mut Vec<Change>,
    current: &Schema,
    desired: &Schema,
    renamed_table: &dyn Fn(&QualifiedName) -> QualifiedName,
) {
    let dropped_keys: Vec<(QualifiedName, Vec<String>)> = changes
        .iter()
        .filter_map(|change| match change {
            Change::DropPrimaryKey { table, primary_key } => {
                Some((table.clone(), primary_key.columns.clone()))
            }
            Change::DropUnique { table, unique } => Some((table.clone(), unique.columns.clone())),
            _ => None,
        })
        .collect();
    if dropped_keys.is_empty() {
        return;
    }
    for table in &current.tables {
        for fk in &table.foreign_keys {
            let target = renamed_table(&fk.ref_table);
            let hit = dropped_keys.iter().any(|(t, cols)| {
                *t == target && {
                    let mut a = cols.clone();
                    let mut b = fk.ref_columns.clone();
                    a.sort();
                    b.sort();
                    a == b
                }
            });
            let owner = renamed_table(&table.name);
            let already_dropped = changes.iter().any(|c| {
                matches!(c, Change::DropForeignKey { table: t, foreign_key }
                    if *t == owner && foreign_key.name == fk.name)
            }) || !desired.tables.iter().any(|t| t.name == owner);
            if !hit || already_dropped {
                continue;
            }
            changes.push(Change::DropForeignKey { table: owner.clone(), foreign_key: fk.clone() });
            // A rename of this key (same definition, new name) cannot run once it is
            // dropped: re-add it under its new name instead.
            let renamed_to = changes.iter().position(|c| {
                matches!(c, Change::RenameConstraint { table: t, from, .. } if *t == owner && *from == fk.name)
            });
            let wanted_name = match renamed_to.map(|i| changes.remove(i)) {
                Some(Change::RenameConstraint { to, .. }) => to,
                _ => fk.name.clone(),
            };
            let wanted = desired
                .table(&owner)
                .and_then(|t| t.foreign_keys.iter().find(|f| f.name == wanted_name));
            let already_added = changes.iter().any(|c| {
                matches!(c, Change::AddForeignKey { table: t, foreign_key }
                    if *t == owner && foreign_key.name == wanted_name)
            });
            if let (Some(wanted), false) = (wanted, already_added) {
                changes.push(Change::AddForeignKey { table: owner, foreign_key: wanted.clone() });
            }
        }
    }
}
