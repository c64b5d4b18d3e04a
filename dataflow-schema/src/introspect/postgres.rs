//! PostgreSQL catalog rows → [`Schema`]. The query is `postgres_catalog.sql` (one round
//! trip, one JSON document); running it is `dataflow-core`'s job, turning its result into
//! a schema is this pure, unit-tested code.

use crate::model::{
    CheckConstraint, Column, ColumnType, DefaultExpr, EnumType, ExclusionConstraint, FkAction,
    ForeignKey, Identity, Index, IndexMethod, IndexPart, PrimaryKey, QualifiedName, Schema,
    Sequence, Table, TableStats, UniqueConstraint,
};
use serde::Deserialize;

/// The catalog queries, one per object kind: a fixed number of round trips whatever
/// the table count. Each takes `$1` = the namespaces to read (`text[]`) and returns the
/// columns of its row type below, in order. Those that read a catalog column some
/// server versions lack are written for one version by [`queries::Queries::for_version`].
pub mod queries {
    /// Rows: the namespace names that exist.
    pub const NAMESPACES: &str = include_str!("postgres_sql/namespaces.sql");
    /// Rows: [`super::TableRow`].
    pub const TABLES: &str = include_str!("postgres_sql/tables.sql");
    /// Rows: [`super::ColumnRow`].
    pub const COLUMNS: &str = include_str!("postgres_sql/columns.sql");
    /// Rows: [`super::EnumRow`].
    pub const ENUMS: &str = include_str!("postgres_sql/enums.sql");
    /// Rows: [`super::SequenceRow`].
    pub const SEQUENCES: &str = include_str!("postgres_sql/sequences.sql");
    /// Rows: one description per unmanaged object.
    pub const UNMANAGED: &str = include_str!("postgres_sql/unmanaged.sql");

    /// Catalog columns newer than the oldest supported server (13): the `{table.column}`
    /// placeholder in the SQL, the `server_version_num` that added the column, the SQL
    /// read from it there, and what stands in for it on older servers.
    pub const LATER_CATALOG_COLUMNS: &[(&str, u32, &str, &str)] = &[
        ("{pg_index.indnullsnotdistinct}", 150_000, "i.indnullsnotdistinct", "false"),
        ("{pg_constraint.conenforced}", 180_000, "con.conenforced", "true"),
        ("{pg_constraint.conperiod}", 180_000, "con.conperiod", "false"),
    ];

    /// The queries written for one server version.
    #[derive(Debug, Clone)]
    pub struct Queries {
        /// Rows: [`super::ConstraintRow`].
        pub constraints: String,
        /// Rows: [`super::IndexRow`].
        pub indexes: String,
    }

    impl Queries {
        /// The queries for a server whose `server_version_num` is `version`.
        pub fn for_version(version: u32) -> Queries {
            let write = |sql: &str| {
                LATER_CATALOG_COLUMNS.iter().fold(sql.to_owned(), |sql, (mark, since, new, old)| {
                    sql.replace(mark, if version >= *since { new } else { old })
                })
            };
            Queries {
                constraints: write(include_str!("postgres_sql/constraints.sql")),
                indexes: write(include_str!("postgres_sql/indexes.sql")),
            }
        }
    }
}

/// `server_version_num` as people write it: 140023 → "14.23", 90624 → "9.6.24".
pub fn version_name(version: u32) -> String {
    if version >= 100_000 {
        format!("{}.{}", version / 10_000, version % 10_000)
    } else {
        format!("{}.{}.{}", version / 10_000, version / 100 % 100, version % 100)
    }
}

/// The default namespace: its objects get no schema qualifier in the model.
pub const DEFAULT_NAMESPACE: &str = "public";

