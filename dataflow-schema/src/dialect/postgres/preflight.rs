//! The constraint validator: before a plan changes anything, queries that count the
//! existing rows a new constraint would reject, with a sample of them.
//!
//! - CHECK: rows where the expression is false (NULL passes a check, as in PostgreSQL);
//! - FOREIGN KEY: rows whose (non-NULL) key has no referenced row — also when the key is a
//!   column this plan adds, through its fill value (a fixed id, a lookup, an expression);
//! - UNIQUE (constraint or unique index): rows sharing a value;
//! - NOT NULL: rows that are NULL and that the fill leaves NULL (a lookup that finds no
//!   row, an expression that yields NULL).
//!
//! Tables the plan creates are empty and need no probe. Each probe scans the table once
//! without taking any lock beyond a plain read.

use super::{fill_value, qualified, quote_ident};
use crate::change::Change;
use crate::model::QualifiedName;
use crate::plan::Plan;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// Rows a sample lists at most.
pub const SAMPLE_ROWS: usize = 5;

/// One check of existing rows against a constraint the plan adds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Probe {
    /// The plan step that adds the constraint.
    pub step: usize,
    /// The table.
    pub table: String,
    /// What is checked, e.g. `CHECK events_amount_check (amount >= 0)`.
    pub constraint: String,
    /// `SELECT count(*) …`: the rows that would be rejected (one `bigint`).
    pub count_sql: String,
    /// Up to [`SAMPLE_ROWS`] of them (or their values), one `text` each.
    pub sample_sql: String,
    /// What to do about it.
    pub fix: String,
}

/// The probes for `plan`'s new constraints on tables that already exist.
pub fn probes(plan: &Plan) -> Vec<Probe> {
    let created: BTreeSet<&QualifiedName> = plan
        .changes
        .iter()
        .filter_map(|c| match c {
            Change::CreateTable(table) => Some(&table.name),
            _ => None,
        })
        .collect();
    // Columns this plan adds: their value for existing rows, when they get one.
    let added: BTreeMap<(&QualifiedName, &str), Option<String>> = plan
        .changes
        .iter()
        .filter_map(|c| match c {
            Change::AddColumn { table, column, .. } => {
                Some(((table, column.name.as_str()), fill_value(column)))
            }
            _ => None,
        })
        .collect();
    // The probes read the table as it is before the plan: a table the plan renames is
    // not there under its new name (its constraints are checked by their own steps), and
    // a column it renames is not there under its new name (probes that need it are left
    // out, as for a column the plan adds without a value).
    let renamed_tables: BTreeSet<&QualifiedName> = plan
        .changes
        .iter()
        .filter_map(|c| match c {
            Change::RenameTable { to, .. } => Some(to),
            _ => None,
        })
        .collect();
    const UNKNOWN: &Option<String> = &None;
    let renamed_columns: BTreeMap<(&QualifiedName, &str), &Option<String>> = plan
        .changes
        .iter()
        .filter_map(|c| match c {
            Change::RenameColumn { table, to, .. } => Some(((table, to.as_str()), UNKNOWN)),
            _ => None,
        })
        .collect();
    let mut probes = Vec::new();
    let mut seen = BTreeSet::new();
    for step in &plan.steps {
        // A constraint split into NOT VALID + VALIDATE has one probe, for its first step.
        if !seen.insert(step.change) {
            continue;
        }
        let Some(change) = plan.changes.get(step.change) else { continue };
        let table = match change {
            Change::AddCheck { table, .. }
            | Change::AddForeignKey { table, .. }
            | Change::AddUnique { table, .. }
            | Change::AddIndex { table, .. }
            | Change::SetNotNull { table, .. }
            | Change::AddColumn { table, .. } => table,
            _ => continue,
        };
        if created.contains(table) || renamed_tables.contains(table) {
            continue;
        }
        let new_columns: BTreeMap<&str, &Option<String>> = added
            .iter()
            .chain(renamed_columns.iter().map(|(key, value)| (key, *value)))
            .filter(|((t, _), _)| *t == table)
            .map(|((_, c), v)| (*c, v))
            .collect();
        let probe = match change {
            Change::AddCheck { check, .. } => {
                if mentions_any(&check.expression, new_columns.keys().copied()) {
                    continue;
                }
                rows_where(
                    table,
                    &format!("NOT ({})", check.expression),
                    format!("CHECK {} ({})", check.name, check.expression),
                    "correct or delete these rows first, or relax the check in the model",
                )
            }
            Change::AddForeignKey { foreign_key: fk, .. } => {
                let Some(probe) = foreign_key(table, fk, &new_columns, &created) else { continue };
                probe
            }
            Change::AddUnique { unique, .. } => {
                let Some(probe) = duplicates(
                    table,
                    &unique.columns,
                    None,
                    unique.nulls_not_distinct,
                    &new_columns,
                    format!("UNIQUE {} ({})", unique.name, unique.columns.join(", ")),
                ) else {
                    continue;
                };
                probe
            }
            Change::AddIndex { index, .. } if index.unique => {
                let columns: Option<Vec<String>> = index
                    .parts
                    .iter()
                    .map(|p| match p {
                        crate::model::IndexPart::Column(c) => Some(c.clone()),
                        _ => None,
                    })
                    .collect();
                let Some(columns) = columns else { continue };
                let Some(probe) = duplicates(
                    table,
                    &columns,
                    index.predicate.as_deref(),
                    index.nulls_not_distinct,
                    &new_columns,
                    format!("UNIQUE INDEX {} ({})", index.name, columns.join(", ")),
                ) else {
                    continue;
                };
                probe
            }
            Change::SetNotNull { column, .. } => {
                let fill = fill_value(column).unwrap_or_default();
                if new_columns.contains_key(column.name.as_str())
                    || mentions_any(&fill, new_columns.keys().copied())
                {
                    continue;
                }
                let col = quote_ident(&column.name);
                let filter = match fill_value(column) {
                    Some(value) => format!("{col} IS NULL AND ({value}) IS NULL"),
                    None => format!("{col} IS NULL"),
                };
                rows_where(
                    table,
                    &filter,
                    format!("NOT NULL {}", column.name),
                    "give these rows a value, or a `default`/`backfill` that yields one, or \
                     keep the field an Option",
                )
            }
            Change::AddColumn { column, .. } if !column.nullable => {
                let Some(value) = fill_value(column) else { continue };
                let others = new_columns.keys().copied().filter(|c| *c != column.name);
                if mentions_any(&value, others) {
                    continue;
                }
                rows_where(
                    table,
                    &format!("({value}) IS NULL"),
                    format!("NOT NULL {} (filled with {value})", column.name),
                    "the fill yields NULL for these rows: change the `backfill` (or its lookup) \
                     so every row gets a value, or make the field an Option",
                )
            }
            _ => continue,
        };
        probes.push(Probe { step: step.number, ..probe });
    }
    probes
}

