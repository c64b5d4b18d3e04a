//! The schema model: what a database namespace looks like, independent of any server.
//!
//! Both sides of a diff are a [`Schema`]: the desired one is built from `#[derive(Model)]`
//! structs (and carries rename hints and backfill rules), the current one is introspected
//! from a database or read from a `schema.json` snapshot (and carries row estimates).
//! Every collection is kept in a deterministic order (see [`Schema::canonicalize`]).

use serde::{Deserialize, Serialize};
use std::fmt;

/// A table or type name, optionally qualified by a namespace (`None` = the default one:
/// `public` on PostgreSQL, the connection's database on MySQL, `main` on SQLite).
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct QualifiedName {
    /// Namespace, `None` for the default one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<String>,
    /// Unqualified name.
    pub name: String,
}

impl QualifiedName {
    /// A name in the default namespace.
    pub fn new(name: impl Into<String>) -> Self {
        QualifiedName { schema: None, name: name.into() }
    }

    /// A name in an explicit namespace (`None` = default).
    pub fn in_schema(schema: Option<&str>, name: impl Into<String>) -> Self {
        QualifiedName { schema: schema.map(str::to_owned), name: name.into() }
    }

    /// Parses `name` or `schema.name` (no quoting; used for attribute values).
    pub fn parse(text: &str) -> Self {
        match text.split_once('.') {
            Some((schema, name)) => QualifiedName::in_schema(Some(schema), name),
            None => QualifiedName::new(text),
        }
    }
}

impl fmt::Display for QualifiedName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.schema {
            Some(schema) => write!(f, "{schema}.{}", self.name),
            None => f.write_str(&self.name),
        }
    }
}

/// A whole namespace (or several): tables, enum types and sequences.
// Unknown keys and a missing `tables` are errors: a file given as a schema that is not one
// (a plan file, `{}`) must not read as an empty database whose tables are all to drop.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Schema {
    /// Tables, sorted by qualified name.
    pub tables: Vec<Table>,
    /// Enum types, sorted by qualified name.
    #[serde(default)]
    pub enums: Vec<EnumType>,
    /// Free-standing sequences, sorted by qualified name.
    #[serde(default)]
    pub sequences: Vec<Sequence>,
    /// Namespaces other than the default one that exist (current side) or are needed
    /// (desired side: filled in by [`Schema::canonicalize`] from the names used).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub namespaces: Vec<String>,
}

impl Schema {
    /// Looks a table up by its qualified name.
    pub fn table(&self, name: &QualifiedName) -> Option<&Table> {
        self.tables.iter().find(|t| &t.name == name)
    }

    /// Looks a table up mutably.
    pub fn table_mut(&mut self, name: &QualifiedName) -> Option<&mut Table> {
        self.tables.iter_mut().find(|t| &t.name == name)
    }

    /// Looks an enum type up.
    pub fn enum_type(&self, name: &QualifiedName) -> Option<&EnumType> {
        self.enums.iter().find(|e| &e.name == name)
    }

    /// Sorts every collection into its canonical order, so that equal schemas serialise to
    /// equal bytes whatever order they were built in. Column order is kept: it is the
    /// table's shape (`SELECT *`) and the diff ignores it.
    pub fn canonicalize(&mut self) {
        let used = self
            .tables
            .iter()
            .map(|t| &t.name)
            .chain(self.enums.iter().map(|e| &e.name))
            .chain(self.sequences.iter().map(|s| &s.name))
            .filter_map(|name| name.schema.clone())
            .collect::<Vec<_>>();
        self.namespaces.extend(used);
        self.namespaces.sort();
        self.namespaces.dedup();
        self.tables.sort_by(|a, b| a.name.cmp(&b.name));
        self.enums.sort_by(|a, b| a.name.cmp(&b.name));
        self.sequences.sort_by(|a, b| a.name.cmp(&b.name));
        for table in &mut self.tables {
            table.indexes.sort_by(|a, b| a.name.cmp(&b.name));
            table.uniques.sort_by(|a, b| a.name.cmp(&b.name));
            table.checks.sort_by(|a, b| a.name.cmp(&b.name));
            table.foreign_keys.sort_by(|a, b| a.name.cmp(&b.name));
        }
    }

