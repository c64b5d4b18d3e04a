//! Rejects a desired schema the server would refuse or silently alter, before anything
//! is rendered: empty names, names longer than the identifier limit (PostgreSQL would
//! truncate them, possibly into collisions), NUL bytes, malformed numbers, two objects
//! sharing a name in one namespace, foreign keys to columns that are not a key, and on MySQL/MariaDB what its catalog cannot hold
//! (`catalog_text`) or would read otherwise (`fragment::check_mysql_fragment`): there DDL
//! commits itself, so a statement the server refuses midway would leave the steps before
//! it applied.

use crate::dialect::{CatalogLimits, Dialect};
use crate::error::PlanError;
use crate::model::{Backfill, DefaultExpr, Index, IndexPart, Literal, Schema, Table};
use std::collections::BTreeMap;

/// Checks every identifier and literal of `schema` for `dialect`.
pub fn validate_schema(schema: &Schema, dialect: Dialect) -> Result<(), PlanError> {
    let limits =
        &Limits { max_bytes: dialect.max_identifier_bytes(), of: dialect.rules().catalog_limits() };
    for table in &schema.tables {
        validate_table(table, limits)?;
    }
    for enum_type in &schema.enums {
        let object = format!("enum type {}", enum_type.name);
        identifier(&object, &enum_type.name.name, limits)?;
        for value in &enum_type.values {
            // PostgreSQL enum labels share the identifier length limit.
            identifier(&format!("value of {object}"), value, limits)?;
        }
    }
    for sequence in &schema.sequences {
        identifier(&format!("sequence {}", sequence.name), &sequence.name.name, limits)?;
    }
    referenced_keys(schema, &limits.of)?;
    // On PostgreSQL indexes and key constraints share the namespace with tables; MySQL
    // keeps index names per table (every primary key is `PRIMARY`).
    if limits.of.index_names_per_table {
        return Ok(());
    }
    unique_relation_names(schema, limits.of.names_ignore_case)
}

/// `name` as the database compares it: ASCII case folded where it ignores case.
fn compared(name: &str, ignore_case: bool) -> std::borrow::Cow<'_, str> {
    if ignore_case {
        std::borrow::Cow::Owned(name.to_ascii_lowercase())
    } else {
        std::borrow::Cow::Borrowed(name)
    }
}

/// The end of a collision message: why two names that differ are one.
fn case_note(first: &str, second: &str) -> &'static str {
    if first == second {
        ""
    } else {
        " (this database compares names without regard to case)"
    }
}

/// The limits names and text are checked against.
struct Limits {
    max_bytes: usize,
    of: CatalogLimits,
}

/// Tables and columns named `_dataflow_*` are the engine's (history, trash, backups, the
/// shadow column of a type change): introspection does not report them, so a model that
/// used the prefix would never converge.
const RESERVED_PREFIX: &str = "_dataflow_";

fn not_reserved(object: &str, name: &str) -> Result<(), PlanError> {
    if name.starts_with(RESERVED_PREFIX) {
        return Err(PlanError::InvalidIdentifier {
            object: object.to_owned(),
            name: name.to_owned(),
            reason: format!(
                "names starting with `{RESERVED_PREFIX}` are reserved for dataflow's own tables \
                 and columns: choose another name"
            ),
        });
    }
    Ok(())
}

