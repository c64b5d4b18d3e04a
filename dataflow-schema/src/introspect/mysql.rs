//! MySQL/MariaDB `information_schema` rows → [`Schema`], normalised so that the tables the
//! renderer creates read back equal to the shaped models (`dialect::mysql::shape`):
//! - integer display widths dropped, `tinyint(1)` is the boolean (`parse_type`);
//! - defaults: MariaDB prints literals quoted (`'it''s'`) and `current_timestamp(6)`,
//!   MySQL prints them bare and flags expressions `DEFAULT_GENERATED`; both become the
//!   same `DefaultExpr`, numbers compared by value (`0.00` = `0`);
//! - MariaDB's `json` is `longtext` plus a CHECK `json_valid(col)` named after the
//!   column: read back as `json`, without the check;
//! - a column's collation is kept only where it differs from its table's;
//! - `RESTRICT` foreign-key actions are `NO ACTION` (InnoDB treats them alike);
//! - full-text and spatial indexes are reported as unmanaged.
//!
//! Running the queries is `dataflow-core`'s job; this is pure.

use crate::dialect::mysql::parse_type;
use crate::dialect::mysql::shape::{canonical_number, PRIMARY};
use crate::model::{
    CheckConstraint, Column, ColumnType, DefaultExpr, FkAction, ForeignKey, Identity, Index,
    IndexPart, Literal, PrimaryKey, QualifiedName, Schema, Table, TableStats,
};

/// The catalog queries (`mysql_sql/*.sql`), one per object kind, for the connection's
/// database. Each returns the columns of its row type below, in order.
pub mod queries {
    /// Rows: [`super::TableRow`].
    pub fn tables() -> String {
        include_str!("mysql_sql/tables.sql").to_owned()
    }

    /// Rows: [`super::ColumnRow`].
    pub fn columns() -> String {
        include_str!("mysql_sql/columns.sql").to_owned()
    }

    /// Rows: [`super::IndexRow`].
    pub fn indexes() -> String {
        include_str!("mysql_sql/indexes.sql").to_owned()
    }

    /// Rows: [`super::CheckRow`]. MariaDB names a column-level check after its column, so
    /// its names are per table (and its `CHECK_CONSTRAINTS` has a `TABLE_NAME`).
    pub fn checks(mariadb: bool) -> String {
        let same_table = if mariadb { " AND cc.TABLE_NAME = tc.TABLE_NAME" } else { "" };
        include_str!("mysql_sql/checks.sql").replace("{same_table}", same_table)
    }

    /// Rows: [`super::ForeignKeyRow`].
    pub fn foreign_keys() -> String {
        include_str!("mysql_sql/foreign_keys.sql").to_owned()
    }

    /// Rows: one description per object outside dataflow's scope (views, triggers).
    pub const UNMANAGED: &str = include_str!("mysql_sql/unmanaged.sql");
}

/// A row of `information_schema.TABLES`.
#[derive(Debug, Clone)]
#[allow(missing_docs)]
pub struct TableRow {
    pub name: String,
    /// InnoDB's estimate; -1 when unknown.
    pub rows: i64,
    pub bytes: i64,
    pub comment: String,
    pub collation: String,
}

/// A row of `information_schema.COLUMNS`.
#[derive(Debug, Clone)]
#[allow(missing_docs)]
pub struct ColumnRow {
    pub table: String,
    pub name: String,
    pub default: Option<String>,
    pub nullable: bool,
    pub column_type: String,
    pub collation: String,
    pub extra: String,
    pub generated: String,
    pub comment: String,
}

/// A key part of an index (`information_schema.STATISTICS`).
#[derive(Debug, Clone)]
#[allow(missing_docs)]
pub struct IndexRow {
    pub table: String,
    pub name: String,
    pub unique: bool,
    /// `None` for an expression part (MySQL 8 functional indexes).
    pub column: Option<String>,
    /// Prefix length in characters.
    pub sub_part: Option<i64>,
    pub descending: bool,
    /// `BTREE`, `HASH`, `FULLTEXT`, `SPATIAL`.
    pub index_type: String,
}

/// A check constraint.
#[derive(Debug, Clone)]
#[allow(missing_docs)]
pub struct CheckRow {
    pub table: String,
    pub name: String,
    pub clause: String,
}