    /// Reads a schema from its JSON form (as written by [`Schema::to_json`] or
    /// `dataflow snapshot`).
    pub fn from_json(text: &str) -> Result<Schema, serde_json::Error> {
        let mut value: serde_json::Value = serde_json::from_str(text)?;
        if value.get("plan").is_some() || value.get("steps").is_some() {
            return Err(serde::de::Error::custom(
                "this is a plan file, not a schema: apply it with `--plan FILE`; a schema \
                 comes from `dataflow snapshot`",
            ));
        }
        // `dataflow snapshot` says which database the schema came from (`snapshot_dialect`).
        if let Some(object) = value.as_object_mut() {
            object.remove("dialect");
        }
        let mut schema: Schema = crate::file_format::from_stamped_value(value, "this file")?;
        schema.canonicalize();
        Ok(schema)
    }

    /// The database a snapshot file was read from, when it says (files written by
    /// [`Schema::to_snapshot_json`]; hand-written ones and older snapshots do not).
    pub fn snapshot_dialect(text: &str) -> Option<crate::Dialect> {
        let value: serde_json::Value = serde_json::from_str(text).ok()?;
        serde_json::from_value(value.get("dialect")?.clone()).ok()
    }

    /// [`Schema::to_json`] with the database it was read from (`"dialect"`), what
    /// `dataflow snapshot` writes: comparing it with another kind of database is refused.
    pub fn to_snapshot_json(&self, dialect: crate::Dialect) -> String {
        #[derive(Serialize)]
        struct Snapshot<'a> {
            dialect: crate::Dialect,
            #[serde(flatten)]
            schema: &'a Schema,
        }
        crate::file_format::to_stamped_json(&Snapshot { dialect, schema: &self.canonical() })
    }

    /// The stable JSON form: canonical order, pretty-printed, object keys in declaration
    /// order, stamped with its `format_version`, so it can be committed as `schema.json`
    /// and diffed in review.
    pub fn to_json(&self) -> String {
        crate::file_format::to_stamped_json(&self.canonical())
    }

    /// A copy in canonical order, for the file forms.
    fn canonical(&self) -> Schema {
        let mut canonical = self.clone();
        canonical.canonicalize();
        canonical
    }
}

/// One table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Table {
    /// Qualified table name.
    pub name: QualifiedName,
    /// Columns in their physical order.
    pub columns: Vec<Column>,
    /// Primary key, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub primary_key: Option<PrimaryKey>,
    /// Secondary indexes (not the ones backing a primary key or unique constraint).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub indexes: Vec<Index>,
    /// Unique constraints.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub uniques: Vec<UniqueConstraint>,
    /// Check constraints.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub checks: Vec<CheckConstraint>,
    /// Foreign keys held by this table.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub foreign_keys: Vec<ForeignKey>,
    /// Exclusion constraints (PostgreSQL), kept as the server prints them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exclusions: Vec<ExclusionConstraint>,
    /// Table comment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// Desired side only: the table's previous names, newest first (from `renamed_from`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub renamed_from: Vec<QualifiedName>,
    /// Current side only: size estimate from the server's statistics.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stats: Option<TableStats>,
}

impl Table {
    /// An empty table with the given name.
    pub fn new(name: QualifiedName) -> Self {
        Table {
            name,
            columns: Vec::new(),
            primary_key: None,
            indexes: Vec::new(),
            uniques: Vec::new(),
            checks: Vec::new(),
            foreign_keys: Vec::new(),
            exclusions: Vec::new(),
            comment: None,
            renamed_from: Vec::new(),
            stats: None,
        }
    }

    /// Looks a column up by name.
    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }

    /// Looks a column up mutably.
    pub fn column_mut(&mut self, name: &str) -> Option<&mut Column> {
        self.columns.iter_mut().find(|c| c.name == name)
    }

    /// The primary key's column names (empty without one).
    pub fn primary_key_columns(&self) -> &[String] {
        self.primary_key.as_ref().map(|pk| pk.columns.as_slice()).unwrap_or(&[])
    }
}