/// Everything the catalog queries returned.
#[derive(Debug, Default, Deserialize)]
pub struct Catalog {
    /// The server's `server_version_num` (0 when unknown).
    #[serde(default)]
    pub server_version: u32,
    /// Namespaces that exist.
    pub namespaces: Vec<String>,
    /// Tables.
    pub tables: Vec<TableRow>,
    /// Columns, in table order then column position.
    pub columns: Vec<ColumnRow>,
    /// Constraints.
    pub constraints: Vec<ConstraintRow>,
    /// Indexes no constraint owns.
    pub indexes: Vec<IndexRow>,
    /// Enum types.
    pub enums: Vec<EnumRow>,
    /// Free-standing sequences.
    pub sequences: Vec<SequenceRow>,
    /// Objects outside dataflow's scope.
    pub unmanaged: Vec<String>,
}

/// A row of [`queries::TABLES`].
#[derive(Debug, Deserialize)]
#[allow(missing_docs)]
pub struct TableRow {
    pub schema: String,
    pub name: String,
    pub rows: f64,
    pub bytes: Option<i64>,
    pub comment: Option<String>,
}

/// A row of [`queries::COLUMNS`].
#[derive(Debug, Deserialize)]
#[allow(missing_docs)]
pub struct ColumnRow {
    pub schema: String,
    pub table: String,
    pub name: String,
    #[serde(rename = "type")]
    pub ty: String,
    pub enum_schema: Option<String>,
    pub enum_name: Option<String>,
    pub enum_array: bool,
    pub not_null: bool,
    pub default: Option<String>,
    pub identity: Option<String>,
    pub generated: Option<String>,
    pub collation: Option<String>,
    pub comment: Option<String>,
    pub owns_sequence: bool,
    /// PostgreSQL 18: the NOT NULL constraint's name and whether it is validated.
    #[serde(default)]
    pub not_null_constraint: Option<String>,
    #[serde(default)]
    pub not_null_validated: Option<bool>,
}

fn enforced() -> bool {
    true
}

/// A row of [`queries::Queries::constraints`].
#[derive(Debug, Deserialize)]
#[allow(missing_docs)]
pub struct ConstraintRow {
    pub schema: String,
    pub table: String,
    pub name: String,
    pub kind: String,
    /// Only for check and exclusion constraints.
    pub definition: Option<String>,
    pub validated: bool,
    pub deferrable: bool,
    pub deferred: bool,
    pub no_inherit: bool,
    pub match_full: bool,
    pub nulls_not_distinct: bool,
    /// False for PostgreSQL 18's `NOT ENFORCED` constraints.
    #[serde(default = "enforced")]
    pub enforced: bool,
    /// PostgreSQL 18's temporal keys: `WITHOUT OVERLAPS`, or a foreign key's `PERIOD`.
    #[serde(default)]
    pub period: bool,
    pub columns: Vec<String>,
    pub ref_schema: Option<String>,
    pub ref_table: Option<String>,
    pub ref_columns: Vec<String>,
    pub on_delete: String,
    pub on_update: String,
}

/// A row of [`queries::Queries::indexes`]: the last three lists have one entry per key part.
#[derive(Debug, Deserialize)]
#[allow(missing_docs)]
pub struct IndexRow {
    pub schema: String,
    pub table: String,
    pub name: String,
    pub unique: bool,
    pub valid: bool,
    pub method: String,
    pub predicate: Option<String>,
    pub nulls_not_distinct: bool,
    pub with: Vec<String>,
    pub include: Vec<String>,
    pub part_columns: Vec<Option<String>>,
    pub part_expressions: Vec<Option<String>>,
    pub part_options: Vec<String>,
}

/// A row of [`queries::ENUMS`].
#[derive(Debug, Deserialize)]
#[allow(missing_docs)]
pub struct EnumRow {
    pub schema: String,
    pub name: String,
    pub values: Vec<String>,
}

/// A row of [`queries::SEQUENCES`].
#[derive(Debug, Deserialize)]
#[allow(missing_docs)]
pub struct SequenceRow {
    pub schema: String,
    pub name: String,
    pub start: i64,
    pub increment: i64,
}

