//! The hostile-input corpus (issue 10, suite 5), shared by the database suites: names and
//! SQL strings with quotes of every kind, backslashes, `;`, `--`, `/* */`, `$$`, unicode
//! (combining marks, right-to-left, emoji), reserved words, mixed case, names at and over
//! the identifier limit, empty names — placed as table, column and index names, as text
//! defaults, and as check, predicate and `default_sql` expressions. Each case is a schema
//! of one table; `payload` is the statement an injection would run (it destroys the
//! database's canary), embedded in the breakout attempts.

use dataflow::{
    CheckConstraint, Column, ColumnType, DefaultExpr, Index, IndexPart, Literal, PrimaryKey,
    QualifiedName, Schema, Table,
};

/// One case: what it tries, the schema, and whether the planner must refuse it.
pub struct Case {
    pub label: String,
    pub schema: Schema,
    /// An invalid name or a SQL fragment that is not one expression: the planner must
    /// refuse it with a clear error before anything runs.
    pub must_refuse: bool,
}

/// Names: `(name, invalid)`.
fn names(payload: &str) -> Vec<(String, bool)> {
    let mut names: Vec<(String, bool)> = [
        "order",
        "select",
        "user",
        "group",
        "key",
        "table",
        "default",
        "Mixed",
        "UPPER",
        "with space",
        "a\"b",
        "a'b",
        "a`b",
        "a\\b",
        "back\\slash\\",
        "semi;colon",
        "dash--dash",
        "slash/*star*/",
        "$$dollar$$",
        "$1",
        "é",
        "e\u{301}",
        "\u{202e}rtl",
        "שלום",
        "emoji😀",
        "🦀",
        "tab\tname",
        "new\nline",
        " leading",
        "trailing ",
        "%s",
        "?",
        ":colon",
        "@at",
        "#hash",
        "')--",
        "1starts_with_digit",
        "ümlaut_ÄÖÜ",
    ]
    .iter()
    .map(|n| (n.to_string(), false))
    .collect();
    names.push((format!("\"); {payload}; --"), false));
    names.push((format!("'; {payload}; --"), false));
    names.push((format!("`; {payload}; --"), false));
    names.push(("x".repeat(63), false));
    // Invalid: refused by the planner, never silently truncated or sent.
    names.push((String::new(), true));
    names.push(("nul\0byte".into(), true));
    names.push(("x".repeat(64), true));
    names.push(("ä".repeat(32), true));
    names.push((format!("{}😀", "x".repeat(60)), true));
    names
}

/// Reserved for the engine's own tables and columns (index names may use it).
const RESERVED: &str = "_dataflow_mine";

/// Text defaults: always valid (they are values, escaped by the one literal function).
fn texts(payload: &str) -> Vec<String> {
    [
        "'", "''", "\\", "\\'", "\\\\'", "--", "/*", "*/", "$$", "$tag$", "😀", "\u{202e}",
        "e\u{301}", "a\nb", "a\tb", "%s", "{}", "NULL", "null", "DEFAULT", "now()", ";", "\"", "`",
        "'); ", "E'\\x41'",
    ]
    .iter()
    .map(|t| t.to_string())
    .chain([
        format!("'; {payload}; --"),
        format!("\\'; {payload}; --"),
        format!("$$; {payload}; $$"),
        format!("`; {payload}; --"),
    ])
    .collect()
}

/// Expressions over column `v` (an integer): `(text, invalid)`.
fn expressions(payload: &str) -> Vec<(String, bool)> {
    let valid = [
        "v > 0",
        "v IN (1, 2, 3)",
        "\"v\" >= 0",
        "length('a;b--c/*d') > 0",
        "v <> length($$;$$)",
        "v - -1 > 0",
        "(v > 0) AND (v < 100)",
    ];
    let invalid = vec![
        format!("v > 0); {payload}; --"),
        format!("v > 0; {payload}"),
        "v > 0 -- the rest is hidden".to_string(),
        "v /* unterminated".to_string(),
        "(v > 0".to_string(),
        "v > 0)".to_string(),
        "'unterminated".to_string(),
        format!("v > length('a\\'); {payload}; --')"),
        "v > 0 # mysql comment".to_string(),
        "$$never closed".to_string(),
    ];
    valid
        .iter()
        .map(|e| (e.to_string(), false))
        .chain(invalid.into_iter().map(|e| (e, true)))
        .collect()
}