fn validate_table(table: &Table, limits: &Limits) -> Result<(), PlanError> {
    let object = format!("table {}", table.name);
    identifier(&object, &table.name.name, limits)?;
    not_reserved(&object, &table.name.name)?;
    if let Some(schema) = &table.name.schema {
        identifier(&format!("schema of {object}"), schema, limits)?;
    }
    if limits.of.basic_multilingual_plane_only {
        catalog_text(&format!("comment of {object}"), table.comment.as_deref())?;
    }
    for column in &table.columns {
        let object = format!("column {}.{}", table.name, column.name);
        identifier(&object, &column.name, limits)?;
        not_reserved(&object, &column.name)?;
        if let Some(DefaultExpr::Literal(literal)) = &column.default {
            literal_value(&object, literal)?;
            if let (true, Literal::Text(text)) = (limits.of.basic_multilingual_plane_only, literal)
            {
                catalog_text(&format!("default of {object}"), Some(text))?;
            }
        }
        if limits.of.basic_multilingual_plane_only {
            catalog_text(&format!("comment of {object}"), column.comment.as_deref())?;
        }
    }
    sql_fragments(table, limits)?;
    let mut seen = BTreeMap::new();
    let ignore_case = limits.of.column_names_ignore_case;
    for column in &table.columns {
        if let Some(first) = seen.insert(compared(&column.name, ignore_case), column.name.as_str())
        {
            return Err(PlanError::InvalidIdentifier {
                object: format!("table {}", table.name),
                name: column.name.clone(),
                reason: format!(
                    "two columns have this name{}: rename one",
                    case_note(first, &column.name)
                ),
            });
        }
    }
    let names = table
        .primary_key
        .iter()
        .map(|k| ("primary key", &k.name))
        .chain(table.uniques.iter().map(|k| ("unique constraint", &k.name)))
        .chain(table.checks.iter().map(|k| ("check constraint", &k.name)))
        .chain(table.foreign_keys.iter().map(|k| ("foreign key", &k.name)))
        .chain(table.indexes.iter().map(|k| ("index", &k.name)));
    for (kind, name) in names {
        identifier(&format!("{kind} on {}", table.name), name, limits)?;
    }
    Ok(())
}

/// Every piece of SQL the models carry must be one fragment (see `fragment`).
fn sql_fragments(table: &Table, limits: &Limits) -> Result<(), PlanError> {
    let mut pieces: Vec<(String, &str)> = Vec::new();
    for column in &table.columns {
        let object = |what: &str| format!("{what} of column {}.{}", table.name, column.name);
        if let Some(DefaultExpr::Sql(sql)) = &column.default {
            pieces.push((object("default_sql"), sql));
        }
        if let Some(sql) = &column.generated {
            pieces.push((object("generated expression"), sql));
        }
        if let crate::model::ColumnType::Other(sql) = &column.ty {
            pieces.push((object("sql_type"), sql));
        }
        match &column.backfill {
            Some(Backfill::Computed(sql)) => pieces.push((object("backfill"), sql)),
            Some(Backfill::Conditional { cases, otherwise }) => {
                for (condition, value) in cases {
                    pieces.push((object("backfill_case condition"), condition));
                    pieces.push((object("backfill_case value"), value));
                }
                if let Some(value) = otherwise {
                    pieces.push((object("backfill_case else"), value));
                }
            }
            Some(Backfill::ForeignKeyLookup { filter, .. }) => {
                pieces.push((object("backfill_fk where"), filter));
            }
            _ => {}
        }
    }
    for check in &table.checks {
        pieces.push((format!("check {} on {}", check.name, table.name), &check.expression));
    }
    for index in &table.indexes {
        let object = format!("index {} on {}", index.name, table.name);
        if let Some(predicate) = &index.predicate {
            pieces.push((format!("predicate of {object}"), predicate));
        }
        for part in &index.parts {
            if let crate::model::IndexPart::Expression(sql) = part {
                pieces.push((format!("expression of {object}"), sql));
            }
        }
        for option in index.part_options.iter().chain(&index.with) {
            pieces.push((format!("option of {object}"), option));
        }
    }
    for exclusion in &table.exclusions {
        pieces.push((
            format!("exclusion {} on {}", exclusion.name, table.name),
            &exclusion.definition,
        ));
    }
    for (object, text) in pieces {
        if let Some(reason) = crate::fragment::check_fragment(text) {
            return Err(PlanError::InvalidSql { object, text: text.to_owned(), reason });
        }
        // Readable back from the catalog, and one fragment as MySQL lexes it too.
        if limits.of.basic_multilingual_plane_only {
            catalog_text(&object, Some(text))?;
        }
        if limits.of.mysql_lexer {
            if let Some(problem) = crate::fragment::check_mysql_fragment(text) {
                let reason = format!("{text:?} as MySQL reads it: {problem}");
                return Err(PlanError::Unsupported { object, reason });
            }
        }
        if limits.of.sqlite_lexer {
            if let Some(problem) = crate::fragment::check_sqlite_fragment(text) {
                let reason = format!("{text:?} as SQLite reads it: {problem}");
                return Err(PlanError::Unsupported { object, reason });
            }
        }
    }
    Ok(())
}

