//! The shape a desired schema takes on MySQL/MariaDB, so that it equals what
//! introspection reads back from the tables the renderer creates:
//! - one namespace (the URL's database): a model with `schema = …` is an error;
//! - enum types are inline `enum('a','b')` column types; `uuid` is `char(36)`, both
//!   timestamp kinds are `datetime(6)` (the connection's time zone is UTC), `jsonb` is
//!   `json`, an unbounded `numeric` is `decimal(65,30)`;
//! - unique constraints are unique indexes; the primary key is named `PRIMARY`;
//! - a foreign key without an index starting with its columns gets one named after it
//!   (InnoDB would create exactly that index itself);
//! - `RESTRICT` is `NO ACTION` (InnoDB treats them alike and prints either);
//! - boolean literals are `1`/`0`, `now()` defaults are `CURRENT_TIMESTAMP(6)`;
//! - generated columns are stored and nullable (MariaDB allows no NOT NULL on them);
//! - what the servers cannot hold is an error naming the object and the fix: sequences,
//!   arrays, exclusion and deferrable constraints, partial and expression indexes, index
//!   methods other than b-tree, and unbounded text in a key.

use super::{is_current_timestamp, parse_type, IDENTITY};
use crate::error::PlanError;
use crate::model::{
    Column, ColumnType, DefaultExpr, FkAction, ForeignKey, Index, IndexMethod, IndexPart, Literal,
    QualifiedName, Schema, Table,
};

/// The name MySQL gives every primary key.
pub const PRIMARY: &str = "PRIMARY";

/// The MySQL form of `desired`, and warnings about what it cannot keep.
pub fn shape(desired: &Schema) -> Result<(Schema, Vec<String>), PlanError> {
    let mut schema = desired.clone();
    let mut warnings = Vec::new();
    if let Some(sequence) = schema.sequences.first() {
        return Err(unsupported(
            format!("sequence {}", sequence.name),
            "MySQL has no sequences: use an auto-increment primary key (`auto`)",
        ));
    }
    for table in &mut schema.tables {
        shape_table(table, desired, &mut warnings)?;
    }
    schema.enums.clear();
    schema.namespaces.clear();
    schema.canonicalize();
    Ok((schema, warnings))
}

fn unsupported(object: String, reason: &str) -> PlanError {
    PlanError::Unsupported { object, reason: reason.to_owned() }
}

fn shape_table(
    table: &mut Table,
    desired: &Schema,
    warnings: &mut Vec<String>,
) -> Result<(), PlanError> {
    if let Some(namespace) = &table.name.schema {
        return Err(unsupported(
            format!("table {}", table.name),
            &format!(
                "on MySQL the namespace is the database in the URL: remove `schema = \"{namespace}\"`"
            ),
        ));
    }
    if let Some(exclusion) = table.exclusions.first() {
        return Err(unsupported(
            format!("exclusion constraint {} on {}", exclusion.name, table.name),
            "MySQL has no exclusion constraints",
        ));
    }
    for column in &mut table.columns {
        shape_column(&table.name, column, desired)?;
    }
    if let Some(pk) = &mut table.primary_key {
        pk.name = PRIMARY.to_owned();
    }
    for check in &mut table.checks {
        check.not_valid = false;
        if check.no_inherit {
            return Err(unsupported(
                format!("check {} on {}", check.name, table.name),
                "NO INHERIT is PostgreSQL's: remove it",
            ));
        }
    }
    for unique in std::mem::take(&mut table.uniques) {
        if unique.deferrable || unique.nulls_not_distinct {
            return Err(unsupported(
                format!("unique constraint {} on {}", unique.name, table.name),
                "MySQL unique keys are neither deferrable nor NULLS NOT DISTINCT",
            ));
        }
        table.indexes.push(Index {
            name: unique.name,
            parts: unique.columns.into_iter().map(IndexPart::Column).collect(),
            unique: true,
            ..Index::default()
        });
    }
    for index in &mut table.indexes {
        shape_index(&table.name, index, warnings)?;
    }
    for fk in &table.foreign_keys {
        check_key_types_match(table, fk, desired)?;
    }
    for fk in &mut table.foreign_keys {
        if fk.deferrable || fk.match_full {
            return Err(unsupported(
                format!("foreign key {} on {}", fk.name, table.name),
                "InnoDB foreign keys are neither deferrable nor MATCH FULL",
            ));
        }
        fk.not_valid = false;
        fk.ref_table.schema = None;
        for action in [&mut fk.on_delete, &mut fk.on_update] {
            if *action == FkAction::Restrict {
                *action = FkAction::NoAction;
            }
        }
    }
    let supporting: Vec<Index> = table
        .foreign_keys
        .iter()
        .filter(|fk| !has_leading_index(table, &fk.columns))
        .map(|fk| Index {
            name: fk.name.clone(),
            parts: fk.columns.iter().cloned().map(IndexPart::Column).collect(),
            ..Index::default()
        })
        .collect();
    table.indexes.extend(supporting);
    check_keys_are_bounded(table)
}

