//! SQLite catalog rows → [`Schema`]. The pragmas (`table_xinfo`, `index_list`,
//! `index_xinfo`, `foreign_key_list`) give columns, indexes and foreign keys; what they do
//! not give — CHECK constraints, partial-index predicates, expression index parts — is read
//! from the stored `CREATE` statements with a small scanner that knows SQLite's quoting.
//! Running the queries is `dataflow-core`'s job; this is pure.

use crate::dialect::sqlite::{parse_type, shape::foreign_key_name};
use crate::model::{
    CheckConstraint, Column, DefaultExpr, FkAction, ForeignKey, Identity, Index, IndexPart,
    PrimaryKey, QualifiedName, Schema, Table, TableStats, UniqueConstraint,
};
use crate::naming::object_name;

/// The catalog queries (`sqlite_sql/*.sql`); each returns the columns of its row type
/// below, in order.
pub mod queries {
    /// Rows: [`super::TableRow`] (without the row count).
    pub const TABLES: &str = include_str!("sqlite_sql/tables.sql");
    /// Rows: [`super::ColumnRow`].
    pub const COLUMNS: &str = include_str!("sqlite_sql/columns.sql");
    /// Rows: [`super::IndexRow`].
    pub const INDEXES: &str = include_str!("sqlite_sql/indexes.sql");
    /// Rows: [`super::IndexColumnRow`].
    pub const INDEX_COLUMNS: &str = include_str!("sqlite_sql/index_columns.sql");
    /// Rows: [`super::ForeignKeyRow`].
    pub const FOREIGN_KEYS: &str = include_str!("sqlite_sql/foreign_keys.sql");
    /// Rows: one description per object outside dataflow's scope (views, triggers).
    pub const UNMANAGED: &str = include_str!("sqlite_sql/unmanaged.sql");
}

/// A table and its stored `CREATE TABLE` statement.
#[derive(Debug, Clone)]
#[allow(missing_docs)]
pub struct TableRow {
    pub name: String,
    pub sql: String,
    /// Rows it holds (counted), when known.
    pub rows: Option<u64>,
}

/// A row of `pragma_table_xinfo`.
#[derive(Debug, Clone)]
#[allow(missing_docs)]
pub struct ColumnRow {
    pub table: String,
    pub name: String,
    pub declared_type: String,
    pub not_null: bool,
    pub default: Option<String>,
    /// 1-based position in the primary key, 0 when not part of it.
    pub pk: i64,
    /// 0 normal, 1 hidden (virtual tables), 2 virtual generated, 3 stored generated.
    pub hidden: i64,
}

/// A row of `pragma_index_list` with the index's stored SQL.
#[derive(Debug, Clone)]
#[allow(missing_docs)]
pub struct IndexRow {
    pub table: String,
    pub name: String,
    pub unique: bool,
    /// `c` (CREATE INDEX), `u` (UNIQUE constraint), `pk` (PRIMARY KEY).
    pub origin: String,
    pub partial: bool,
    pub sql: Option<String>,
}

/// A key column of an index (`pragma_index_xinfo`, key = 1).
#[derive(Debug, Clone)]
#[allow(missing_docs)]
pub struct IndexColumnRow {
    pub index: String,
    /// `None` for an expression.
    pub column: Option<String>,
    pub desc: bool,
    pub collation: Option<String>,
}

/// A row of `pragma_foreign_key_list`.
#[derive(Debug, Clone)]
#[allow(missing_docs)]
pub struct ForeignKeyRow {
    pub table: String,
    pub id: i64,
    pub ref_table: String,
    pub column: String,
    /// `None` when the key references the parent's primary key implicitly.
    pub ref_column: Option<String>,
    pub on_update: String,
    pub on_delete: String,
}

/// Everything the catalog queries returned.
#[derive(Debug, Clone, Default)]
#[allow(missing_docs)]
pub struct Catalog {
    pub tables: Vec<TableRow>,
    pub columns: Vec<ColumnRow>,
    pub indexes: Vec<IndexRow>,
    pub index_columns: Vec<IndexColumnRow>,
    pub foreign_keys: Vec<ForeignKeyRow>,
    pub unmanaged: Vec<String>,
}