/// The first character outside the Basic Multilingual Plane (emoji, rarer CJK): MariaDB
/// keeps names, and its `information_schema` reports defaults, comments and check
/// clauses, in utf8mb3, which has none of them.
fn beyond_utf8mb3(text: &str) -> Option<char> {
    text.chars().find(|c| u32::from(*c) > 0xFFFF)
}

/// A default, comment or piece of model SQL where the catalog keeps utf8mb3 (MariaDB): it must read back as written, or it could never
/// be compared (a change every run) nor restored by a rollback.
fn catalog_text(object: &str, text: Option<&str>) -> Result<(), PlanError> {
    let Some(c) = text.and_then(beyond_utf8mb3) else { return Ok(()) };
    Err(PlanError::Unsupported {
        object: object.to_owned(),
        reason: format!(
            "{c:?} is outside the Basic Multilingual Plane, and MariaDB's catalog reports it as \
             '?', so dataflow could neither verify it nor restore it on a rollback: set it in \
             the application, or use other characters"
        ),
    })
}

fn identifier(object: &str, name: &str, limits: &Limits) -> Result<(), PlanError> {
    let limit = limits.max_bytes;
    let reason = if name.is_empty() {
        "names cannot be empty".to_owned()
    } else if name.contains('\0') {
        "names cannot contain a NUL byte".to_owned()
    } else if name.len() > limit {
        format!(
            "it is {} bytes long and the server keeps only {limit} (PostgreSQL would silently \
             truncate it): choose a shorter name",
            name.len()
        )
    } else if limits.of.no_trailing_space_in_names && name.ends_with(' ') {
        "MySQL and MariaDB refuse names that end with a space: remove it".to_owned()
    } else if let Some(c) = beyond_utf8mb3(name).filter(|_| limits.of.basic_multilingual_plane_only)
    {
        format!(
            "MariaDB keeps names in utf8mb3, which has no {c:?} (outside the Basic \
             Multilingual Plane): choose a name without it"
        )
    } else {
        return Ok(());
    };
    Err(PlanError::InvalidIdentifier { object: object.to_owned(), name: name.to_owned(), reason })
}

fn literal_value(object: &str, literal: &Literal) -> Result<(), PlanError> {
    let reason = match literal {
        Literal::Text(text) if text.contains('\0') => "text values cannot contain a NUL byte",
        Literal::Number(number) if !is_plain_number(number) => "the default is not a plain number",
        _ => return Ok(()),
    };
    Err(PlanError::InvalidLiteral { object: object.to_owned(), reason: reason.to_owned() })
}