/// What introspection found: the schema, and what it saw but does not manage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Introspected {
    /// Tables, columns, constraints, indexes, enums and sequences.
    pub schema: Schema,
    /// The server's `server_version_num` (0 when unknown).
    pub server_version: u32,
    /// The namespaces that were asked for and exist (the default one included).
    pub namespaces: Vec<String>,
    /// Objects outside dataflow's scope (views, functions, triggers, extensions, policies,
    /// partitions, exclusion constraints) and details it cannot represent: listed in a
    /// warning, never created or dropped.
    pub unmanaged: Vec<String>,
}

fn qualified(schema: &str, name: &str) -> QualifiedName {
    let schema = (schema != DEFAULT_NAMESPACE).then(|| schema.to_owned());
    QualifiedName { schema, name: name.to_owned() }
}

/// Builds the schema from the catalog document.
pub fn build(catalog: Catalog) -> Introspected {
    let mut unmanaged = catalog.unmanaged;
    let mut tables: Vec<Table> = catalog
        .tables
        .iter()
        .map(|row| Table {
            comment: row.comment.clone(),
            // reltuples is -1 until the table is first vacuumed or analyzed: unknown,
            // never "small". Before PostgreSQL 14 it is 0 then, as for an empty table, so
            // 0 is unknown there too (an empty table is planned as a large one: safe).
            stats: Some(TableStats {
                rows: known_rows(row.rows, catalog.server_version),
                bytes: row.bytes.and_then(|b| u64::try_from(b).ok()),
            }),
            ..Table::new(qualified(&row.schema, &row.name))
        })
        .collect();
    let positions: std::collections::HashMap<(String, String), usize> = catalog
        .tables
        .iter()
        .enumerate()
        .map(|(i, row)| ((row.schema.clone(), row.name.clone()), i))
        .collect();
    let position = |schema: &str, name: &str| -> Option<usize> {
        positions.get(&(schema.to_owned(), name.to_owned())).copied()
    };
    for row in catalog.columns {
        let Some(i) = position(&row.schema, &row.table) else { continue };
        let table = tables[i].name.clone();
        let subject = format!("{}.{}", table, row.name);
        if row.generated.as_deref() == Some("v") {
            unmanaged.push(format!(
                "virtual generated column {subject} (PostgreSQL 18): compared and re-created as a stored one"
            ));
        }
        if row.not_null_validated == Some(false) {
            unmanaged.push(format!(
                "NOT NULL NOT VALID on {subject} (PostgreSQL 18): compared as a validated NOT NULL"
            ));
        }
        tables[i].columns.push(column(row));
    }
    for row in catalog.constraints {
        let Some(i) = position(&row.schema, &row.table) else { continue };
        if !row.enforced {
            unmanaged.push(format!(
                "NOT ENFORCED constraint {} on {} (PostgreSQL 18): compared as an enforced one",
                row.name, tables[i].name
            ));
        }
        if row.period {
            unmanaged.push(format!(
                "temporal constraint {} on {} (PostgreSQL 18 WITHOUT OVERLAPS / PERIOD): \
                 compared as a plain key over the same columns",
                row.name, tables[i].name
            ));
        }
        add_constraint(&mut tables[i], row);
    }
    for row in catalog.indexes {
        let Some(i) = position(&row.schema, &row.table) else { continue };
        let mut part_options = row.part_options;
        if part_options.iter().all(String::is_empty) {
            part_options.clear();
        }
        tables[i].indexes.push(Index {
            name: row.name,
            parts: row
                .part_columns
                .into_iter()
                .zip(row.part_expressions)
                .map(|(column, expression)| match (column, expression) {
                    (_, Some(expression)) => IndexPart::Expression(expression),
                    (column, None) => IndexPart::Column(column.unwrap_or_default()),
                })
                .collect(),
            part_options,
            include: row.include,
            with: row.with,
            nulls_not_distinct: row.nulls_not_distinct,
            unique: row.unique,
            method: IndexMethod::parse(&row.method).unwrap_or_default(),
            predicate: row.predicate,
            invalid: !row.valid,
        });
    }
    let mut schema = Schema {
        tables,
        enums: catalog
            .enums
            .into_iter()
            .map(|row| EnumType { name: qualified(&row.schema, &row.name), values: row.values })
            .collect(),
        sequences: catalog
            .sequences
            .into_iter()
            .map(|row| Sequence {
                name: qualified(&row.schema, &row.name),
                start: row.start,
                increment: row.increment,
            })
            .collect(),
        namespaces: catalog
            .namespaces
            .iter()
            .filter(|n| *n != DEFAULT_NAMESPACE)
            .cloned()
            .collect(),
    };
    schema.canonicalize();
    Introspected {
        schema,
        server_version: catalog.server_version,
        namespaces: catalog.namespaces,
        unmanaged,
    }
}