/// A column of a foreign key.
#[derive(Debug, Clone)]
#[allow(missing_docs)]
pub struct ForeignKeyRow {
    pub table: String,
    pub name: String,
    pub column: String,
    pub ref_table: String,
    pub ref_column: String,
    pub on_update: String,
    pub on_delete: String,
}

/// Every catalog row of one database.
#[derive(Debug, Clone, Default)]
#[allow(missing_docs)]
pub struct Catalog {
    /// MariaDB prints defaults differently from MySQL.
    pub mariadb: bool,
    pub tables: Vec<TableRow>,
    pub columns: Vec<ColumnRow>,
    pub indexes: Vec<IndexRow>,
    pub checks: Vec<CheckRow>,
    pub foreign_keys: Vec<ForeignKeyRow>,
    pub unmanaged: Vec<String>,
}

/// The schema the catalog describes, and what dataflow does not manage.
#[derive(Debug, Clone)]
pub struct Introspected {
    /// Tables with their columns, keys, checks, indexes and foreign keys.
    pub schema: Schema,
    /// Views, triggers, full-text and spatial indexes: listed in a warning, left alone.
    pub unmanaged: Vec<String>,
}

/// Builds the schema from the catalog rows.
pub fn build(catalog: Catalog) -> Introspected {
    let mut schema = Schema::default();
    let mut unmanaged = catalog.unmanaged.clone();
    for row in &catalog.tables {
        schema.tables.push(build_table(row, &catalog, &mut unmanaged));
    }
    schema.canonicalize();
    Introspected { schema, unmanaged }
}

fn build_table(row: &TableRow, catalog: &Catalog, unmanaged: &mut Vec<String>) -> Table {
    let mut table = Table::new(QualifiedName::new(row.name.clone()));
    table.stats = Some(TableStats {
        rows: u64::try_from(row.rows).ok(),
        bytes: u64::try_from(row.bytes).ok(),
    });
    table.comment = Some(row.comment.clone()).filter(|c| !c.is_empty());
    let mut checks: Vec<&CheckRow> =
        catalog.checks.iter().filter(|c| c.table == row.name).collect();
    for c in catalog.columns.iter().filter(|c| c.table == row.name) {
        let mut column = Column::new(c.name.clone(), parse_type(&c.column_type));
        column.nullable = c.nullable;
        column.default = parse_default(c, catalog.mariadb);
        if c.extra.to_ascii_lowercase().contains("auto_increment") {
            column.identity = Some(Identity::ByDefault);
        }
        column.comment = Some(c.comment.clone()).filter(|c| !c.is_empty());
        column.generated = Some(as_written(&c.generated)).filter(|g| !g.is_empty());
        // MariaDB's json: longtext with a `json_valid` check named after the column.
        let json_check = checks
            .iter()
            .position(|check| check.name == c.name && is_json_valid(&check.clause, &c.name));
        if let (Some(at), ColumnType::Text) = (json_check, &column.ty) {
            checks.remove(at);
            column.ty = ColumnType::Json;
        }
        let textual = column.ty.is_text()
            || matches!(&column.ty, ColumnType::Other(t) if t.starts_with("enum") || t.ends_with("text"));
        if textual && !c.collation.is_empty() && c.collation != row.collation {
            column.collation = Some(c.collation.clone());
        }
        table.columns.push(column);
    }
    table.checks = checks
        .into_iter()
        .map(|check| CheckConstraint {
            name: check.name.clone(),
            expression: as_written(&check.clause),
            not_valid: false,
            no_inherit: false,
        })
        .collect();
    let parts: Vec<&IndexRow> = catalog.indexes.iter().filter(|i| i.table == row.name).collect();
    let mut names: Vec<&str> = parts.iter().map(|p| p.name.as_str()).collect();
    names.dedup();
    for name in names {
        let rows: Vec<&&IndexRow> = parts.iter().filter(|p| p.name == name).collect();
        let columns: Vec<String> = rows.iter().filter_map(|r| r.column.clone()).collect();
        if name == PRIMARY {
            table.primary_key = Some(PrimaryKey { name: PRIMARY.into(), columns });
            continue;
        }
        let kind = rows.first().map(|r| r.index_type.as_str()).unwrap_or("BTREE");
        if kind == "FULLTEXT" || kind == "SPATIAL" {
            unmanaged.push(format!("{} index {name} on {}", kind.to_lowercase(), row.name));
            continue;
        }
        let options: Vec<String> = rows
            .iter()
            .map(|r| {
                let mut option = r.sub_part.map(|n| format!("({n})")).unwrap_or_default();
                if r.descending {
                    option =
                        if option.is_empty() { "DESC".into() } else { format!("{option} DESC") };
                }
                option
            })
            .collect();
        table.indexes.push(Index {
            name: name.to_owned(),
            parts: rows
                .iter()
                .map(|r| match &r.column {
                    Some(c) => IndexPart::Column(c.clone()),
                    None => IndexPart::Expression(String::new()),
                })
                .collect(),
            part_options: if options.iter().all(String::is_empty) { Vec::new() } else { options },
            unique: rows.first().is_some_and(|r| r.unique),
            ..Index::default()
        });
    }
    let keys: Vec<&ForeignKeyRow> =
        catalog.foreign_keys.iter().filter(|f| f.table == row.name).collect();
    let mut names: Vec<&str> = keys.iter().map(|k| k.name.as_str()).collect();
    names.dedup();
    for name in names {
        let rows: Vec<&&ForeignKeyRow> = keys.iter().filter(|k| k.name == name).collect();
        let Some(first) = rows.first() else { continue };
        table.foreign_keys.push(ForeignKey {
            name: name.to_owned(),
            columns: rows.iter().map(|r| r.column.clone()).collect(),
            ref_table: QualifiedName::new(first.ref_table.clone()),
            ref_columns: rows.iter().map(|r| r.ref_column.clone()).collect(),
            on_delete: fk_action(&first.on_delete),
            on_update: fk_action(&first.on_update),
            ..ForeignKey::default()
        });
    }
    table
}