fn base(table: &str, column: &str) -> Table {
    let mut t = Table::new(QualifiedName::new(table));
    let mut id = Column::new("id", ColumnType::BigInt);
    id.nullable = false;
    t.columns.push(id);
    let mut v = Column::new(column, ColumnType::Integer);
    v.nullable = true;
    t.columns.push(v);
    t.primary_key = Some(PrimaryKey { name: "hostile_pkey".into(), columns: vec!["id".into()] });
    t
}

fn schema(table: Table) -> Schema {
    let mut schema = Schema::default();
    schema.tables.push(table);
    schema.canonicalize();
    schema
}

/// Every case, in a fixed order.
pub fn cases(payload: &str) -> Vec<Case> {
    let mut cases = Vec::new();
    for (name, invalid) in names(payload) {
        let mut as_table = base(&name, "v");
        as_table.primary_key =
            Some(PrimaryKey { name: "hostile_t_pkey".into(), columns: vec!["id".into()] });
        cases.push(Case {
            label: format!("table name {name:?}"),
            schema: schema(as_table),
            must_refuse: invalid,
        });
        cases.push(Case {
            label: format!("column name {name:?}"),
            schema: schema(base("hostile", &name)),
            must_refuse: invalid,
        });
        let mut indexed = base("hostile", "v");
        indexed.indexes.push(Index {
            name: name.clone(),
            parts: vec![IndexPart::Column("v".into())],
            ..Index::default()
        });
        cases.push(Case {
            label: format!("index name {name:?}"),
            schema: schema(indexed),
            must_refuse: invalid,
        });
    }
    let mut reserved_table = base(RESERVED, "v");
    reserved_table.primary_key =
        Some(PrimaryKey { name: "hostile_r_pkey".into(), columns: vec!["id".into()] });
    cases.push(Case {
        label: format!("table name {RESERVED:?}"),
        schema: schema(reserved_table),
        must_refuse: true,
    });
    cases.push(Case {
        label: format!("column name {RESERVED:?}"),
        schema: schema(base("hostile", RESERVED)),
        must_refuse: true,
    });
    for text in texts(payload) {
        let mut t = base("hostile", "v");
        let mut column = Column::new("note", ColumnType::Text);
        column.nullable = true;
        column.default = Some(DefaultExpr::Literal(Literal::Text(text.clone())));
        t.columns.push(column);
        cases.push(Case {
            label: format!("text default {text:?}"),
            schema: schema(t),
            must_refuse: false,
        });
    }
    for (expression, invalid) in expressions(payload) {
        let mut checked = base("hostile", "v");
        checked.checks.push(CheckConstraint {
            name: "hostile_check".into(),
            expression: expression.clone(),
            not_valid: false,
            no_inherit: false,
        });
        cases.push(Case {
            label: format!("check {expression:?}"),
            schema: schema(checked),
            must_refuse: invalid,
        });
        let mut partial = base("hostile", "v");
        partial.indexes.push(Index {
            name: "hostile_partial_idx".into(),
            parts: vec![IndexPart::Column("v".into())],
            predicate: Some(expression.clone()),
            ..Index::default()
        });
        cases.push(Case {
            label: format!("predicate {expression:?}"),
            schema: schema(partial),
            must_refuse: invalid,
        });
        let mut defaulted = base("hostile", "v");
        let mut column = Column::new("w", ColumnType::Bool);
        column.nullable = true;
        column.default = Some(DefaultExpr::Sql(expression.clone()));
        defaulted.columns.push(column);
        cases.push(Case {
            label: format!("default_sql {expression:?}"),
            schema: schema(defaulted),
            must_refuse: invalid,
        });
    }
    // `$$` is a string to PostgreSQL, a name to MySQL and a parameter to SQLite: a `;`
    // between two `$$` must not end the statement on any of them.
    let mut dollar = base("hostile", "v");
    let mut column = Column::new("$$", ColumnType::Integer);
    column.nullable = true;
    dollar.columns.push(column);
    dollar.checks.push(CheckConstraint {
        name: "hostile_check".into(),
        expression: format!("v > 0 OR $$)); {payload}; -- $$ = 'x'"),
        not_valid: false,
        no_inherit: false,
    });
    cases.push(Case {
        label: "check with a `;` between two `$$` and a column named `$$`".into(),
        schema: schema(dollar),
        must_refuse: false,
    });
    cases
}