/// The row count `reltuples` tells, if it tells one (see `build`).
fn known_rows(reltuples: f64, server_version: u32) -> Option<u64> {
    let never_counted =
        reltuples < 0.0 || (reltuples == 0.0 && server_version != 0 && server_version < 140_000);
    (!never_counted).then_some(reltuples as u64)
}

/// The column a catalog row describes.
fn column(row: ColumnRow) -> Column {
    let ty = match (&row.enum_schema, &row.enum_name) {
        (Some(schema), Some(name)) => {
            let enum_type = ColumnType::Enum(qualified(schema, name));
            if row.enum_array {
                ColumnType::Array(Box::new(enum_type))
            } else {
                enum_type
            }
        }
        _ => ColumnType::from_sql(&row.ty),
    };
    let identity = match row.identity.as_deref() {
        Some("a") => Some(Identity::Always),
        Some("d") => Some(Identity::ByDefault),
        _ if row.owns_sequence
            && row.default.as_deref().is_some_and(|d| d.starts_with("nextval(")) =>
        {
            Some(Identity::Serial)
        }
        _ => None,
    };
    // Defaults keep the server's text: it re-creates exactly, and compares with a
    // model's literal through `normalize::expression_key`.
    let (default, generated) = match (identity, row.generated.as_deref()) {
        (Some(Identity::Serial), _) => (None, None),
        (_, Some("s" | "v")) => (None, row.default),
        _ => (row.default.map(DefaultExpr::Sql), None),
    };
    Column {
        nullable: !row.not_null,
        not_null_constraint: row.not_null_constraint,
        default,
        generated,
        identity,
        collation: row.collation,
        comment: row.comment,
        ..Column::new(row.name, ty)
    }
}

fn fk_action(code: &str) -> FkAction {
    match code {
        "r" => FkAction::Restrict,
        "c" => FkAction::Cascade,
        "n" => FkAction::SetNull,
        "d" => FkAction::SetDefault,
        _ => FkAction::NoAction,
    }
}

/// `CHECK ((price > 0)) NOT VALID` → `(price > 0)`.
fn check_expression(definition: &str) -> String {
    let mut text = definition.trim();
    for suffix in [" NOT VALID", " NO INHERIT"] {
        text = text.strip_suffix(suffix).unwrap_or(text).trim_end();
    }
    text.strip_prefix("CHECK ").unwrap_or(text).trim().to_owned()
}