/// Whether `expression` names one of `columns` (a word match; quoting aside).
pub(crate) fn mentions_any<'a>(
    expression: &str,
    mut columns: impl Iterator<Item = &'a str>,
) -> bool {
    let words: BTreeSet<&str> = expression
        .split(|c: char| !(c.is_alphanumeric() || c == '_'))
        .filter(|w| !w.is_empty())
        .collect();
    columns.any(|c| words.contains(c))
}

fn rows_where(table: &QualifiedName, filter: &str, constraint: String, fix: &str) -> Probe {
    let t = qualified(table);
    Probe {
        step: 0,
        table: table.to_string(),
        constraint,
        count_sql: format!("SELECT count(*) FROM {t} AS existing WHERE {filter}"),
        sample_sql: format!(
            "SELECT left(existing::text, 200) FROM {t} AS existing WHERE {filter} LIMIT {SAMPLE_ROWS}"
        ),
        fix: fix.to_owned(),
    }
}

/// The expression for `column` of an existing row: the column, or the fill of a column
/// this plan adds (evaluated over the row, through `LATERAL`). `None`: nothing to check.
fn value_of(column: &str, new_columns: &BTreeMap<&str, &Option<String>>) -> Option<String> {
    match new_columns.get(column) {
        Some(Some(value)) => Some(value.clone()),
        Some(None) => None,
        None => Some(format!("existing.{}", quote_ident(column))),
    }
}