/// What one case's task returned: `(kind, detail)`, kind being `refused` (by the
/// planner), `server`, `applied` (converged, rolled back, schema as before), `not
/// converged` or `not reversed`; an inner `Err` is the harness's.
pub type Outcome = Result<Result<(&'static str, String), String>, tokio::task::JoinError>;

/// What the suite counts.
#[derive(Debug, Default)]
pub struct Tally {
    pub cases: usize,
    pub applied: usize,
    /// Refused by the planner with an error naming the object.
    pub refused_clearly: usize,
    /// Refused by the server for what the input is (a value the type cannot take, say):
    /// the migration failed, nothing changed. A syntax error is never counted here: it
    /// is our SQL that is wrong (see [`server_refusal`]).
    pub refused_by_server: usize,
    /// The server's refusals by code (SQLSTATE, MySQL error number, SQLite result code).
    pub server_codes: std::collections::BTreeMap<String, usize>,
    pub injections: usize,
    pub panics: usize,
    /// Must-refuse cases that were not refused by the planner.
    pub missed: Vec<String>,
    /// Applied cases whose re-plan was not empty, or whose rollback failed or left the
    /// schema different from before.
    pub not_converged: Vec<String>,
}

impl Tally {
    /// Counts one case (a panic is counted; an error of the harness fails the test).
    pub fn count(&mut self, case: &Case, outcome: Outcome) {
        match outcome {
            Err(join) if join.is_panic() => self.panics += 1,
            Err(join) => panic!("{}: {join}", case.label),
            Ok(Err(error)) => panic!("{}: {error}", case.label),
            Ok(Ok((kind, detail))) => {
                match kind {
                    "refused" => {
                        self.refused_clearly += 1;
                        assert!(!detail.is_empty(), "{}: an empty error", case.label);
                    }
                    "server" => {
                        self.refused_by_server += 1;
                        let code = detail.split(':').next().unwrap_or_default().to_owned();
                        *self.server_codes.entry(code).or_default() += 1;
                    }
                    "applied" => self.applied += 1,
                    _ => self.not_converged.push(format!("{} ({kind}): {detail}", case.label)),
                }
                if case.must_refuse && kind != "refused" {
                    self.missed.push(format!("{} → {kind}: {detail}", case.label));
                }
            }
        }
    }
}

/// Prints the figure (a soak run also writes `target/reliability-hostile-<db>.json`), and fails
/// the test unless every rule held.
pub fn report(database: &str, tally: &Tally) {
    let figure = serde_json::json!({
        "database": database,
        "cases": tally.cases,
        "applied_converged_and_rolled_back": tally.applied,
        "refused_by_the_planner": tally.refused_clearly,
        "refused_by_the_server": tally.refused_by_server,
        "server_codes": tally.server_codes,
        "injections": tally.injections,
        "panics": tally.panics,
    });
    let (title, file) = (format!("hostile input ({database})"), format!("hostile-{database}"));
    super::soak::publish(&title, &file, &figure);
    assert!(tally.cases >= 200, "the corpus has {} cases", tally.cases);
    assert_eq!((tally.injections, tally.panics), (0, 0));
    assert!(tally.missed.is_empty(), "not refused by the planner: {:#?}", tally.missed);
    assert!(tally.not_converged.is_empty(), "{:#?}", tally.not_converged);
}

/// How a failed apply of a case is counted: `("server", "<code>: <message>")` when the
/// server refused the input for what it is; `("syntax", …)` when the server could not parse
/// a statement we wrote — a quoting or rendering bug, never a refusal; `("failed", …)` when
/// no server error is in the chain (the harness or the engine failed).
pub fn server_refusal(error: &(dyn std::error::Error + 'static)) -> (&'static str, String) {
    let mut next = Some(error);
    while let Some(error) = next {
        if let Some(sqlx::Error::Database(db)) = error.downcast_ref::<sqlx::Error>() {
            let code = db
                .try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>()
                .map(|mysql| mysql.number().to_string())
                .or_else(|| db.code().map(|c| c.into_owned()))
                .unwrap_or_default();
            let message = db.message().to_owned();
            // PostgreSQL's syntax_error; MySQL's parse error; SQLite says it in words.
            let syntax = matches!(code.as_str(), "42601" | "1064" | "1149")
                || message.contains("syntax error")
                || message.contains("unrecognized token");
            return (if syntax { "syntax" } else { "server" }, format!("{code}: {message}"));
        }
        next = error.source();
    }
    ("failed", dataflow_core::error::report(error))
}