/// The schema the catalog describes, and what dataflow does not manage.
#[derive(Debug, Clone)]
pub struct Introspected {
    /// Tables with their columns, keys, checks, indexes and foreign keys.
    pub schema: Schema,
    /// Views and triggers: listed in a warning, never created or dropped (triggers of a
    /// rebuilt table are re-created by the connector).
    pub unmanaged: Vec<String>,
}

/// Builds the schema from the catalog rows.
pub fn build(catalog: Catalog) -> Introspected {
    let mut schema = Schema::default();
    let mut unmanaged = catalog.unmanaged.clone();
    for row in &catalog.tables {
        schema.tables.push(build_table(row, &catalog));
        let options = table_options(&row.sql);
        if !options.is_empty() {
            unmanaged.push(format!(
                "table options {} of {} (a rebuild of the table would not keep them)",
                options.join(", "),
                row.name
            ));
        }
    }
    schema.canonicalize();
    Introspected { schema, unmanaged }
}

/// `WITHOUT ROWID` and `STRICT` after the column list: not in the schema model yet.
fn table_options(sql: &str) -> Vec<&'static str> {
    let tokens = tokens(sql);
    let Some(close) = tokens.iter().rposition(|t| t.text == ")") else { return Vec::new() };
    let after = &tokens[close + 1..];
    let mut options = Vec::new();
    if after.iter().any(|t| keyword(t, "without")) {
        options.push("WITHOUT ROWID");
    }
    if after.iter().any(|t| keyword(t, "strict")) {
        options.push("STRICT");
    }
    options
}

fn build_table(row: &TableRow, catalog: &Catalog) -> Table {
    let name = QualifiedName::new(row.name.clone());
    let mut table = Table::new(name.clone());
    let columns: Vec<&ColumnRow> = catalog.columns.iter().filter(|c| c.table == row.name).collect();
    let mut key: Vec<(i64, String)> =
        columns.iter().filter(|c| c.pk > 0).map(|c| (c.pk, c.name.clone())).collect();
    key.sort();
    let key: Vec<String> = key.into_iter().map(|(_, name)| name).collect();
    for c in columns.iter().filter(|c| c.hidden == 0) {
        let rowid_alias = key.len() == 1
            && key[0] == c.name
            && c.declared_type.trim().eq_ignore_ascii_case("integer");
        let mut column = Column::new(c.name.clone(), parse_type(&c.declared_type));
        column.nullable = !c.not_null;
        column.default = c.default.clone().map(DefaultExpr::Sql);
        if rowid_alias {
            column.ty = crate::model::ColumnType::BigInt;
            column.identity = Some(Identity::ByDefault);
        }
        table.columns.push(column);
    }
    if !key.is_empty() {
        table.primary_key =
            Some(PrimaryKey { name: object_name(&row.name, None, "pkey"), columns: key });
    }
    let body = CreateTable::parse(&row.sql);
    table.checks = body.checks(&row.name);
    table.foreign_keys = foreign_keys(&row.name, catalog);
    for index in catalog.indexes.iter().filter(|i| i.table == row.name) {
        let parts: Vec<&IndexColumnRow> =
            catalog.index_columns.iter().filter(|c| c.index == index.name).collect();
        let columns: Vec<String> = parts.iter().filter_map(|p| p.column.clone()).collect();
        match index.origin.as_str() {
            "pk" => {}
            "u" => table.uniques.push(UniqueConstraint {
                name: index.name.clone(),
                columns,
                nulls_not_distinct: false,
                deferrable: false,
                initially_deferred: false,
            }),
            _ => table.indexes.push(build_index(index, &parts)),
        }
    }
    table.stats = row.rows.map(|rows| TableStats { rows: Some(rows), bytes: None });
    table
}