/// `-12`, `3.5`, `1e9`, `-0.25E-3`: digits with an optional sign, point and exponent.
fn is_plain_number(text: &str) -> bool {
    let unsigned = text.strip_prefix('-').unwrap_or(text);
    let (mantissa, exponent) = match unsigned.split_once(['e', 'E']) {
        Some((m, e)) => (m, Some(e.strip_prefix(['-', '+']).unwrap_or(e))),
        None => (unsigned, None),
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let mantissa_ok = match mantissa.split_once('.') {
        Some((int, frac)) => digits(int) && digits(frac),
        None => digits(mantissa),
    };
    mantissa_ok && exponent.is_none_or(digits)
}

/// On PostgreSQL, tables, indexes (including those behind primary keys and unique
/// constraints) and sequences share one namespace.
fn unique_relation_names(schema: &Schema, ignore_case: bool) -> Result<(), PlanError> {
    let mut claims: Vec<(Option<&str>, &str, String)> = Vec::new();
    for table in &schema.tables {
        let ns = table.name.schema.as_deref();
        claims.push((ns, &table.name.name, format!("table {}", table.name)));
        if let Some(pk) = &table.primary_key {
            claims.push((ns, &pk.name, format!("primary key of {}", table.name)));
        }
        for unique in &table.uniques {
            claims.push((ns, &unique.name, format!("unique constraint on {}", table.name)));
        }
        for index in &table.indexes {
            claims.push((ns, &index.name, format!("index on {}", table.name)));
        }
    }
    for sequence in &schema.sequences {
        let ns = sequence.name.schema.as_deref();
        claims.push((ns, &sequence.name.name, format!("sequence {}", sequence.name)));
    }
    // (namespace, name as compared) → (owner, name as written)
    type Key<'a> = (Option<&'a str>, std::borrow::Cow<'a, str>);
    let mut owners: BTreeMap<Key<'_>, (&str, &str)> = BTreeMap::new();
    for (namespace, name, owner) in &claims {
        if let Some((first, first_name)) =
            owners.insert((*namespace, compared(name, ignore_case)), (owner, name))
        {
            return Err(PlanError::InvalidIdentifier {
                object: owner.clone(),
                name: (*name).to_owned(),
                reason: format!(
                    "{first} already uses this name in the same namespace{}: name one of them \
                     explicitly",
                    case_note(first_name, name)
                ),
            });
        }
    }
    Ok(())
}

/// Every foreign key to a table of `schema` references columns the database accepts as a
/// referenced key (a plan to anything else fails at the key, after its earlier steps).
fn referenced_keys(schema: &Schema, limits: &CatalogLimits) -> Result<(), PlanError> {
    for table in &schema.tables {
        for fk in &table.foreign_keys {
            // A table outside the schema (DB-vs-DB, another namespace) is the server's to judge.
            let Some(target) = schema.table(&fk.ref_table) else { continue };
            if !can_be_referenced(target, &fk.ref_columns, limits.references_any_index) {
                return Err(PlanError::UnreferenceableKey {
                    table: table.name.to_string(),
                    constraint: fk.name.clone(),
                    target: target.name.to_string(),
                    columns: fk.ref_columns.join(", "),
                    reason: if limits.references_any_index {
                        "no index of it begins with"
                    } else {
                        "are not its primary key or unique"
                    },
                });
            }
        }
    }
    Ok(())
}

/// Whether a key on `columns` of `target` can be referenced: a primary key, unique
/// constraint or unique plain index on exactly those columns (in any order); with
/// `any_index`, any key or plain index that begins with them in order.
fn can_be_referenced(target: &Table, columns: &[String], any_index: bool) -> bool {
    let fits = |key: &[String]| {
        if any_index {
            key.len() >= columns.len() && key[..columns.len()] == *columns
        } else {
            key.len() == columns.len() && columns.iter().all(|c| key.contains(c))
        }
    };
    let plain_index = |index: &Index| -> Option<Vec<String>> {
        if index.predicate.is_some() || !(index.unique || any_index) {
            return None;
        }
        index
            .parts
            .iter()
            .map(|part| match part {
                IndexPart::Column(column) => Some(column.clone()),
                IndexPart::Expression(_) => None,
            })
            .collect()
    };
    target.primary_key.iter().any(|pk| fits(&pk.columns))
        || target.uniques.iter().any(|unique| fits(&unique.columns))
        || target.indexes.iter().filter_map(plain_index).any(|key| fits(&key))
}

#[cfg(test)]
mod tests {
    use super::{is_plain_number, validate_schema};
    use crate::model::{
        CheckConstraint, Column, ColumnType, DefaultExpr, Literal, QualifiedName, Schema, Table,
    };
    use crate::{Dialect, PlanError};

    #[test]
    fn the_engines_prefix_is_refused_for_tables_and_columns() {
        let mut table = Table::new(QualifiedName::new("_dataflow_jobs"));
        table.columns.push(Column::new("id", ColumnType::BigInt));
        let schema = Schema { tables: vec![table.clone()], ..Schema::default() };
        let error = validate_schema(&schema, Dialect::Postgres).expect_err("reserved table");
        assert!(
            matches!(&error, PlanError::InvalidIdentifier { name, .. } if name == "_dataflow_jobs")
        );
        table.name = QualifiedName::new("jobs");
        table.columns.push(Column::new("_dataflow_new_id_col", ColumnType::BigInt));
        let schema = Schema { tables: vec![table], ..Schema::default() };
        let error = validate_schema(&schema, Dialect::Postgres).expect_err("reserved column");
        assert!(error.to_string().contains("reserved"), "{error}");
    }

    fn one_table(edit: impl FnOnce(&mut Table)) -> Schema {
        let mut table = Table::new(QualifiedName::new("t"));
        table.columns.push(Column::new("v", ColumnType::Integer));
        edit(&mut table);
        Schema { tables: vec![table], ..Schema::default() }
    }

    #[test]
    fn what_mysql_cannot_hold_or_would_read_otherwise_is_refused_there_only() {
        type Edit = Box<dyn Fn(&mut Table)>;
        let cases: [(&str, &str, Edit); 5] = [
            ("trailing space", "end with a space", Box::new(|t| t.columns[0].name = "v ".into())),
            ("emoji name", "utf8mb3", Box::new(|t| t.name = QualifiedName::new("t😀"))),
            (
                "emoji default",
                "default of column t.v",
                Box::new(|t| {
                    t.columns[0].ty = ColumnType::Text;
                    t.columns[0].default = Some(DefaultExpr::Literal(Literal::Text("😀".into())));
                }),
            ),
            (
                "emoji comment",
                "comment of column t.v",
                Box::new(|t| t.columns[0].comment = Some("🦀".into())),
            ),
            (
                "double quotes",
                "MySQL reads as a string",
                Box::new(|t| {
                    t.checks.push(CheckConstraint {
                        name: "c".into(),
                        expression: "\"v\" > 0".into(),
                        not_valid: false,
                        no_inherit: false,
                    })
                }),
            ),
        ];
        for (label, expected, edit) in cases {
            let schema = one_table(|t| edit(t));
            let error = validate_schema(&schema, Dialect::Mysql).expect_err(label);
            assert!(error.to_string().contains(expected), "{label}: {error}");
            assert!(
                validate_schema(&schema, Dialect::Postgres).is_ok(),
                "{label} is fine on PostgreSQL"
            );
        }
    }

    /// Names that differ only in case: two names on PostgreSQL, one on SQLite (tables,
    /// indexes, columns) and MySQL (columns).
    #[test]
    fn names_that_differ_only_in_case_collide_where_the_database_ignores_case() {
        let two_tables = {
            let mut schema = one_table(|_| {});
            let mut upper = schema.tables[0].clone();
            upper.name = QualifiedName::new("T");
            schema.tables.push(upper);
            schema
        };
        let error = validate_schema(&two_tables, Dialect::Sqlite).expect_err("T and t on SQLite");
        assert!(error.to_string().contains("without regard to case"), "{error}");
        assert!(validate_schema(&two_tables, Dialect::Postgres).is_ok(), "two tables there");
        let two_columns = one_table(|t| t.columns.push(Column::new("V", ColumnType::Integer)));
        for dialect in [Dialect::Sqlite, Dialect::Mysql] {
            let error = validate_schema(&two_columns, dialect).expect_err("v and V");
            assert!(error.to_string().contains("two columns have this name"), "{dialect}: {error}");
        }
        assert!(validate_schema(&two_columns, Dialect::Postgres).is_ok(), "two columns there");
    }

    #[test]
    fn plain_numbers() {
        for ok in ["0", "-12", "3.5", "1e9", "-0.25E-3"] {
            assert!(is_plain_number(ok), "{ok}");
        }
        for bad in ["", "-", "1.", ".5", "1e", "1;DROP", "0x10", "1 "] {
            assert!(!is_plain_number(bad), "{bad}");
        }
    }
}