fn fk_action(rule: &str) -> FkAction {
    match rule.to_ascii_uppercase().as_str() {
        "CASCADE" => FkAction::Cascade,
        "SET NULL" => FkAction::SetNull,
        "SET DEFAULT" => FkAction::SetDefault,
        _ => FkAction::NoAction,
    }
}

fn is_json_valid(clause: &str, column: &str) -> bool {
    let squashed: String = clause.chars().filter(|c| !c.is_whitespace()).collect();
    squashed.eq_ignore_ascii_case(&format!(
        "json_valid({})",
        crate::dialect::mysql::quote_ident(column)
    ))
}

/// The default as a `DefaultExpr` (see the module docs for the two servers' forms).
fn parse_default(c: &ColumnRow, mariadb: bool) -> Option<DefaultExpr> {
    let raw = c.default.as_deref()?;
    let numeric = matches!(
        parse_type(&c.column_type),
        ColumnType::SmallInt
            | ColumnType::Integer
            | ColumnType::BigInt
            | ColumnType::Real
            | ColumnType::Double
            | ColumnType::Numeric { .. }
            | ColumnType::Bool
    );
    if mariadb {
        if raw.eq_ignore_ascii_case("NULL") {
            return None;
        }
        if let Some(quoted) = raw.strip_prefix('\'').and_then(|r| r.strip_suffix('\'')) {
            return Some(DefaultExpr::Literal(Literal::Text(unescape(quoted))));
        }
        if is_number(raw) {
            return Some(DefaultExpr::Literal(Literal::Number(canonical_number(raw))));
        }
        return Some(DefaultExpr::Sql(as_written(raw)));
    }
    if c.extra.to_ascii_uppercase().contains("DEFAULT_GENERATED") {
        let sql = raw.to_owned();
        return Some(DefaultExpr::Sql(if crate::dialect::mysql::is_current_timestamp(&sql) {
            sql.to_ascii_lowercase()
        } else {
            sql
        }));
    }
    if numeric && is_number(raw) {
        return Some(DefaultExpr::Literal(Literal::Number(canonical_number(raw))));
    }
    Some(DefaultExpr::Literal(Literal::Text(raw.to_owned())))
}