/// `(SELECT v1 AS k1, … FROM t AS existing) AS key`: the key values of every row, fills
/// included — evaluated per row, so a volatile fill (`gen_random_uuid()`) differs per row
/// as it will when it runs.
fn keyed_rows(
    table: &QualifiedName,
    columns: &[String],
    new_columns: &BTreeMap<&str, &Option<String>>,
) -> Option<(String, Vec<String>)> {
    let values: Vec<String> =
        columns.iter().map(|c| value_of(c, new_columns)).collect::<Option<_>>()?;
    let keys: Vec<String> = (1..=columns.len()).map(|i| format!("key.k{i}")).collect();
    let select = values
        .iter()
        .enumerate()
        .map(|(i, v)| format!("{v} AS k{}", i + 1))
        .collect::<Vec<_>>()
        .join(", ");
    Some((format!("(SELECT {select} FROM {} AS existing) AS key", qualified(table)), keys))
}

fn foreign_key(
    table: &QualifiedName,
    fk: &crate::model::ForeignKey,
    new_columns: &BTreeMap<&str, &Option<String>>,
    created: &BTreeSet<&QualifiedName>,
) -> Option<Probe> {
    let (from, keys) = keyed_rows(table, &fk.columns, new_columns)?;
    let not_null =
        keys.iter().map(|k| format!("{k} IS NOT NULL")).collect::<Vec<_>>().join(" AND ");
    // A referenced table the plan creates is empty: every non-NULL key is missing.
    let missing = if created.contains(&fk.ref_table) {
        String::new()
    } else {
        let matches = fk
            .ref_columns
            .iter()
            .zip(&keys)
            .map(|(r, k)| format!("target.{} = {k}", quote_ident(r)))
            .collect::<Vec<_>>()
            .join(" AND ");
        format!(
            " AND NOT EXISTS (SELECT 1 FROM {} AS target WHERE {matches})",
            qualified(&fk.ref_table)
        )
    };
    let filter = format!("{not_null}{missing}");
    let shown = if keys.len() == 1 {
        format!("{}::text", keys[0])
    } else {
        format!("ROW({})::text", keys.join(", "))
    };
    Some(Probe {
        step: 0,
        table: table.to_string(),
        constraint: format!(
            "FOREIGN KEY {} ({}) → {} ({})",
            fk.name,
            fk.columns.join(", "),
            fk.ref_table,
            fk.ref_columns.join(", ")
        ),
        count_sql: format!("SELECT count(*) FROM {from} WHERE {filter}"),
        sample_sql: format!(
            "SELECT DISTINCT {shown} FROM {from} WHERE {filter} ORDER BY 1 LIMIT {SAMPLE_ROWS}"
        ),
        fix: format!(
            "insert the missing {} rows, correct or delete the rows that point at them, or \
             fill the column with a value that exists",
            fk.ref_table
        ),
    })
}

fn duplicates(
    table: &QualifiedName,
    columns: &[String],
    predicate: Option<&str>,
    nulls_not_distinct: bool,
    new_columns: &BTreeMap<&str, &Option<String>>,
    constraint: String,
) -> Option<Probe> {
    let (from, keys) = keyed_rows(table, columns, new_columns)?;
    let mut filters: Vec<String> = Vec::new();
    if !nulls_not_distinct {
        filters.extend(keys.iter().map(|k| format!("{k} IS NOT NULL")));
    }
    if let Some(predicate) = predicate {
        if mentions_any(predicate, new_columns.keys().copied()) {
            return None;
        }
        filters.push(format!("({predicate})"));
    }
    let filter = if filters.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", filters.join(" AND "))
    };
    let group = keys.join(", ");
    let shown =
        if keys.len() == 1 { format!("{}::text", keys[0]) } else { format!("ROW({group})::text") };
    let groups = format!(
        "SELECT {shown} AS value, count(*) AS n FROM {from}{filter} GROUP BY {group} HAVING count(*) > 1"
    );
    Some(Probe {
        step: 0,
        table: table.to_string(),
        constraint,
        count_sql: format!("SELECT coalesce(sum(n), 0)::bigint FROM ({groups}) AS duplicates"),
        sample_sql: format!(
            "SELECT value || ' × ' || n FROM ({groups}) AS duplicates ORDER BY n DESC, value LIMIT {SAMPLE_ROWS}"
        ),
        fix: "make these values distinct (or delete the extra rows) first, or drop `unique` \
              from the model"
            .to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_word_match_finds_columns_in_expressions() {
        assert!(mentions_any("amount >= 0 AND qty > 1", ["qty"].into_iter()));
        assert!(!mentions_any("quantity > 1", ["qty"].into_iter()));
    }
}