/// Row and size estimates of a table, as the server reports them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableStats {
    /// Estimated row count (`pg_class.reltuples`, `information_schema.TABLES.TABLE_ROWS`,
    /// or a count on SQLite). `None` = unknown, never treated as small.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rows: Option<u64>,
    /// Total size in bytes including indexes and toast.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bytes: Option<u64>,
}

/// One column.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Column {
    /// Column name.
    pub name: String,
    /// Column type.
    #[serde(rename = "type")]
    pub ty: ColumnType,
    /// Whether NULL is allowed.
    pub nullable: bool,
    /// Default for new rows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<DefaultExpr>,
    /// Identity / auto-increment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<Identity>,
    /// Collation, when not the database default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub collation: Option<String>,
    /// Column comment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// Desired side only: the column's previous names, newest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub renamed_from: Vec<String>,
    /// Desired side only: how existing rows get a value when the column is added or made
    /// NOT NULL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backfill: Option<Backfill>,
    /// `GENERATED ALWAYS AS (expression) STORED`: the expression (then no default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generated: Option<String>,
    /// PostgreSQL 18 and later keep NOT NULL as a named constraint: its name, as
    /// introspection read it (older servers have none). `None` in a model: the name the
    /// server gives, `<table>_<column>_not_null` ([`crate::naming::not_null_constraint`]),
    /// which a table or column rename is followed by.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_null_constraint: Option<String>,
}

impl Column {
    /// A NOT NULL column of the given type with nothing else set.
    pub fn new(name: impl Into<String>, ty: ColumnType) -> Self {
        Column {
            name: name.into(),
            ty,
            nullable: false,
            default: None,
            identity: None,
            collation: None,
            comment: None,
            renamed_from: Vec::new(),
            backfill: None,
            generated: None,
            not_null_constraint: None,
        }
    }

    /// Builder: sets nullability.
    pub fn nullable(mut self, nullable: bool) -> Self {
        self.nullable = nullable;
        self
    }

    /// Builder: sets the default.
    pub fn with_default(mut self, default: DefaultExpr) -> Self {
        self.default = Some(default);
        self
    }
}

/// Identity columns (`auto`): PostgreSQL `GENERATED … AS IDENTITY`, MySQL
/// `AUTO_INCREMENT`, SQLite `INTEGER PRIMARY KEY`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Identity {
    /// `GENERATED BY DEFAULT AS IDENTITY`: explicit values are allowed.
    ByDefault,
    /// `GENERATED ALWAYS AS IDENTITY`.
    Always,
    /// `serial` / `bigserial`: a `nextval()` default on a sequence the column owns.
    Serial,
}

/// A column type, rendered per dialect.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ColumnType {
    /// 16-bit integer.
    SmallInt,
    /// 32-bit integer.
    Integer,
    /// 64-bit integer.
    BigInt,
    /// 32-bit float.
    Real,
    /// 64-bit float.
    Double,
    /// Exact decimal; `None` precision = unconstrained.
    Numeric {
        /// Total digits.
        precision: Option<u32>,
        /// Digits after the point.
        scale: Option<u32>,
    },
    /// Unbounded text.
    Text,
    /// Text with a maximum length in characters.
    Varchar(u32),
    /// Fixed-length text.
    Char(u32),
    /// Boolean.
    Bool,
    /// Binary.
    Bytes,
    /// UUID.
    Uuid,
    /// Calendar date.
    Date,
    /// Time of day.
    Time,
    /// Timestamp without time zone.
    Timestamp,
    /// Timestamp with time zone.
    TimestampTz,
    /// JSON text.
    Json,
    /// Binary JSON (PostgreSQL); JSON elsewhere.
    Jsonb,
    /// A named enum type (see [`EnumType`]).
    Enum(QualifiedName),
    /// An array of another type (PostgreSQL).
    Array(Box<ColumnType>),
    /// Any other type, kept verbatim (lower-cased) from `sql_type` or the catalog.
    Other(String),
}

