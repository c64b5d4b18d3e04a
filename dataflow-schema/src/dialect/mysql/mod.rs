//! MySQL 8 / MariaDB 10.11 (InnoDB): quoting, types and column definitions. `shape` gives
//! a desired schema the form these servers hold, `render` turns changes into `ALTER TABLE`
//! statements with explicit `ALGORITHM`/`LOCK` clauses, `risk` rates them (RISK.md §3),
//! `keep` rewrites drops to keep their data.
//!
//! Each table lives in the connection's database (the namespace is the URL's database);
//! names are unqualified.

pub mod keep;
pub mod render;
pub mod risk;
pub mod shape;

use crate::model::{Backfill, Column, ColumnType, DefaultExpr, Identity, Literal};

/// The longest identifier MySQL and MariaDB accept (characters; longer names are errors,
/// not truncated).
pub const MAX_IDENTIFIER: usize = 64;

/// Quotes an identifier: backticks, inner backticks doubled. The one place an identifier
/// becomes MySQL text.
pub fn quote_ident(name: &str) -> String {
    format!("`{}`", name.replace('`', "``"))
}

/// A list of quoted identifiers.
pub fn ident_list(names: &[String]) -> String {
    names.iter().map(|n| quote_ident(n)).collect::<Vec<_>>().join(", ")
}

/// Quotes a string literal: `'` and `\` doubled (the servers read backslash escapes
/// unless `NO_BACKSLASH_ESCAPES` is set, which the connector turns off for its session).
/// The one place a value becomes MySQL text.
pub fn quote_literal(value: &str) -> String {
    format!("'{}'", value.replace('\\', "\\\\").replace('\'', "''"))
}

/// A literal value (booleans are `tinyint(1)` numbers).
pub fn render_literal(literal: &Literal) -> String {
    match literal {
        Literal::Bool(true) => "1".into(),
        Literal::Bool(false) => "0".into(),
        Literal::Number(number) => number.clone(),
        Literal::Text(text) => quote_literal(text),
    }
}

/// A default: literals as they are, `CURRENT_TIMESTAMP(n)` bare (the one expression both
/// servers accept unparenthesised, and what they print back), other SQL parenthesised
/// (MySQL 8.0.13+, MariaDB 10.2+).
pub fn render_default(default: &DefaultExpr) -> String {
    match default {
        DefaultExpr::Literal(literal) => render_literal(literal),
        DefaultExpr::Sql(sql) if is_current_timestamp(sql) => sql.to_ascii_uppercase(),
        DefaultExpr::Sql(sql) => format!("({sql})"),
    }
}

/// `current_timestamp`, `current_timestamp(6)`, `now()` … in any case.
pub fn is_current_timestamp(sql: &str) -> bool {
    let lowered = sql.trim().to_ascii_lowercase();
    let name = lowered.split('(').next().unwrap_or_default().trim();
    matches!(name, "current_timestamp" | "now" | "localtimestamp" | "localtime")
}

/// The type as MySQL spells it (canonical: what `information_schema` reads back, so
/// `parse_type(render_type(t)) == t` for every shaped type).
pub fn render_type(ty: &ColumnType) -> String {
    match ty {
        ColumnType::SmallInt => "smallint".into(),
        ColumnType::Integer => "int".into(),
        ColumnType::BigInt => "bigint".into(),
        ColumnType::Real => "float".into(),
        ColumnType::Double => "double".into(),
        ColumnType::Numeric { precision, scale } => {
            format!("decimal({},{})", precision.unwrap_or(65), scale.unwrap_or(0))
        }
        // Unbounded like PostgreSQL's `text`: `text` holds only 64 KiB.
        ColumnType::Text => "longtext".into(),
        ColumnType::Varchar(n) => format!("varchar({n})"),
        ColumnType::Char(n) => format!("char({n})"),
        ColumnType::Bool => "tinyint(1)".into(),
        ColumnType::Bytes => "longblob".into(),
        ColumnType::Uuid => "char(36)".into(),
        ColumnType::Date => "date".into(),
        ColumnType::Time => "time".into(),
        ColumnType::Timestamp | ColumnType::TimestampTz => "datetime(6)".into(),
        ColumnType::Json | ColumnType::Jsonb => "json".into(),
        // `shape` turns enums into `Other("enum(…)")` and rejects arrays.
        ColumnType::Enum(name) => format!("enum /* {name} */"),
        ColumnType::Array(element) => format!("{} array", render_type(element)),
        ColumnType::Other(text) => text.clone(),
    }
}