fn build_index(row: &IndexRow, parts: &[&IndexColumnRow]) -> Index {
    let stored = row.sql.as_deref().map(CreateIndex::parse).unwrap_or_default();
    let mut expressions = stored.parts.into_iter();
    let mut index = Index { name: row.name.clone(), unique: row.unique, ..Index::default() };
    for part in parts {
        let text = expressions.next().unwrap_or_default();
        index.parts.push(match &part.column {
            Some(column) => IndexPart::Column(column.clone()),
            None => IndexPart::Expression(strip_parens(&text)),
        });
        let mut options = Vec::new();
        if let Some(collation) =
            part.collation.as_deref().filter(|c| !c.eq_ignore_ascii_case("BINARY"))
        {
            options.push(format!("COLLATE {collation}"));
        }
        if part.desc {
            options.push("DESC".to_owned());
        }
        index.part_options.push(options.join(" "));
    }
    if index.part_options.iter().all(String::is_empty) {
        index.part_options.clear();
    }
    if row.partial {
        index.predicate = stored.predicate.map(|p| strip_parens(&p));
    }
    index
}

fn foreign_keys(table: &str, catalog: &Catalog) -> Vec<ForeignKey> {
    let rows: Vec<&ForeignKeyRow> =
        catalog.foreign_keys.iter().filter(|f| f.table == table).collect();
    let mut ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    ids.dedup();
    ids.into_iter()
        .map(|id| {
            let parts: Vec<&&ForeignKeyRow> = rows.iter().filter(|r| r.id == id).collect();
            let columns: Vec<String> = parts.iter().map(|p| p.column.clone()).collect();
            let ref_table = parts[0].ref_table.clone();
            let ref_columns = parts
                .iter()
                .map(|p| p.ref_column.clone().unwrap_or_else(|| "rowid".to_owned()))
                .collect();
            ForeignKey {
                name: foreign_key_name(table, &columns),
                columns,
                ref_table: QualifiedName::new(ref_table),
                ref_columns,
                on_delete: action(&parts[0].on_delete),
                on_update: action(&parts[0].on_update),
                ..ForeignKey::default()
            }
        })
        .collect()
}

fn action(text: &str) -> FkAction {
    match text.to_ascii_uppercase().as_str() {
        "CASCADE" => FkAction::Cascade,
        "RESTRICT" => FkAction::Restrict,
        "SET NULL" => FkAction::SetNull,
        "SET DEFAULT" => FkAction::SetDefault,
        _ => FkAction::NoAction,
    }
}

/// `(a)` → `a`, once, when the parentheses wrap the whole text.
fn strip_parens(text: &str) -> String {
    let trimmed = text.trim();
    if trimmed.starts_with('(') && trimmed.ends_with(')') {
        let tokens = tokens(trimmed);
        // Only when the first parenthesis closes at the very end.
        let mut depth = 0;
        for (i, token) in tokens.iter().enumerate() {
            match token.text {
                "(" => depth += 1,
                ")" => {
                    depth -= 1;
                    if depth == 0 && i + 1 < tokens.len() {
                        return trimmed.to_owned();
                    }
                }
                _ => {}
            }
        }
        return trimmed[1..trimmed.len() - 1].trim().to_owned();
    }
    trimmed.to_owned()
}

/// A token of SQL text, with its byte range in the source.
#[derive(Debug, Clone, Copy)]
struct Token<'a> {
    text: &'a str,
    start: usize,
    end: usize,
}

/// Splits SQL into tokens: quoted names and strings (`"…"`, `'…'`, `` `…` ``, `[…]`)
/// whole, punctuation single, words; comments and whitespace dropped.
fn tokens(sql: &str) -> Vec<Token<'_>> {
    let bytes = sql.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        let start = i;
        match c {
            b' ' | b'\t' | b'\n' | b'\r' => {
                i += 1;
                continue;
            }
            b'-' if bytes.get(i + 1) == Some(&b'-') => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
                continue;
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                i += 2;
                while i + 1 < bytes.len() && !(bytes[i] == b'*' && bytes[i + 1] == b'/') {
                    i += 1;
                }
                i = (i + 2).min(bytes.len());
                continue;
            }
            b'\'' | b'"' | b'`' | b'[' => {
                let close = if c == b'[' { b']' } else { c };
                i += 1;
                while i < bytes.len() {
                    if bytes[i] == close {
                        // A doubled quote is an escaped one (not for `[…]`).
                        if close != b']' && bytes.get(i + 1) == Some(&close) {
                            i += 2;
                            continue;
                        }
                        break;
                    }
                    i += 1;
                }
                i = (i + 1).min(bytes.len());
            }
            b'(' | b')' | b',' | b';' => i += 1,
            _ => {
                while i < bytes.len()
                    && !matches!(
                        bytes[i],
                        b' ' | b'\t'
                            | b'\n'
                            | b'\r'
                            | b'('
                            | b')'
                            | b','
                            | b';'
                            | b'\''
                            | b'"'
                            | b'`'
                            | b'['
                    )
                {
                    i += 1;
                }
            }
        }
        out.push(Token { text: &sql[start..i], start, end: i });
    }
    out
}