/// An expression as the models write it: MariaDB stores `length(…)` as its synonym
/// `octet_length(…)` (both count bytes on MySQL), so that one is read back as `length`.
fn as_written(sql: &str) -> String {
    const STORED: &str = "octet_length";
    let mut out = String::with_capacity(sql.len());
    let mut quote: Option<char> = None;
    let mut rest = sql;
    while let Some(c) = rest.chars().next() {
        let word_start = quote.is_none()
            && !out.ends_with(|p: char| p.is_alphanumeric() || p == '_' || p == '.');
        let after = rest.get(STORED.len()..).unwrap_or("");
        if word_start
            && rest.get(..STORED.len()).is_some_and(|w| w.eq_ignore_ascii_case(STORED))
            && after.trim_start().starts_with('(')
        {
            out.push_str("length");
            rest = after;
            continue;
        }
        match (quote, c) {
            (Some(_), '\\') => {
                out.push(c);
                rest = &rest[1..];
                if let Some(next) = rest.chars().next() {
                    out.push(next);
                    rest = &rest[next.len_utf8()..];
                }
                continue;
            }
            (Some(open), c) if c == open => quote = None,
            (None, '\'' | '"' | '`') => quote = Some(c),
            _ => {}
        }
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    out
}

fn is_number(text: &str) -> bool {
    let digits = text.strip_prefix('-').unwrap_or(text);
    !digits.is_empty()
        && digits.chars().all(|c| c.is_ascii_digit() || c == '.')
        && digits.chars().filter(|c| *c == '.').count() <= 1
}

/// The text of a quoted MariaDB default: `''` → `'`, backslash escapes resolved.
fn unescape(quoted: &str) -> String {
    let mut out = String::with_capacity(quoted.len());
    let mut chars = quoted.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\'' if chars.peek() == Some(&'\'') => {
                chars.next();
                out.push('\'');
            }
            '\\' => match chars.next() {
                Some('n') => out.push('\n'),
                Some('t') => out.push('\t'),
                Some('r') => out.push('\r'),
                Some('0') => out.push('\0'),
                Some('Z') => out.push('\u{1a}'),
                Some(other) => out.push(other),
                None => out.push('\\'),
            },
            other => out.push(other),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn column(default: &str, ty: &str, extra: &str) -> ColumnRow {
        ColumnRow {
            table: "t".into(),
            name: "c".into(),
            default: Some(default.into()),
            nullable: true,
            column_type: ty.into(),
            collation: String::new(),
            extra: extra.into(),
            generated: String::new(),
            comment: String::new(),
        }
    }

    #[test]
    fn octet_length_reads_back_as_length_outside_quotes_only() {
        assert_eq!(as_written("OCTET_LENGTH(`a`) > 0"), "length(`a`) > 0");
        assert_eq!(as_written("`v` <> octet_length ('x')"), "`v` <> length ('x')");
        assert_eq!(
            as_written("'octet_length(' = x.octet_length(y) or my_octet_length(z)"),
            "'octet_length(' = x.octet_length(y) or my_octet_length(z)"
        );
        assert_eq!(
            as_written(r"'it\'s octet_length(' or `octet_length`(1)"),
            r"'it\'s octet_length(' or `octet_length`(1)"
        );
        assert_eq!(as_written("é + octet_length(é)"), "é + length(é)");
    }

    #[test]
    fn mariadb_and_mysql_defaults_read_the_same() {
        let text = Some(DefaultExpr::Literal(Literal::Text("it's \\ x".into())));
        assert_eq!(parse_default(&column("'it''s \\\\ x'", "varchar(20)", ""), true), text);
        assert_eq!(parse_default(&column("it's \\ x", "varchar(20)", ""), false), text);
        let zero = Some(DefaultExpr::Literal(Literal::Number("0".into())));
        assert_eq!(parse_default(&column("0.00", "decimal(10,2)", ""), true), zero);
        assert_eq!(parse_default(&column("0.00", "decimal(10,2)", ""), false), zero);
        let now = Some(DefaultExpr::Sql("current_timestamp(6)".into()));
        assert_eq!(parse_default(&column("current_timestamp(6)", "datetime(6)", ""), true), now);
        assert_eq!(
            parse_default(
                &column("CURRENT_TIMESTAMP(6)", "datetime(6)", "DEFAULT_GENERATED"),
                false
            ),
            now
        );
        assert_eq!(parse_default(&column("NULL", "int(11)", ""), true), None);
    }
}