/// `COLUMN_TYPE` from `information_schema.COLUMNS` as a `ColumnType`. Integer display
/// widths (`int(11)`, dropped by MySQL 8.0.19+) are ignored, except `tinyint(1)`, the
/// boolean.
pub fn parse_type(column_type: &str) -> ColumnType {
    let squashed = strip_display_width(&canonical_type_text(column_type));
    let (base, args) = split_args(&squashed);
    let arg = |i: usize| args.get(i).and_then(|a| a.trim().parse::<u32>().ok());
    match (base, args.len()) {
        ("tinyint", 1) if arg(0) == Some(1) => ColumnType::Bool,
        ("smallint", 0) => ColumnType::SmallInt,
        ("int" | "integer", 0) => ColumnType::Integer,
        ("bigint", 0) => ColumnType::BigInt,
        ("float", 0) => ColumnType::Real,
        ("double" | "double precision", 0) => ColumnType::Double,
        ("decimal" | "numeric", 2) if arg(0).is_some() && arg(1).is_some() => {
            ColumnType::Numeric { precision: arg(0), scale: arg(1) }
        }
        ("longtext", 0) => ColumnType::Text,
        ("varchar", 1) if arg(0).is_some() => ColumnType::Varchar(arg(0).unwrap_or_default()),
        ("char", 1) if arg(0).is_some() => ColumnType::Char(arg(0).unwrap_or_default()),
        ("longblob", 0) => ColumnType::Bytes,
        ("date", 0) => ColumnType::Date,
        ("time", 0) => ColumnType::Time,
        ("datetime", 1) if arg(0) == Some(6) => ColumnType::Timestamp,
        ("json", 0) => ColumnType::Json,
        _ => ColumnType::Other(squashed),
    }
}

/// The type in lower case with single spaces, except the value list of an `enum` or
/// `set`, whose values keep their case.
fn canonical_type_text(column_type: &str) -> String {
    let trimmed = column_type.trim();
    let (head, tail) = match trimmed.find('(') {
        Some(at) => trimmed.split_at(at),
        None => (trimmed, ""),
    };
    let head = head.trim().to_ascii_lowercase();
    let tail = if head == "enum" || head == "set" {
        tail.to_owned()
    } else {
        tail.to_ascii_lowercase()
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .replace(" (", "(")
    };
    format!("{head}{tail}")
}

/// `int(11) unsigned` → `int unsigned`; `tinyint(1)` stays (it is the boolean).
fn strip_display_width(ty: &str) -> String {
    for base in ["tinyint", "smallint", "mediumint", "int", "bigint"] {
        if let Some(rest) = ty.strip_prefix(base).and_then(|r| r.strip_prefix('(')) {
            if let Some((width, after)) = rest.split_once(')') {
                if base == "tinyint" && width == "1" {
                    return ty.to_owned();
                }
                if width.chars().all(|c| c.is_ascii_digit()) {
                    return format!("{base}{after}");
                }
            }
        }
    }
    ty.to_owned()
}

/// `decimal(10,2)` → (`decimal`, [`10`, `2`]); enum value lists are not split.
fn split_args(ty: &str) -> (&str, Vec<&str>) {
    match ty.split_once('(') {
        Some((base, rest)) if rest.ends_with(')') && base != "enum" && base != "set" => {
            let inner = &rest[..rest.len() - 1];
            (base.trim(), inner.split(',').collect())
        }
        _ => (ty, Vec::new()),
    }
}