impl ColumnType {
    /// Parses an SQL type name as written in `sql_type = "…"` or printed by a catalog,
    /// folding the usual aliases (`int4`, `character varying(20)`, `timestamp with time
    /// zone` …). Unknown names become [`ColumnType::Other`], lower-cased and trimmed.
    pub fn from_sql(text: &str) -> ColumnType {
        let lowered = text.trim().to_ascii_lowercase();
        let squashed = lowered.split_whitespace().collect::<Vec<_>>().join(" ");
        if let Some(element) = squashed.strip_suffix("[]") {
            return ColumnType::Array(Box::new(ColumnType::from_sql(element)));
        }
        let (base, args) = split_type_args(&squashed);
        let arg = |i: usize| args.get(i).copied();
        match (base, args.len()) {
            ("smallint" | "int2" | "smallserial", 0) => ColumnType::SmallInt,
            ("integer" | "int" | "int4" | "serial", 0) => ColumnType::Integer,
            ("bigint" | "int8" | "bigserial", 0) => ColumnType::BigInt,
            ("real" | "float4", 0) => ColumnType::Real,
            ("double precision" | "float8" | "double", 0) => ColumnType::Double,
            ("numeric" | "decimal", 0..=2) => {
                ColumnType::Numeric { precision: arg(0), scale: arg(1) }
            }
            ("text", 0) => ColumnType::Text,
            ("varchar" | "character varying", 0) => ColumnType::Other("character varying".into()),
            ("varchar" | "character varying", 1) => ColumnType::Varchar(args[0]),
            ("char" | "character" | "bpchar", 0) => ColumnType::Char(1),
            ("char" | "character" | "bpchar", 1) => ColumnType::Char(args[0]),
            ("boolean" | "bool", 0) => ColumnType::Bool,
            ("bytea" | "blob" | "binary", 0) => ColumnType::Bytes,
            ("uuid", 0) => ColumnType::Uuid,
            ("date", 0) => ColumnType::Date,
            ("time" | "time without time zone", 0) => ColumnType::Time,
            ("timestamp" | "timestamp without time zone", 0) => ColumnType::Timestamp,
            ("timestamptz" | "timestamp with time zone", 0) => ColumnType::TimestampTz,
            ("json", 0) => ColumnType::Json,
            ("jsonb", 0) => ColumnType::Jsonb,
            _ => ColumnType::Other(squashed),
        }
    }

    /// Whether values of this type are text (for `max_length` and literal checks).
    pub fn is_text(&self) -> bool {
        matches!(self, ColumnType::Text | ColumnType::Varchar(_) | ColumnType::Char(_))
    }

    /// Whether values of this type are integers.
    pub fn is_integer(&self) -> bool {
        matches!(self, ColumnType::SmallInt | ColumnType::Integer | ColumnType::BigInt)
    }
}

/// Splits `numeric(10, 2)` into `("numeric", [10, 2])`; a name with non-numeric arguments
/// is returned whole with no arguments (so it ends up as `Other`).
fn split_type_args(text: &str) -> (&str, Vec<u32>) {
    let Some(open) = text.find('(') else {
        return (text, Vec::new());
    };
    let Some(inner) = text[open + 1..].strip_suffix(')') else {
        return (text, Vec::new());
    };
    let args: Option<Vec<u32>> = inner.split(',').map(|a| a.trim().parse().ok()).collect();
    match args {
        Some(args) => (text[..open].trim_end(), args),
        None => (text, Vec::new()),
    }
}

/// A literal value, escaped by the dialect's literal function when rendered.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Literal {
    /// `true` / `false`.
    Bool(bool),
    /// An integer or decimal number, as written (validated to be numeric).
    Number(String),
    /// A string.
    Text(String),
}

/// A column default.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DefaultExpr {
    /// A constant (`default = …` in the derive): STATIC strategy.
    Literal(Literal),
    /// An SQL expression (`default_sql = "now()"`): FUNCTION strategy. The application's
    /// own code, rendered verbatim.
    Sql(String),
}

