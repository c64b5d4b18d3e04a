//! Implicit names of constraints and indexes, chosen the way PostgreSQL chooses them
//! (`makeObjectName` in `src/backend/commands/indexcmds.c`), so that a model and a table
//! another tool created compare equal. The engine always renders names explicitly, so the
//! same names are used on every dialect.

use crate::model::{IndexPart, Table};

/// PostgreSQL's `NAMEDATALEN - 1`: the longest identifier, in bytes.
pub const POSTGRES_MAX_IDENTIFIER: usize = 63;

/// The temporary `CHECK (column IS NOT NULL)` by which the online NOT NULL recipe proves a
/// column before `SET NOT NULL` (and drops again): `<table>_<column>_nn_proof`. Not
/// `…_not_null`: PostgreSQL 18 gives that name to the NOT NULL constraint itself, and a
/// proof holding it would push the constraint to `…_not_null1`. The differ knows the
/// proof by this name (or the one dataflow used before, [`legacy_not_null_proof`]) when a
/// run cut short left it behind.
pub fn not_null_proof(table: &str, column: &str) -> String {
    object_name(table, Some(column), "nn_proof")
}

/// The proof's name in dataflow releases before PostgreSQL 18 support.
pub fn legacy_not_null_proof(table: &str, column: &str) -> String {
    not_null_constraint(table, column)
}

/// The name PostgreSQL 18 gives a column's NOT NULL constraint when none is asked for:
/// `<table>_<column>_not_null` (`ChooseConstraintName`, when the name is free).
pub fn not_null_constraint(table: &str, column: &str) -> String {
    object_name(table, Some(column), "not_null")
}

/// `<name1>_<name2>_<label>`, shortening the longer of `name1`/`name2` a byte at a time
/// until the whole fits in 63 bytes, then clipping each part at a character boundary.
pub fn object_name(name1: &str, name2: Option<&str>, label: &str) -> String {
    let mut overhead = label.len() + 1;
    let mut name1_len = name1.len();
    let mut name2_len = 0;
    if let Some(name2) = name2 {
        name2_len = name2.len();
        overhead += 1;
    }
    let available = POSTGRES_MAX_IDENTIFIER.saturating_sub(overhead);
    while name1_len + name2_len > available {
        if name1_len > name2_len {
            name1_len -= 1;
        } else {
            name2_len -= 1;
        }
    }
    let mut name = clip(name1, name1_len).to_owned();
    if let Some(name2) = name2 {
        name.push('_');
        name.push_str(clip(name2, name2_len));
    }
    name.push('_');
    name.push_str(label);
    name
}

/// The longest prefix of `text` that has at most `max` bytes and ends on a char boundary.
pub fn clip(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// PostgreSQL joins the key column names with `_` (expressions contribute `expr`).
fn key_addition(parts: &[IndexPart]) -> String {
    parts
        .iter()
        .map(|part| match part {
            IndexPart::Column(name) => name.as_str(),
            IndexPart::Expression(_) => "expr",
        })
        .collect::<Vec<_>>()
        .join("_")
}

/// Fills every empty constraint or index name of `table` with its implicit name.
pub fn fill_implicit_names(table: &mut Table) {
    let table_name = table.name.name.clone();
    if let Some(pk) = &mut table.primary_key {
        if pk.name.is_empty() {
            pk.name = object_name(&table_name, None, "pkey");
        }
    }
    for unique in &mut table.uniques {
        if unique.name.is_empty() {
            unique.name = object_name(&table_name, Some(&unique.columns.join("_")), "key");
        }
    }
    for index in &mut table.indexes {
        if index.name.is_empty() {
            let label = if index.unique { "key" } else { "idx" };
            index.name = object_name(&table_name, Some(&key_addition(&index.parts)), label);
        }
    }
    for fk in &mut table.foreign_keys {
        if fk.name.is_empty() {
            fk.name = object_name(&table_name, Some(&fk.columns.join("_")), "fkey");
        }
    }
    let mut unnamed_checks = 0;
    for check in &mut table.checks {
        if check.name.is_empty() {
            check.name = object_name(&table_name, None, "check");
            if unnamed_checks > 0 {
                check.name = format!("{}{unnamed_checks}", check.name);
            }
            unnamed_checks += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_names_are_joined() {
        assert_eq!(object_name("users", Some("email"), "key"), "users_email_key");
        assert_eq!(object_name("users", None, "pkey"), "users_pkey");
    }

    #[test]
    fn long_names_are_shortened_like_postgres() {
        // Checked against PostgreSQL 15: CREATE TABLE <60 x 'a'> (<60 x 'b'> int UNIQUE)
        // names the constraint aaaa…(29)_bbbb…(29)_key.
        let name = object_name(&"a".repeat(60), Some(&"b".repeat(60)), "key");
        assert_eq!(name, format!("{}_{}_key", "a".repeat(29), "b".repeat(29)));
        assert_eq!(name.len(), 63);
    }

    #[test]
    fn clipping_respects_char_boundaries() {
        let name = object_name(&"é".repeat(40), None, "pkey");
        assert!(name.len() <= 63);
        assert!(name.ends_with("_pkey"));
    }
}
