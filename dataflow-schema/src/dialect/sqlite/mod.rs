//! SQLite (3.35 or later): quoting, types and literals, the shape a schema takes there
//! (`shape`), what its `ALTER TABLE` can do in place and the table rebuild for the rest
//! (`render`), and risk (`risk`). RISK.md §4 has the facts.

pub mod keep;
pub mod render;
pub mod risk;
pub mod shape;

use crate::model::{ColumnType, DefaultExpr, Literal};

/// Identifiers are quoted as on PostgreSQL: double quotes, inner `"` doubled.
pub use super::postgres::{ident_list, quote_ident};

/// Quotes a string literal: inner `'` doubled (SQLite has no backslash escapes). The one
/// place a value becomes SQLite text.
pub fn quote_literal(value: &str) -> String {
    format!("'{}'", value.replace('\'', "''"))
}

/// A literal value.
pub fn render_literal(literal: &Literal) -> String {
    match literal {
        Literal::Bool(true) => "TRUE".into(),
        Literal::Bool(false) => "FALSE".into(),
        Literal::Number(number) => number.clone(),
        Literal::Text(text) => quote_literal(text),
    }
}

/// A default expression: literals as they are, the application's SQL parenthesised
/// (SQLite requires that of expression defaults).
pub fn render_default(default: &DefaultExpr) -> String {
    match default {
        DefaultExpr::Literal(literal) => render_literal(literal),
        DefaultExpr::Sql(sql) => format!("({sql})"),
    }
}

/// The declared type. SQLite keeps the declared name verbatim and maps it to a storage
/// affinity, so the PostgreSQL spelling is used: it reads back as the same `ColumnType`.
/// (Enum and array types never get here: `shape` maps or rejects them.)
pub fn render_type(ty: &ColumnType) -> String {
    match ty {
        ColumnType::Bytes => "blob".into(),
        other => super::postgres::render_type(other),
    }
}

/// `type` as `ColumnType`, for a declared type read back from the catalog.
pub fn parse_type(declared: &str) -> ColumnType {
    match declared.trim().to_ascii_lowercase().as_str() {
        "blob" => ColumnType::Bytes,
        // A rowid alias (`INTEGER PRIMARY KEY`) is a 64-bit integer.
        "integer" | "int" => ColumnType::Integer,
        other => ColumnType::from_sql(other),
    }
}