fn keyword(token: &Token<'_>, word: &str) -> bool {
    token.text.eq_ignore_ascii_case(word)
}

/// An identifier token without its quotes.
fn unquote(text: &str) -> String {
    let bytes = text.as_bytes();
    match bytes.first() {
        Some(b'"') | Some(b'`') if text.len() >= 2 => {
            let quote = &text[..1];
            text[1..text.len() - 1].replace(&format!("{quote}{quote}"), quote)
        }
        Some(b'[') if text.len() >= 2 => text[1..text.len() - 1].to_owned(),
        _ => text.to_owned(),
    }
}

/// The parts of a stored `CREATE TABLE` this builder needs: the top-level items of its
/// column list (column definitions and table constraints).
struct CreateTable<'a> {
    sql: &'a str,
    items: Vec<Vec<Token<'a>>>,
}

impl<'a> CreateTable<'a> {
    fn parse(sql: &'a str) -> CreateTable<'a> {
        let tokens = tokens(sql);
        let mut items = Vec::new();
        let mut current = Vec::new();
        let mut depth = 0;
        for token in tokens {
            match token.text {
                "(" => {
                    depth += 1;
                    if depth == 1 {
                        continue;
                    }
                }
                ")" => {
                    depth -= 1;
                    if depth == 0 {
                        items.push(std::mem::take(&mut current));
                        continue;
                    }
                }
                "," if depth == 1 => {
                    items.push(std::mem::take(&mut current));
                    continue;
                }
                _ => {}
            }
            if depth >= 1 {
                current.push(token);
            }
        }
        CreateTable { sql, items }
    }

    /// CHECK constraints, table-level and column-level (named `<table>_<column>_check`
    /// when the statement gives no name).
    fn checks(&self, table: &str) -> Vec<CheckConstraint> {
        let mut checks = Vec::new();
        for item in &self.items {
            let is_constraint_item = item.first().is_some_and(|t| {
                ["constraint", "check", "primary", "unique", "foreign"]
                    .iter()
                    .any(|w| keyword(t, w))
            });
            let column =
                (!is_constraint_item).then(|| item.first().map(|t| unquote(t.text))).flatten();
            let mut name: Option<String> = None;
            let mut i = 0;
            while i < item.len() {
                if keyword(&item[i], "constraint") {
                    name = item.get(i + 1).map(|t| unquote(t.text));
                    i += 2;
                    continue;
                }
                if keyword(&item[i], "check") && item.get(i + 1).is_some_and(|t| t.text == "(") {
                    let (expression, next) = self.parenthesised(item, i + 1);
                    let name = name.take().unwrap_or_else(|| match &column {
                        Some(column) => object_name(table, Some(column), "check"),
                        None => object_name(table, None, "check"),
                    });
                    checks.push(CheckConstraint {
                        name,
                        expression,
                        not_valid: false,
                        no_inherit: false,
                    });
                    i = next;
                    continue;
                }
                i += 1;
            }
        }
        checks
    }

    /// The source text inside the parenthesis opening at `item[open]`, and the index after
    /// its closing one.
    fn parenthesised(&self, item: &[Token<'a>], open: usize) -> (String, usize) {
        let mut depth = 0;
        for (offset, token) in item[open..].iter().enumerate() {
            match token.text {
                "(" => depth += 1,
                ")" => {
                    depth -= 1;
                    if depth == 0 {
                        let text = &self.sql[item[open].end..token.start];
                        return (text.trim().to_owned(), open + offset + 1);
                    }
                }
                _ => {}
            }
        }
        (self.sql[item[open].end..].trim().to_owned(), item.len())
    }
}

/// The parts of a stored `CREATE INDEX`: the key parts' text and the WHERE predicate.
#[derive(Debug, Default)]
struct CreateIndex {
    parts: Vec<String>,
    predicate: Option<String>,
}

impl CreateIndex {
    fn parse(sql: &str) -> CreateIndex {
        let tokens = tokens(sql);
        let Some(open) = tokens.iter().position(|t| t.text == "(") else {
            return CreateIndex::default();
        };
        let mut parts = Vec::new();
        let mut depth = 0;
        let mut part_start = tokens[open].end;
        let mut close = tokens.len();
        for (i, token) in tokens.iter().enumerate().skip(open) {
            match token.text {
                "(" => depth += 1,
                ")" => {
                    depth -= 1;
                    if depth == 0 {
                        parts.push(sql[part_start..token.start].trim().to_owned());
                        close = i;
                        break;
                    }
                }
                "," if depth == 1 => {
                    parts.push(sql[part_start..token.start].trim().to_owned());
                    part_start = token.end;
                }
                _ => {}
            }
        }
        // Key parts carry their ordering and collation words; keep the expression only.
        let parts = parts.into_iter().map(|p| strip_order(&p)).collect();
        let predicate = tokens[close.min(tokens.len())..]
            .iter()
            .position(|t| keyword(t, "where"))
            .map(|at| sql[tokens[close + at].end..].trim().trim_end_matches(';').trim().to_owned());
        CreateIndex { parts, predicate }
    }
}

/// `lower(email) COLLATE NOCASE DESC` → `lower(email)`.
fn strip_order(part: &str) -> String {
    let tokens = tokens(part);
    let mut end = tokens.len();
    while end > 0 {
        let last = &tokens[end - 1];
        if keyword(last, "asc") || keyword(last, "desc") {
            end -= 1;
        } else if end >= 2 && keyword(&tokens[end - 2], "collate") {
            end -= 2;
        } else {
            break;
        }
    }
    match end {
        0 => String::new(),
        _ => part[tokens[0].start..tokens[end - 1].end].to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checks_are_read_from_the_create_statement() {
        let sql = r#"CREATE TABLE "t" (
            "id" integer NOT NULL PRIMARY KEY,
            "price" numeric CHECK (price >= 0),
            "odd, name" text DEFAULT 'a,b)',
            CONSTRAINT "t_pair_check" CHECK ((a > 0) AND (b IN ('x', ')'))) -- trailing
        )"#;
        let checks = CreateTable::parse(sql).checks("t");
        assert_eq!(checks.len(), 2, "{checks:?}");
        assert_eq!(checks[0].name, "t_price_check");
        assert_eq!(checks[0].expression, "price >= 0");
        assert_eq!(checks[1].name, "t_pair_check");
        assert_eq!(checks[1].expression, "(a > 0) AND (b IN ('x', ')'))");
    }

    #[test]
    fn table_options_are_noticed() {
        assert_eq!(
            table_options("CREATE TABLE t (id int PRIMARY KEY) WITHOUT ROWID, STRICT"),
            vec!["WITHOUT ROWID", "STRICT"]
        );
        assert!(table_options("CREATE TABLE t (a text DEFAULT 'strict)')").is_empty());
    }

    #[test]
    fn index_parts_and_predicate() {
        let parsed = CreateIndex::parse(
            r#"CREATE INDEX "i" ON "t" ("a" DESC, (lower("b")) COLLATE NOCASE) WHERE (a > 0)"#,
        );
        assert_eq!(parsed.parts, vec![r#""a""#.to_owned(), r#"(lower("b"))"#.to_owned()]);
        assert_eq!(parsed.predicate.as_deref(), Some("(a > 0)"));
        assert_eq!(strip_parens("(a > 0)"), "a > 0");
        assert_eq!(strip_parens("(a) + (b)"), "(a) + (b)");
    }
}
