//! PostgreSQL: quoting, types and column definitions. `render` turns changes into SQL,
//! `risk` rates them (facts from RISK.md §2).

pub mod keep;
pub mod online;
pub mod preflight;
pub mod render;
pub mod risk;
pub mod server;

use crate::model::{Backfill, Column, ColumnType, DefaultExpr, Identity, Literal, QualifiedName};

/// Names written with the default namespace (`public.users`) mean the same as unqualified
/// ones; the model keeps the unqualified form so both sides compare equal.
pub fn unqualify_default_namespace(schema: &mut crate::model::Schema) {
    if !names_default_namespace(schema) {
        return;
    }
    let fix = |name: &mut QualifiedName| {
        if name.schema.as_deref() == Some(crate::introspect::postgres::DEFAULT_NAMESPACE) {
            name.schema = None;
        }
    };
    let fix_type = |ty: &mut ColumnType| match ty {
        ColumnType::Enum(name) => fix(name),
        ColumnType::Array(inner) => {
            if let ColumnType::Enum(name) = inner.as_mut() {
                fix(name)
            }
        }
        _ => {}
    };
    for table in &mut schema.tables {
        fix(&mut table.name);
        table.renamed_from.iter_mut().for_each(fix);
        table.foreign_keys.iter_mut().for_each(|fk| fix(&mut fk.ref_table));
        table.columns.iter_mut().for_each(|c| fix_type(&mut c.ty));
    }
    schema.enums.iter_mut().for_each(|e| fix(&mut e.name));
    schema.sequences.iter_mut().for_each(|s| fix(&mut s.name));
    schema.namespaces.retain(|n| n != crate::introspect::postgres::DEFAULT_NAMESPACE);
    schema.canonicalize();
}

/// Whether any name in `schema` spells out the default namespace.
pub fn names_default_namespace(schema: &crate::model::Schema) -> bool {
    let default = Some(crate::introspect::postgres::DEFAULT_NAMESPACE);
    let is_default = |name: &QualifiedName| name.schema.as_deref() == default;
    let type_is_default = |ty: &ColumnType| match ty {
        ColumnType::Enum(name) => is_default(name),
        ColumnType::Array(inner) => {
            matches!(inner.as_ref(), ColumnType::Enum(name) if is_default(name))
        }
        _ => false,
    };
    schema.namespaces.iter().any(|n| n == crate::introspect::postgres::DEFAULT_NAMESPACE)
        || schema.enums.iter().any(|e| is_default(&e.name))
        || schema.sequences.iter().any(|s| is_default(&s.name))
        || schema.tables.iter().any(|t| {
            is_default(&t.name)
                || t.renamed_from.iter().any(is_default)
                || t.foreign_keys.iter().any(|fk| is_default(&fk.ref_table))
                || t.columns.iter().any(|c| type_is_default(&c.ty))
        })
}

/// Quotes an identifier: always double-quoted, inner `"` doubled. The one place an
/// identifier becomes SQL text. (NUL bytes are rejected before rendering.)
pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Quotes a string literal: inner `'` doubled; when it holds a backslash it is written
/// as an escape string (`E'…'`, backslashes doubled) so it means the same whatever
/// `standard_conforming_strings` is. The one place a value becomes SQL text.
pub fn quote_literal(value: &str) -> String {
    let quoted = value.replace('\'', "''");
    if quoted.contains('\\') {
        format!("E'{}'", quoted.replace('\\', "\\\\"))
    } else {
        format!("'{quoted}'")
    }
}

/// A possibly schema-qualified name, quoted.
pub fn qualified(name: &QualifiedName) -> String {
    match &name.schema {
        Some(schema) => format!("{}.{}", quote_ident(schema), quote_ident(&name.name)),
        None => quote_ident(&name.name),
    }
}

/// A list of quoted identifiers: `"a", "b"`.
pub fn ident_list(names: &[String]) -> String {
    names.iter().map(|n| quote_ident(n)).collect::<Vec<_>>().join(", ")
}

/// The type as PostgreSQL spells it.
pub fn render_type(ty: &ColumnType) -> String {
    match ty {
        ColumnType::SmallInt => "smallint".into(),
        ColumnType::Integer => "integer".into(),
        ColumnType::BigInt => "bigint".into(),
        ColumnType::Real => "real".into(),
        ColumnType::Double => "double precision".into(),
        ColumnType::Numeric { precision: Some(p), scale: Some(s) } => format!("numeric({p},{s})"),
        ColumnType::Numeric { precision: Some(p), scale: None } => format!("numeric({p})"),
        ColumnType::Numeric { .. } => "numeric".into(),
        ColumnType::Text => "text".into(),
        ColumnType::Varchar(n) => format!("varchar({n})"),
        ColumnType::Char(n) => format!("char({n})"),
        ColumnType::Bool => "boolean".into(),
        ColumnType::Bytes => "bytea".into(),
        ColumnType::Uuid => "uuid".into(),
        ColumnType::Date => "date".into(),
        ColumnType::Time => "time".into(),
        ColumnType::Timestamp => "timestamp".into(),
        ColumnType::TimestampTz => "timestamptz".into(),
        ColumnType::Json => "json".into(),
        ColumnType::Jsonb => "jsonb".into(),
        ColumnType::Enum(name) => qualified(name),
        ColumnType::Array(element) => format!("{}[]", render_type(element)),
        // The application's own SQL (`sql_type = "…"`), rendered verbatim.
        ColumnType::Other(text) => text.clone(),
    }
}