fn shape_column(
    table: &QualifiedName,
    column: &mut Column,
    desired: &Schema,
) -> Result<(), PlanError> {
    let object = || format!("column {table}.{}", column.name);
    column.ty = match &column.ty {
        ColumnType::Array(_) => {
            return Err(unsupported(
                object(),
                "MySQL has no array types: store JSON (`Json<Vec<…>>`) instead",
            ))
        }
        ColumnType::Enum(name) => {
            let values = desired.enum_type(name).map(|e| e.values.clone()).unwrap_or_default();
            if values.is_empty() {
                return Err(unsupported(object(), "MySQL enums need at least one value"));
            }
            let list: Vec<String> = values.iter().map(|v| super::quote_literal(v)).collect();
            ColumnType::Other(format!("enum({})", list.join(",")))
        }
        ColumnType::Uuid => ColumnType::Char(36),
        ColumnType::TimestampTz => ColumnType::Timestamp,
        ColumnType::Jsonb => ColumnType::Json,
        ColumnType::Numeric { precision: None, .. } => {
            ColumnType::Numeric { precision: Some(65), scale: Some(30) }
        }
        ColumnType::Numeric { precision, scale: None } => {
            ColumnType::Numeric { precision: *precision, scale: Some(0) }
        }
        ColumnType::Other(text) => parse_type(text),
        other => other.clone(),
    };
    if column.identity.is_some() {
        column.identity = Some(IDENTITY);
    }
    if column.generated.is_some() {
        // MariaDB's generated columns are nullable, and read back so.
        column.nullable = true;
    }
    column.default = column.default.take().map(|default| shape_default(&column.ty, default));
    Ok(())
}

/// The default as the server prints it back.
fn shape_default(ty: &ColumnType, default: DefaultExpr) -> DefaultExpr {
    match default {
        DefaultExpr::Literal(Literal::Bool(b)) => {
            DefaultExpr::Literal(Literal::Number(if b { "1" } else { "0" }.into()))
        }
        DefaultExpr::Literal(Literal::Number(n)) => {
            DefaultExpr::Literal(Literal::Number(canonical_number(&n)))
        }
        DefaultExpr::Sql(sql) if is_current_timestamp(&sql) => {
            let precision = if *ty == ColumnType::Timestamp { "(6)" } else { "()" };
            DefaultExpr::Sql(format!("current_timestamp{precision}"))
        }
        other => other,
    }
}

/// `1.50` → `1.5`, `0.00` → `0`, `+3` → `3`: numbers compare by value, and MySQL prints a
/// decimal default with its scale.
pub fn canonical_number(text: &str) -> String {
    let text = text.trim().trim_start_matches('+');
    let (sign, digits) = match text.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", text),
    };
    if !digits.chars().all(|c| c.is_ascii_digit() || c == '.') || digits.is_empty() {
        return text.to_owned();
    }
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
    let whole = whole.trim_start_matches('0');
    let fraction = fraction.trim_end_matches('0');
    let whole = if whole.is_empty() { "0" } else { whole };
    let number = if fraction.is_empty() { whole.to_owned() } else { format!("{whole}.{fraction}") };
    if number == "0" {
        number
    } else {
        format!("{sign}{number}")
    }
}