fn add_constraint(table: &mut Table, row: ConstraintRow) {
    match row.kind.as_str() {
        "p" => table.primary_key = Some(PrimaryKey { name: row.name, columns: row.columns }),
        "u" => table.uniques.push(UniqueConstraint {
            name: row.name,
            columns: row.columns,
            nulls_not_distinct: row.nulls_not_distinct,
            deferrable: row.deferrable,
            initially_deferred: row.deferred,
        }),
        "c" => table.checks.push(CheckConstraint {
            name: row.name,
            expression: check_expression(row.definition.as_deref().unwrap_or_default()),
            not_valid: !row.validated,
            no_inherit: row.no_inherit,
        }),
        "x" => table.exclusions.push(ExclusionConstraint {
            name: row.name,
            definition: row.definition.unwrap_or_default(),
        }),
        "f" => table.foreign_keys.push(ForeignKey {
            name: row.name,
            columns: row.columns,
            ref_table: qualified(
                row.ref_schema.as_deref().unwrap_or(DEFAULT_NAMESPACE),
                row.ref_table.as_deref().unwrap_or_default(),
            ),
            ref_columns: row.ref_columns,
            on_delete: fk_action(&row.on_delete),
            on_update: fk_action(&row.on_update),
            deferrable: row.deferrable,
            initially_deferred: row.deferred,
            not_valid: !row.validated,
            match_full: row.match_full,
        }),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_definitions_lose_their_keyword_and_flags() {
        assert_eq!(check_expression("CHECK ((price > 0)) NOT VALID"), "((price > 0))");
        assert_eq!(check_expression("CHECK (price > 0)"), "(price > 0)");
    }

    #[test]
    fn a_catalog_document_builds_a_schema() {
        let json = r#"{
          "namespaces": ["app", "public"],
          "tables": [{"schema": "public", "name": "users", "rows": -1, "pages": 0, "bytes": 8192, "comment": "people"}],
          "columns": [
            {"schema": "public", "table": "users", "name": "id", "type": "integer", "enum_schema": null, "enum_name": null,
             "enum_array": false, "not_null": true, "default": "nextval('users_id_seq'::regclass)", "identity": null,
             "generated": null, "collation": null, "comment": null, "owns_sequence": true},
            {"schema": "public", "table": "users", "name": "mood", "type": "app.mood[]", "enum_schema": "app", "enum_name": "mood",
             "enum_array": true, "not_null": false, "default": null, "identity": null,
             "generated": null, "collation": "C", "comment": "how they feel", "owns_sequence": false}
          ],
          "constraints": [
            {"schema": "public", "table": "users", "name": "users_pkey", "kind": "p", "definition": "PRIMARY KEY (id)",
             "validated": true, "deferrable": false, "deferred": false, "no_inherit": false, "match_full": false, "nulls_not_distinct": false, "columns": ["id"], "ref_schema": null,
             "ref_table": null, "ref_columns": [], "on_delete": " ", "on_update": " "}
          ],
          "indexes": [
            {"schema": "public", "table": "users", "name": "users_lower_idx", "unique": false, "valid": false, "method": "gin",
             "predicate": "id > 0", "nulls_not_distinct": false, "with": [], "include": [],
             "part_columns": [null], "part_expressions": ["lower(x)"], "part_options": [""]}
          ],
          "enums": [{"schema": "app", "name": "mood", "values": ["sad", "ok"]}],
          "sequences": [],
          "unmanaged": ["view public.v"]
        }"#;
        let catalog: Catalog = serde_json::from_str(json).expect("the document parses");
        let found = build(catalog);
        let users = &found.schema.tables[0];
        assert_eq!(users.name, QualifiedName::new("users"));
        assert_eq!(users.stats, Some(TableStats { rows: None, bytes: Some(8192) }));
        assert_eq!(users.columns[0].identity, Some(Identity::Serial));
        assert_eq!(users.columns[0].default, None);
        let mood = ColumnType::Enum(QualifiedName::in_schema(Some("app"), "mood"));
        assert_eq!(users.columns[1].ty, ColumnType::Array(Box::new(mood)));
        assert_eq!(users.columns[1].collation.as_deref(), Some("C"));
        assert!(users.indexes[0].invalid);
        assert_eq!(found.schema.namespaces, ["app"]);
        assert_eq!(found.unmanaged, ["view public.v"]);
    }
}