/// A literal value.
pub fn render_literal(literal: &Literal) -> String {
    match literal {
        Literal::Bool(true) => "TRUE".into(),
        Literal::Bool(false) => "FALSE".into(),
        // Validated to be a plain number before rendering (see `plan::validate`).
        Literal::Number(number) => number.clone(),
        Literal::Text(text) => quote_literal(text),
    }
}

/// A default expression.
pub fn render_default(default: &DefaultExpr) -> String {
    match default {
        DefaultExpr::Literal(literal) => render_literal(literal),
        // The application's own SQL (`default_sql`), parenthesised so it stays one term.
        DefaultExpr::Sql(sql) => format!("({sql})"),
    }
}

/// `GENERATED … AS IDENTITY` (a serial column has none: its type says it).
pub fn render_identity(identity: Identity) -> &'static str {
    match identity {
        Identity::ByDefault => "GENERATED BY DEFAULT AS IDENTITY",
        Identity::Always => "GENERATED ALWAYS AS IDENTITY",
        Identity::Serial => "",
    }
}

/// `smallserial` / `serial` / `bigserial` for a serial column of type `ty`.
fn serial_type(ty: &ColumnType) -> String {
    match ty {
        ColumnType::SmallInt => "smallserial".into(),
        ColumnType::Integer => "serial".into(),
        ColumnType::BigInt => "bigserial".into(),
        other => render_type(other),
    }
}

/// `"name" type [COLLATE …] [DEFAULT …] [GENERATED …] [NOT NULL]`.
pub fn column_definition(column: &Column) -> String {
    let ty = match column.identity {
        Some(Identity::Serial) => serial_type(&column.ty),
        _ => render_type(&column.ty),
    };
    let mut sql = format!("{} {ty}", quote_ident(&column.name));
    if let Some(collation) = &column.collation {
        sql.push_str(&format!(" COLLATE {}", quote_ident(collation)));
    }
    if let Some(expression) = &column.generated {
        sql.push_str(&format!(" GENERATED ALWAYS AS ({expression}) STORED"));
    } else if let Some(default) = &column.default {
        sql.push_str(&format!(" DEFAULT {}", render_default(default)));
    }
    if let Some(identity) = column.identity.filter(|i| *i != Identity::Serial) {
        sql.push(' ');
        sql.push_str(render_identity(identity));
    }
    if !column.nullable {
        // A name of its own (read from a PostgreSQL 18 database); older servers accept
        // the clause and ignore the name.
        if let Some(name) = &column.not_null_constraint {
            sql.push_str(&format!(" CONSTRAINT {}", quote_ident(name)));
        }
        sql.push_str(" NOT NULL");
    }
    sql
}

/// The value expression a backfill gives each existing row (sequence backfills are a
/// join, see `render::backfill_statement`).
pub fn backfill_value(backfill: &Backfill) -> Option<String> {
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
        Backfill::ForeignKeyLookup { table, column, filter } => format!(
            "(SELECT {col} FROM {table} WHERE ({filter}) ORDER BY {col} LIMIT 1)",
            col = quote_ident(column),
            table = qualified(table),
        ),
        Backfill::Sequence { .. } => return None,
    })
}

/// The value a column gets on existing rows: its backfill, else its default (`None` for a
/// sequence, which numbers rows rather than computing a value, or when it has neither).
pub fn fill_value(column: &Column) -> Option<String> {
    match (&column.backfill, &column.default) {
        (Some(backfill), _) => backfill_value(backfill),
        (None, Some(default)) => Some(render_default(default)),
        (None, None) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_are_always_quoted_and_inner_quotes_doubled() {
        assert_eq!(quote_ident("user"), "\"user\"");
        assert_eq!(quote_ident("a\"b"), "\"a\"\"b\"");
    }

    #[test]
    fn literals_escape_quotes_and_backslashes() {
        assert_eq!(quote_literal("it's"), "'it''s'");
        assert_eq!(quote_literal("a\\b'"), "E'a\\\\b'''");
        assert_eq!(quote_literal("'; DROP TABLE x; --"), "'''; DROP TABLE x; --'");
    }
}