/// How existing rows get a value for a new or newly NOT NULL column (seed 000's
/// strategies; `default` and `default_sql` are the STATIC and FUNCTION ones).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Backfill {
    /// COMPUTED: an SQL expression over the row, e.g. `lower(email)`.
    Computed(String),
    /// CONDITIONAL: `CASE WHEN cond THEN expr … ELSE expr END`.
    Conditional {
        /// `(condition, value expression)` pairs, in order.
        cases: Vec<(String, String)>,
        /// Value when no case matches (`NULL` when absent).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        otherwise: Option<String>,
    },
    /// SEQUENCE: `start`, `start + step`, … in primary-key order.
    Sequence {
        /// First value.
        start: i64,
        /// Increment.
        step: i64,
    },
    /// FOREIGN_KEY with a fixed referenced value.
    ForeignKeyValue(Literal),
    /// FOREIGN_KEY looked up once: `SELECT <column> FROM <table> WHERE <filter>`.
    ForeignKeyLookup {
        /// Referenced table.
        table: QualifiedName,
        /// Referenced column.
        column: String,
        /// SQL condition selecting the row.
        filter: String,
    },
}

/// A primary key.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct PrimaryKey {
    /// Constraint name (implicit: `<table>_pkey`).
    pub name: String,
    /// Key columns, in order.
    pub columns: Vec<String>,
}

/// Index access method.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum IndexMethod {
    /// B-tree (the default).
    #[default]
    Btree,
    /// Hash.
    Hash,
    /// GIN (arrays, jsonb, full text).
    Gin,
    /// GiST.
    Gist,
    /// BRIN.
    Brin,
}

impl IndexMethod {
    /// Parses a method name as written in the derive or the catalog.
    pub fn parse(text: &str) -> Option<IndexMethod> {
        Some(match text.to_ascii_lowercase().as_str() {
            "btree" => IndexMethod::Btree,
            "hash" => IndexMethod::Hash,
            "gin" => IndexMethod::Gin,
            "gist" => IndexMethod::Gist,
            "brin" => IndexMethod::Brin,
            _ => return None,
        })
    }

    /// The method's SQL keyword.
    pub fn as_sql(self) -> &'static str {
        match self {
            IndexMethod::Btree => "btree",
            IndexMethod::Hash => "hash",
            IndexMethod::Gin => "gin",
            IndexMethod::Gist => "gist",
            IndexMethod::Brin => "brin",
        }
    }
}

/// One key part of an index: a column or an expression.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IndexPart {
    /// A column.
    Column(String),
    /// An SQL expression, e.g. `lower(email)`.
    Expression(String),
}

/// A secondary index.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Index {
    /// Index name (implicit: `<table>_<cols>_idx`).
    pub name: String,
    /// Key parts, in order.
    pub parts: Vec<IndexPart>,
    /// Per key part, what follows it: `COLLATE "C"`, an operator class, `DESC`,
    /// `NULLS FIRST` (empty strings for none; empty list when no part has any).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub part_options: Vec<String>,
    /// `INCLUDE (…)` columns.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub include: Vec<String>,
    /// Storage parameters, `WITH (fillfactor=70)`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub with: Vec<String>,
    /// `NULLS NOT DISTINCT` (unique indexes, PostgreSQL 15).
    #[serde(default, skip_serializing_if = "is_false")]
    pub nulls_not_distinct: bool,
    /// Whether it is a unique index (without a constraint).
    #[serde(default)]
    pub unique: bool,
    /// Access method.
    #[serde(default)]
    pub method: IndexMethod,
    /// Partial-index predicate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub predicate: Option<String>,
    /// Current side only: a failed `CREATE INDEX CONCURRENTLY` left it INVALID (it slows
    /// writes and serves no reads); the plan rebuilds it.
    #[serde(default, skip_serializing_if = "is_false")]
    pub invalid: bool,
}

/// A unique constraint.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct UniqueConstraint {
    /// Constraint name (implicit: `<table>_<cols>_key`).
    pub name: String,
    /// Columns, in order.
    pub columns: Vec<String>,
    /// `NULLS NOT DISTINCT` (PostgreSQL 15).
    #[serde(default, skip_serializing_if = "is_false")]
    pub nulls_not_distinct: bool,
    /// `DEFERRABLE`.
    #[serde(default, skip_serializing_if = "is_false")]
    pub deferrable: bool,
    /// `INITIALLY DEFERRED` (only with `deferrable`).
    #[serde(default, skip_serializing_if = "is_false")]
    pub initially_deferred: bool,
}