/// `` `name` type [COLLATE …] [NOT NULL|NULL] [DEFAULT …] [AUTO_INCREMENT]
/// [GENERATED …] [COMMENT …] `` — the whole definition, as `MODIFY COLUMN` needs it (a
/// part left out is reset).
pub fn column_definition(column: &Column) -> String {
    let mut sql = format!("{} {}", quote_ident(&column.name), render_type(&column.ty));
    if let Some(collation) = &column.collation {
        sql.push_str(&format!(" COLLATE {}", quote_ident(collation)));
    }
    if let Some(expression) = &column.generated {
        // MariaDB allows no NULL / NOT NULL here (its generated columns are nullable).
        sql.push_str(&format!(" GENERATED ALWAYS AS ({expression}) STORED"));
    } else {
        sql.push_str(if column.nullable { " NULL" } else { " NOT NULL" });
    }
    if column.generated.is_none() {
        if let Some(default) = &column.default {
            sql.push_str(&format!(" DEFAULT {}", render_default(default)));
        }
    }
    if column.identity.is_some() {
        sql.push_str(" AUTO_INCREMENT");
    }
    if let Some(comment) = &column.comment {
        sql.push_str(&format!(" COMMENT {}", quote_literal(comment)));
    }
    sql
}

/// The identity every auto-increment column has here (MySQL has one kind).
pub const IDENTITY: Identity = Identity::ByDefault;

/// The value a column gets on existing rows: its backfill, else its default (`None` for a
/// sequence backfill, which numbers rows, or when it has neither).
pub fn fill_value(column: &Column) -> Option<String> {
    match (&column.backfill, &column.default) {
        (Some(backfill), _) => backfill_value(backfill),
        (None, Some(default)) => Some(match default {
            // `CURRENT_TIMESTAMP` as a value, not as a default clause.
            DefaultExpr::Sql(sql) => format!("({sql})"),
            DefaultExpr::Literal(literal) => render_literal(literal),
        }),
        (None, None) => None,
    }
}

fn backfill_value(backfill: &Backfill) -> Option<String> {
    Some(match backfill {
        Backfill::Computed(expr) => format!("({expr})"),
        Backfill::Conditional { cases, otherwise } => {
            let mut sql = String::from("CASE");
            for (condition, value) in cases {
                sql.push_str(&format!(" WHEN ({condition}) THEN ({value})"));
            }
            if let Some(otherwise) = otherwise {
                sql.push_str(&format!(" ELSE ({otherwise})"));
            }
            sql.push_str(" END");
            sql
        }
        Backfill::ForeignKeyValue(literal) => render_literal(literal),
        // A derived table: MySQL refuses a subquery on the table being updated, and the
        // looked-up table may be it.
        Backfill::ForeignKeyLookup { table, column, filter } => format!(
            "(SELECT v FROM (SELECT {col} AS v FROM {table} WHERE ({filter}) ORDER BY {col} LIMIT 1) AS l)",
            col = quote_ident(column),
            table = quote_ident(&table.name),
        ),
        Backfill::Sequence { .. } => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_are_backticked_and_inner_backticks_doubled() {
        assert_eq!(quote_ident("order"), "`order`");
        assert_eq!(quote_ident("a`b"), "`a``b`");
    }

    #[test]
    fn literals_escape_quotes_and_backslashes() {
        assert_eq!(quote_literal("it's"), "'it''s'");
        assert_eq!(quote_literal("a\\b'"), "'a\\\\b'''");
        assert_eq!(quote_literal("'; DROP TABLE x; --"), "'''; DROP TABLE x; --'");
    }

    #[test]
    fn catalog_types_parse_to_what_was_rendered() {
        for ty in [
            ColumnType::SmallInt,
            ColumnType::Integer,
            ColumnType::BigInt,
            ColumnType::Real,
            ColumnType::Double,
            ColumnType::Numeric { precision: Some(10), scale: Some(2) },
            ColumnType::Text,
            ColumnType::Varchar(255),
            ColumnType::Char(3),
            ColumnType::Bool,
            ColumnType::Bytes,
            ColumnType::Date,
            ColumnType::Time,
            ColumnType::Timestamp,
            ColumnType::Json,
        ] {
            assert_eq!(parse_type(&render_type(&ty)), ty, "{ty:?}");
        }
        assert_eq!(parse_type("int(11)"), ColumnType::Integer);
        assert_eq!(parse_type("int(10) unsigned"), ColumnType::Other("int unsigned".into()));
        assert_eq!(parse_type("enum('a','B')"), ColumnType::Other("enum('a','B')".into()));
        assert_eq!(parse_type("SET('Mon','Tue')"), ColumnType::Other("set('Mon','Tue')".into()));
    }
}