fn shape_index(
    table: &QualifiedName,
    index: &mut Index,
    warnings: &mut Vec<String>,
) -> Result<(), PlanError> {
    let object = || format!("index {} on {table}", index.name);
    if index.predicate.is_some() {
        return Err(unsupported(object(), "MySQL has no partial indexes: remove `predicate`"));
    }
    if index.parts.iter().any(|p| matches!(p, IndexPart::Expression(_))) {
        return Err(unsupported(
            object(),
            "MariaDB has no expression indexes: index a column (a stored generated one)",
        ));
    }
    if !index.include.is_empty() || index.nulls_not_distinct {
        return Err(unsupported(object(), "MySQL indexes have no INCLUDE or NULLS NOT DISTINCT"));
    }
    match index.method {
        IndexMethod::Btree => {}
        IndexMethod::Hash => {
            warnings.push(format!("{}: InnoDB builds b-tree indexes only", object()));
            index.method = IndexMethod::Btree;
        }
        other => {
            return Err(unsupported(object(), &format!("MySQL has no {other:?} indexes")));
        }
    }
    if !index.with.is_empty() {
        warnings.push(format!("{}: storage parameters are PostgreSQL's, not applied", object()));
        index.with.clear();
    }
    for option in &mut index.part_options {
        let upper = option.trim().to_ascii_uppercase();
        // A key prefix length (`(255)`), as introspection reads it, possibly with DESC.
        let (prefix, order) = match upper.strip_prefix('(').and_then(|r| r.split_once(')')) {
            Some((length, rest)) if length.chars().all(|c| c.is_ascii_digit()) => {
                (format!("({length})"), rest.trim().to_owned())
            }
            _ => (String::new(), upper.clone()),
        };
        let order = match order.as_str() {
            "" | "ASC" => "",
            "DESC" => "DESC",
            _ => return Err(unsupported(object(), &format!("option {option:?} is not MySQL's"))),
        };
        *option = [prefix.as_str(), order]
            .iter()
            .filter(|p| !p.is_empty())
            .copied()
            .collect::<Vec<_>>()
            .join(" ");
    }
    if index.part_options.iter().all(String::is_empty) {
        index.part_options.clear();
    }
    Ok(())
}

/// Whether an index (or the primary key) starts with `columns`.
fn has_leading_index(table: &Table, columns: &[String]) -> bool {
    let starts = |parts: Vec<&String>| {
        parts.len() >= columns.len()
            && parts[..columns.len()] == columns.iter().collect::<Vec<_>>()[..]
    };
    table.primary_key.as_ref().is_some_and(|pk| starts(pk.columns.iter().collect()))
        || table.indexes.iter().any(|index| {
            starts(
                index
                    .parts
                    .iter()
                    .filter_map(|p| match p {
                        IndexPart::Column(c) => Some(c),
                        IndexPart::Expression(_) => None,
                    })
                    .collect(),
            )
        })
}

/// InnoDB refuses a foreign key whose integer column and referenced column differ in type
/// (errno 150, "incorrectly formed") — at the server, after earlier steps of a
/// non-transactional run were applied. Said at plan time instead.
fn check_key_types_match(
    table: &Table,
    fk: &ForeignKey,
    desired: &Schema,
) -> Result<(), PlanError> {
    let Some(target) = desired.table(&fk.ref_table) else { return Ok(()) };
    for (name, ref_name) in fk.columns.iter().zip(&fk.ref_columns) {
        let (Some(column), Some(referenced)) = (table.column(name), target.column(ref_name)) else {
            continue;
        };
        let integer = |ty: &ColumnType| {
            matches!(ty, ColumnType::SmallInt | ColumnType::Integer | ColumnType::BigInt)
        };
        if integer(&column.ty) && integer(&referenced.ty) && column.ty != referenced.ty {
            return Err(unsupported(
                format!("foreign key {} on {}", fk.name, table.name),
                &format!(
                    "column {name} is {} but {}.{ref_name} is {}: InnoDB needs both to have \
                     the same integer type (make both i64, or both i32)",
                    super::render_type(&column.ty),
                    target.name,
                    super::render_type(&referenced.ty),
                ),
            ));
        }
    }
    Ok(())
}

/// MySQL cannot index unbounded text without a prefix length: say which field needs a
/// `max_length` rather than fail at the server.
fn check_keys_are_bounded(table: &Table) -> Result<(), PlanError> {
    let keyed = table.primary_key.iter().flat_map(|pk| pk.columns.iter()).chain(
        table.indexes.iter().flat_map(|i| {
            i.parts.iter().filter_map(|p| match p {
                IndexPart::Column(c) => Some(c),
                IndexPart::Expression(_) => None,
            })
        }),
    );
    for name in keyed {
        if let Some(column) = table.column(name) {
            if matches!(column.ty, ColumnType::Text | ColumnType::Bytes | ColumnType::Json) {
                return Err(unsupported(
                    format!("column {}.{}", table.name, column.name),
                    "MySQL cannot index unbounded text: give the field a `max_length` \
                     (varchar) to use it in a key or index",
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::canonical_number;

    #[test]
    fn numbers_compare_by_value() {
        assert_eq!(canonical_number("0.00"), "0");
        assert_eq!(canonical_number("1.50"), "1.5");
        assert_eq!(canonical_number("-007"), "-7");
        assert_eq!(canonical_number("-0.0"), "0");
        assert_eq!(canonical_number("1e3"), "1e3");
    }
}