/// An exclusion constraint (PostgreSQL), compared and re-created by its definition as
/// the server prints it (`EXCLUDE USING gist (…)`).
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ExclusionConstraint {
    /// Constraint name.
    pub name: String,
    /// `EXCLUDE USING … (…) [WHERE (…)]`.
    pub definition: String,
}

/// A check constraint.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct CheckConstraint {
    /// Constraint name (implicit: `<table>_<col>_check` or `<table>_check`).
    pub name: String,
    /// The boolean SQL expression.
    pub expression: String,
    /// Added `NOT VALID`: existing rows are not checked yet.
    #[serde(default, skip_serializing_if = "is_false")]
    pub not_valid: bool,
    /// `NO INHERIT`: not enforced on child tables.
    #[serde(default, skip_serializing_if = "is_false")]
    pub no_inherit: bool,
}

fn is_false(value: &bool) -> bool {
    !value
}

/// What happens to referencing rows when the referenced row changes.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum FkAction {
    /// `NO ACTION` (the default).
    #[default]
    NoAction,
    /// `RESTRICT`.
    Restrict,
    /// `CASCADE`.
    Cascade,
    /// `SET NULL`.
    SetNull,
    /// `SET DEFAULT`.
    SetDefault,
}

impl FkAction {
    /// The accepted spellings, for error messages.
    pub const SPELLINGS: &'static str =
        "\"cascade\", \"restrict\", \"set null\", \"set default\", \"no action\"";

    /// Parses `cascade`, `set null`, `set_null`, `no action` … (case-insensitive).
    pub fn parse(text: &str) -> Option<FkAction> {
        let normal = text.trim().to_ascii_lowercase().replace(['_', '-'], " ");
        Some(match normal.as_str() {
            "no action" => FkAction::NoAction,
            "restrict" => FkAction::Restrict,
            "cascade" => FkAction::Cascade,
            "set null" => FkAction::SetNull,
            "set default" => FkAction::SetDefault,
            _ => return None,
        })
    }

    /// The action's SQL keywords.
    pub fn as_sql(self) -> &'static str {
        match self {
            FkAction::NoAction => "NO ACTION",
            FkAction::Restrict => "RESTRICT",
            FkAction::Cascade => "CASCADE",
            FkAction::SetNull => "SET NULL",
            FkAction::SetDefault => "SET DEFAULT",
        }
    }
}

/// A foreign key.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ForeignKey {
    /// Constraint name (implicit: `<table>_<cols>_fkey`).
    pub name: String,
    /// Referencing columns.
    pub columns: Vec<String>,
    /// Referenced table.
    pub ref_table: QualifiedName,
    /// Referenced columns.
    pub ref_columns: Vec<String>,
    /// `ON DELETE`.
    #[serde(default)]
    pub on_delete: FkAction,
    /// `ON UPDATE`.
    #[serde(default)]
    pub on_update: FkAction,
    /// `DEFERRABLE`.
    #[serde(default, skip_serializing_if = "is_false")]
    pub deferrable: bool,
    /// `INITIALLY DEFERRED` (only with `deferrable`).
    #[serde(default, skip_serializing_if = "is_false")]
    pub initially_deferred: bool,
    /// Added `NOT VALID`: existing rows are not checked yet.
    #[serde(default, skip_serializing_if = "is_false")]
    pub not_valid: bool,
    /// `MATCH FULL` (all key columns NULL, or none).
    #[serde(default, skip_serializing_if = "is_false")]
    pub match_full: bool,
}

/// An enum type (PostgreSQL `CREATE TYPE … AS ENUM`; inline elsewhere).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct EnumType {
    /// Type name.
    pub name: QualifiedName,
    /// Values in their sort order.
    pub values: Vec<String>,
}

/// A free-standing sequence.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Sequence {
    /// Sequence name.
    pub name: QualifiedName,
    /// `START WITH`.
    pub start: i64,
    /// `INCREMENT BY`.
    pub increment: i64,
}
