//! Suite 4 of the reliability issue, shared by the PostgreSQL and SQLite suites: random
//! sequences of 3–5 model versions of a table `t` (six columns that come and go, change
//! type within their family, default, nullability, index (plain or partial), unique key
//! (index or constraint), check, foreign key (`NO ACTION` or `CASCADE`) and comment, and
//! are renamed with a hint; the table is renamed with a hint, changes its primary key
//! between `id`, `seq` and `(id, seq)`, gains and loses the identity on `id`, its comment,
//! an index on two columns and a stored generated column (PostgreSQL); the enum type
//! `mood` gains, loses and reorders values and column 5 moves between `mood` and `text`;
//! a second table `u` comes and goes, dropped as an orphan into the trash), with rows
//! inserted between versions. Every
//! step is applied through `auto_migrate`, must converge, keep the rows, roll back to the
//! previous version with the rows intact, and apply again. A fixed-seed slice of 32 cases runs in the tests; `DATAFLOW_SOAK=1` runs
//! 1,000.
//!
//! The generator keeps every version applicable to the data it inserts: integers are in
//! 1..=50 and distinct per row (so checks `> 0`, unique keys and the foreign key to
//! `parent(1..=50)` hold), texts are short and distinct, a column's nullability is fixed
//! for its life unless a version makes it NOT NULL (`strict`; it then gets a default
//! that fills its NULLs — values a rollback keeps, by design, so that column is left out
//! of that step's row comparisons), and a unique key only goes on a column that is
//! nullable in every version.

use dataflow::{
    CheckConstraint, Column, ColumnType, DefaultExpr, EnumType, FkAction, ForeignKey, Identity,
    Index, IndexPart, Literal, ModelDef, PrimaryKey, QualifiedName, Table, UniqueConstraint,
};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed, TestCaseError, TestRunner};

pub const COLUMNS: usize = 6;

/// The values of the enum type `mood` per `Version::mood`: appended, inserted,
/// reordered and removed values. Every list holds `a` and `b`, the values rows get.
const MOODS: [&[&str]; 4] = [&["a", "b"], &["a", "b", "c"], &["a", "c", "b"], &["b", "a"]];

/// What a column holds: columns 0, 2, 4 integers, 1 and 3 texts, 5 the enum `mood` or
/// text.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Family {
    Int,
    Text,
    Mood,
}

fn family(k: usize) -> Family {
    match k {
        5 => Family::Mood,
        k if k % 2 == 0 => Family::Int,
        _ => Family::Text,
    }
}

/// One column in one version.
#[derive(Debug, Clone, PartialEq)]
pub struct Col {
    /// Within the column's family: integer (0 int, 1 bigint), text (0 varchar(20),
    /// 1 varchar(40), 2 text) or mood (0 the enum, 1 text).
    pub variant: u8,
    pub default: Option<u8>,
    pub indexed: bool,
    pub unique: bool,
    pub checked: bool,
    pub references: bool,
    pub comment: Option<u8>,
    /// The unique key is a constraint rather than a unique index.
    pub unique_constraint: bool,
    /// The index is partial (`WHERE column IS NOT NULL`).
    pub partial: bool,
    /// The foreign key deletes with its parent row (`ON DELETE CASCADE`).
    pub cascade: bool,
}

impl Col {
    /// A column of `variant` with a default and nothing else.
    pub fn plain(variant: u8) -> Col {
        Col {
            variant,
            default: Some(7),
            indexed: false,
            unique: false,
            checked: false,
            references: false,
            comment: None,
            unique_constraint: false,
            partial: false,
            cascade: false,
        }
    }
}

/// One version: each of the six columns present or not (nullability is per case), the
/// generation of each name (a different generation from the previous version is a
/// rename with a hint), and the table's own properties.
#[derive(Debug, Clone, PartialEq)]
pub struct Version {
    pub cols: Vec<Option<Col>>,
    pub names: Vec<u8>,
    pub table: u8,
    /// Per column: made NOT NULL in this version (a column the case makes nullable).
    pub strict: Vec<bool>,
    /// The values of `mood`: an index into `MOODS`.
    pub mood: u8,
    /// The primary key: 0 `(id)`, 1 `(seq)`, 2 `(id, seq)`.
    pub key: u8,
    /// `id` is an identity column (only while it is the primary key: SQLite can
    /// auto-increment nothing else).
    pub identity: bool,
    pub comment: Option<u8>,
    /// A second table `u` is there (it comes and goes with its rows).
    pub other_table: bool,
    /// An index on `(seq, id)`.
    pub pair_index: bool,
    /// A stored generated column `g = seq * n`.
    pub generated: Option<u8>,
}

impl Version {
    /// A version with `cols` (padded with absent columns), their name generations, the
    /// table's name generation, and everything else as in the first version of a table.
    pub fn new(mut cols: Vec<Option<Col>>, mut names: Vec<u8>, table: u8) -> Version {
        cols.resize(COLUMNS, None);
        names.resize(COLUMNS, 0);
        Version {
            cols,
            names,
            table,
            strict: vec![false; COLUMNS],
            mood: 0,
            key: 0,
            identity: true,
            comment: None,
            other_table: false,
            pair_index: false,
            generated: None,
        }
    }
}

/// A case: the nullability of each column (fixed) and the versions.
#[derive(Debug, Clone)]
pub struct Case {
    pub nullable: Vec<bool>,
    pub versions: Vec<Version>,
}

impl Case {
    /// A case whose columns have the given nullability (padded with NOT NULL).
    pub fn new(mut nullable: Vec<bool>, versions: Vec<Version>) -> Case {
        nullable.resize(COLUMNS, false);
        Case { nullable, versions }
    }
}

fn col(k: usize, nullable: bool) -> impl Strategy<Value = Col> {
    let variants = match family(k) {
        Family::Int | Family::Mood => 2,
        Family::Text => 3,
    };
    let properties = (any::<bool>(), any::<bool>(), any::<bool>(), any::<bool>());
    let forms = (any::<bool>(), prop::bool::weighted(0.3), any::<bool>());
    (0..variants, proptest::option::of(1u8..=50), properties, proptest::option::of(0u8..3), forms)
        .prop_map(
            move |(variant, default, (indexed, unique, checked, references), comment, forms)| {
                let (unique_constraint, partial, cascade) = forms;
                // Only NOT NULL columns have defaults (their rows are filled on add); a
                // nullable column's old rows are NULL, so a later unique key always holds.
                let default = if nullable { None } else { Some(default.unwrap_or(7)) };
                Col {
                    variant: variant as u8,
                    default,
                    indexed,
                    // Moods repeat: no unique key on them.
                    unique: unique && nullable && default.is_none() && family(k) != Family::Mood,
                    checked: checked && family(k) == Family::Int,
                    references: references && k == 4,
                    comment,
                    unique_constraint,
                    partial,
                    cascade,
                }
            },
        )
}

fn version(nullable: Vec<bool>) -> impl Strategy<Value = Version> {
    let cols: Vec<_> = (0..COLUMNS)
        .map(|k| proptest::option::weighted(0.7, col(k, nullable[k])).boxed())
        .collect();
    let strict = prop::collection::vec(prop::bool::weighted(0.25), COLUMNS);
    let table = (
        0u8..MOODS.len() as u8,
        0u8..3,
        prop::bool::weighted(0.7),
        proptest::option::of(0u8..3),
        any::<bool>(),
        any::<bool>(),
        proptest::option::of(2u8..4),
    );
    (cols, prop::collection::vec(0u8..2, COLUMNS), 0u8..2, strict, table).prop_map(
        |(
            cols,
            names,
            table,
            strict,
            (mood, key, identity, comment, other_table, pair_index, generated),
        )| {
            Version {
                cols,
                names,
                table,
                strict,
                mood,
                key,
                identity,
                comment,
                other_table,
                pair_index,
                generated,
            }
        },
    )
}

pub fn case() -> impl Strategy<Value = Case> {
    prop::collection::vec(any::<bool>(), COLUMNS).prop_flat_map(|nullable| {
        prop::collection::vec(version(nullable.clone()), 3..=5)
            .prop_map(move |versions| Case { nullable: nullable.clone(), versions })
    })
}

/// Whether column `k` is nullable in `v`.
pub fn nullable_in(case: &Case, v: &Version, k: usize) -> bool {
    case.nullable[k] && !v.strict[k]
}

/// Column `k`'s name in `v`.
pub fn column_name(v: &Version, k: usize) -> String {
    match v.names[k] {
        0 => format!("c{k}"),
        n => format!("c{k}_r{n}"),
    }
}

/// The table's name in `v`.
pub fn table_name(v: &Version) -> String {
    match v.table {
        0 => "t".into(),
        n => format!("t_r{n}"),
    }
}

/// The models of version `v`, with rename hints from `prev` (the version before it).
pub fn models(case: &Case, v: &Version, prev: Option<&Version>) -> Vec<ModelDef> {
    let mut parent = Table::new(QualifiedName::new("parent"));
    parent.columns.push(Column::new("id", ColumnType::BigInt));
    parent.primary_key =
        Some(PrimaryKey { name: "parent_pkey".into(), columns: vec!["id".into()] });
    let mut t = Table::new(QualifiedName::new(table_name(v)));
    if let Some(prev) = prev.filter(|p| table_name(p) != table_name(v)) {
        t.renamed_from.push(QualifiedName::new(table_name(prev)));
    }
    t.comment = v.comment.map(|n| format!("table note {n}: it's"));
    let mut id = Column::new("id", ColumnType::BigInt);
    if v.identity && v.key == 0 {
        id.identity = Some(Identity::ByDefault);
    }
    t.columns.push(id);
    t.columns.push(Column::new("seq", ColumnType::BigInt));
    let key = match v.key {
        0 => vec!["id".into()],
        1 => vec!["seq".into()],
        _ => vec!["id".into(), "seq".into()],
    };
    t.primary_key = Some(PrimaryKey { name: "t_pkey".into(), columns: key });
    for (k, spec) in v.cols.iter().enumerate() {
        let Some(spec) = spec else { continue };
        let name = column_name(v, k);
        let mut column = Column::new(name.clone(), column_type(k, spec.variant));
        column.nullable = nullable_in(case, v, k);
        if let Some(prev) = prev.filter(|p| p.cols[k].is_some() && column_name(p, k) != name) {
            column.renamed_from.push(column_name(prev, k));
        }
        column.default = spec.default.map(|d| default(k, d));
        if !column.nullable && column.default.is_none() {
            column.default = Some(default(k, 7));
        }
        column.comment = spec.comment.map(|n| format!("column note {n}: it's"));
        t.columns.push(column);
        if spec.indexed {
            t.indexes.push(Index {
                name: format!("t_{name}_idx"),
                parts: vec![IndexPart::Column(name.clone())],
                predicate: spec.partial.then(|| format!("{name} IS NOT NULL")),
                ..Index::default()
            });
        }
        let unique = spec.unique && case.versions.iter().all(|other| nullable_in(case, other, k));
        if unique && spec.unique_constraint {
            t.uniques.push(UniqueConstraint {
                name: format!("t_{name}_key"),
                columns: vec![name.clone()],
                ..UniqueConstraint::default()
            });
        } else if unique {
            t.indexes.push(Index {
                name: format!("t_{name}_key"),
                parts: vec![IndexPart::Column(name.clone())],
                unique: true,
                ..Index::default()
            });
        }
        if spec.checked {
            t.checks.push(CheckConstraint {
                name: format!("t_{name}_check"),
                expression: format!("{name} > 0"),
                not_valid: false,
                no_inherit: false,
            });
        }
        if spec.references {
            t.foreign_keys.push(ForeignKey {
                name: format!("t_{name}_fkey"),
                columns: vec![name.clone()],
                ref_table: QualifiedName::new("parent"),
                ref_columns: vec!["id".into()],
                on_delete: if spec.cascade { FkAction::Cascade } else { FkAction::NoAction },
                on_update: FkAction::NoAction,
                ..ForeignKey::default()
            });
        }
    }
    if let Some(n) = v.generated {
        let mut g = Column::new("g", ColumnType::BigInt);
        g.nullable = true;
        g.generated = Some(format!("seq * {n}"));
        t.columns.push(g);
    }
    if v.pair_index {
        t.indexes.push(Index {
            name: "t_seq_id_idx".into(),
            parts: vec![IndexPart::Column("seq".into()), IndexPart::Column("id".into())],
            ..Index::default()
        });
    }
    let mood = EnumType {
        name: QualifiedName::new("mood"),
        values: MOODS[usize::from(v.mood)].iter().map(|s| s.to_string()).collect(),
    };
    let mut models = vec![ModelDef::new(parent, Vec::new()), ModelDef::new(t, vec![mood])];
    if v.other_table {
        let mut u = Table::new(QualifiedName::new("u"));
        u.columns.push(Column::new("id", ColumnType::BigInt));
        let mut note = Column::new("note", ColumnType::Text);
        note.nullable = true;
        u.columns.push(note);
        u.primary_key = Some(PrimaryKey { name: "u_pkey".into(), columns: vec!["id".into()] });
        models.push(ModelDef::new(u, Vec::new()));
    }
    models
}

/// `INSERT` of rows `first..first + n` into `u`, if `v` has it.
pub fn insert_other(v: &Version, first: i64, n: i64) -> Option<String> {
    let rows: Vec<String> = (first..first + n).map(|id| format!("({id}, 'u{id}')")).collect();
    v.other_table.then(|| format!("INSERT INTO u (id, note) VALUES {}", rows.join(", ")))
}

/// The rows of `u`.
fn probe_other(mysql: bool) -> String {
    select_as_text(&["id".to_owned(), "note".to_owned()], "u", mysql)
}

fn column_type(k: usize, variant: u8) -> ColumnType {
    match (family(k), variant) {
        (Family::Int, 0) => ColumnType::Integer,
        (Family::Int, _) => ColumnType::BigInt,
        (Family::Text, 0) => ColumnType::Varchar(20),
        (Family::Text, 1) => ColumnType::Varchar(40),
        (Family::Text, _) | (Family::Mood, 1) => ColumnType::Text,
        (Family::Mood, _) => ColumnType::Enum(QualifiedName::new("mood")),
    }
}

/// Column `k`'s default for the generated number `d`.
fn default(k: usize, d: u8) -> DefaultExpr {
    DefaultExpr::Literal(match family(k) {
        Family::Int => Literal::Number(d.to_string()),
        Family::Text => Literal::Text(format!("d{d}")),
        Family::Mood => Literal::Text(["a", "b"][usize::from(d % 2)].into()),
    })
}

/// `INSERT` of rows `first..first + n` into the table for the columns `v` has.
pub fn insert(v: &Version, first: i64, n: i64) -> String {
    let mut names = vec!["id".to_owned(), "seq".to_owned()];
    names.extend(present(v).iter().map(|k| column_name(v, *k)));
    let rows: Vec<String> = (first..first + n)
        .map(|id| {
            let mut values = vec![id.to_string(), (id * 10).to_string()];
            for k in present(v) {
                values.push(match family(k) {
                    Family::Int => ((id * 7 + k as i64) % 50 + 1).to_string(),
                    Family::Text => format!("'r{id}k{k}'"),
                    Family::Mood => format!("'{}'", ["a", "b"][(id % 2) as usize]),
                });
            }
            format!("({})", values.join(", "))
        })
        .collect();
    format!("INSERT INTO {} ({}) VALUES {}", table_name(v), names.join(", "), rows.join(", "))
}

/// A query over columns `ks` of `v` (by their names in `v`), each as text, in id order:
/// one `a|b|c` text per row (on MySQL the columns, which its `rows` joins that way).
pub fn probe(v: &Version, ks: &[usize], mysql: bool) -> String {
    let mut columns = vec!["id".to_owned()];
    columns.extend(ks.iter().map(|k| column_name(v, *k)));
    select_as_text(&columns, &table_name(v), mysql)
}

fn select_as_text(columns: &[String], table: &str, mysql: bool) -> String {
    let text = if mysql { "CHAR" } else { "TEXT" };
    let columns: Vec<String> =
        columns.iter().map(|c| format!("COALESCE(CAST({c} AS {text}), '∅')")).collect();
    let list = if mysql { columns.join(", ") } else { columns.join(" || '|' || ") };
    format!("SELECT {list} FROM {table} ORDER BY id")
}

/// Whether column `k` of `variant` is unbounded text (`longtext` on MySQL, which cannot
/// be in a key without a prefix length).
pub fn unbounded_text(k: usize, variant: u8) -> bool {
    matches!((family(k), variant), (Family::Text, 2) | (Family::Mood, 1))
}

/// The columns `v` has.
fn present(v: &Version) -> Vec<usize> {
    (0..COLUMNS).filter(|k| v.cols[*k].is_some()).collect()
}

/// `fast` cases, or 1,000 with `DATAFLOW_SOAK=1` (`DATAFLOW_CASES` to set another
/// count); fixed seed (`DATAFLOW_SEED` to vary).
pub fn runner(fast: u32) -> TestRunner {
    let soak = std::env::var("DATAFLOW_SOAK").is_ok_and(|v| v == "1");
    let soak_cases = std::env::var("DATAFLOW_CASES").ok().and_then(|n| n.parse().ok());
    let seed =
        std::env::var("DATAFLOW_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(0x0000_e701_u64);
    TestRunner::new(Config {
        cases: if soak { soak_cases.unwrap_or(1000) } else { fast },
        rng_seed: RngSeed::Fixed(seed),
        failure_persistence: None,
        max_shrink_iters: 200,
        ..Config::default()
    })
}

/// `Err` for a failed expectation, for the runner to shrink.
pub fn ensure(ok: bool, what: impl FnOnce() -> String) -> Result<(), TestCaseError> {
    if ok {
        Ok(())
    } else {
        Err(TestCaseError::fail(what()))
    }
}

/// What a suite needs from its database.
pub trait Db: Sync {
    fn url(&self) -> String;
    fn exec<'a>(
        &'a self,
        sql: &'a str,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send + 'a>>;
    fn rows<'a>(
        &'a self,
        sql: &'a str,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Vec<String>> + Send + 'a>>;
    /// The database speaks MySQL (`CAST(… AS CHAR)`, no `||`).
    fn mysql(&self) -> bool {
        false
    }
}

/// A database the suite can create for a case and drop after it.
pub trait FreshDb: Db + Sized {
    fn fresh(label: &str) -> impl std::future::Future<Output = Self>;
    fn dispose(self) -> impl std::future::Future<Output = ()>;
}

/// Runs the suite on `database`: `strategy`'s cases (`fast` of them, or the soak's), each
/// on a fresh database; prints and writes the figure, and panics with the minimal failing
/// case if one fails.
pub fn run_suite<D: FreshDb>(
    runtime: &tokio::runtime::Runtime,
    database: &str,
    fast: u32,
    strategy: impl Strategy<Value = Case>,
) {
    let mut runner = runner(fast);
    let cases = runner.config().cases;
    let counts = std::sync::Mutex::new(Counts::default());
    let result = runner.run(&strategy, |case| {
        runtime.block_on(async {
            let db = D::fresh("evolve").await;
            let mut local = Counts::default();
            let outcome = run_case(&db, &case, &mut local).await;
            if outcome.is_ok() {
                counts.lock().expect("counts").merge(local);
            }
            // Shrinking runs hundreds of cases: none is kept (the minimal one is printed).
            db.dispose().await;
            outcome
        })
    });
    report(database, cases, &counts.into_inner().expect("counts"));
    if let Err(error) = result {
        panic!("{error}");
    }
}

/// Counts of one run of the suite.
#[derive(Debug, Default)]
pub struct Counts {
    pub steps_applied: usize,
    pub rollbacks: usize,
    /// Each change kind the applied plans had, and how often.
    pub kinds: std::collections::BTreeMap<&'static str, usize>,
}

impl Counts {
    /// Adds `other`'s counts.
    pub fn merge(&mut self, other: Counts) {
        self.steps_applied += other.steps_applied;
        self.rollbacks += other.rollbacks;
        for (kind, n) in other.kinds {
            *self.kinds.entry(kind).or_default() += n;
        }
    }
}

fn options() -> dataflow::MigrateOptions {
    dataflow::MigrateOptions::default()
        .with_mode(dataflow::Mode::AutoConfirm)
        .with_max_risk(dataflow::RiskLevel::High)
        .with_force(true)
        // `u` leaves the models in some versions: it is dropped (into the trash).
        .with_drop_orphans(true)
}

async fn flow(
    db: &dyn Db,
    case: &Case,
    v: &Version,
    prev: Option<&Version>,
) -> Result<dataflow::DataFlow, TestCaseError> {
    let flow = dataflow::DataFlow::connect(&db.url())
        .await
        .map_err(|e| TestCaseError::fail(e.to_string()))?;
    Ok(flow.models(models(case, v, prev)))
}

async fn converged(
    db: &dyn Db,
    case: &Case,
    v: &Version,
    prev: Option<&Version>,
    when: &str,
) -> Result<(), TestCaseError> {
    let plan = flow(db, case, v, prev)
        .await?
        .plan()
        .await
        .map_err(|e| TestCaseError::fail(e.to_string()))?;
    ensure(plan.is_empty(), || format!("not converged {when}:\n{plan}"))
}

/// Runs one case on a fresh database.
pub async fn run_case(db: &dyn Db, case: &Case, counts: &mut Counts) -> Result<(), TestCaseError> {
    let fail = |e: dataflow::Error| TestCaseError::fail(e.to_string());
    let first = &case.versions[0];
    // The first version too goes apply → converge → rollback → as before → apply again.
    let created = flow(db, case, first, None).await?.auto_migrate(options()).await.map_err(fail)?;
    converged(db, case, first, None, "after creating the first version").await?;
    if let Some(version) = created.version.filter(|_| created.applied) {
        let first_flow = flow(db, case, first, None).await?;
        first_flow.rollback_migration(&version).await.map_err(fail)?;
        counts.rollbacks += 1;
        let again = first_flow.plan().await.map_err(fail)?;
        ensure(again.from_checksum == created.plan.from_checksum, || {
            format!("the rollback of the first version left a schema behind:\n{again}")
        })?;
        first_flow.auto_migrate(options()).await.map_err(fail)?;
        converged(db, case, first, None, "after creating the first version again").await?;
    }
    let parents: Vec<String> = (1..=50).map(|i| format!("({i})")).collect();
    db.exec(&format!("INSERT INTO parent (id) VALUES {}", parents.join(", "))).await;
    db.exec(&insert(first, 1, 3)).await;
    if let Some(sql) = insert_other(first, 1, 2) {
        db.exec(&sql).await;
    }
    let mut next_id = 4;
    for (i, pair) in case.versions.windows(2).enumerate() {
        let (prev, next) = (&pair[0], &pair[1]);
        let before_prev = i.checked_sub(1).map(|j| &case.versions[j]);
        // A column the step makes NOT NULL gets its NULLs filled, and they stay filled
        // after a rollback (by design): it is left out of this step's comparisons.
        let filled = |k: usize| {
            next.cols[k].is_some() && nullable_in(case, prev, k) && !nullable_in(case, next, k)
        };
        let kept: Vec<usize> = present(prev).into_iter().filter(|k| !filled(*k)).collect();
        let before = db.rows(&probe(prev, &kept, db.mysql())).await;
        let shared: Vec<usize> = kept.iter().copied().filter(|k| next.cols[*k].is_some()).collect();
        let shared_before = db.rows(&probe(prev, &shared, db.mysql())).await;
        let other_before =
            if prev.other_table { db.rows(&probe_other(db.mysql())).await } else { Vec::new() };
        let report =
            flow(db, case, next, Some(prev)).await?.auto_migrate(options()).await.map_err(fail)?;
        converged(db, case, next, Some(prev), "after the step").await?;
        let shared_after = db.rows(&probe(next, &shared, db.mysql())).await;
        ensure(shared_after == shared_before, || {
            format!("the step changed rows: {shared_before:?} → {shared_after:?}\n{}", report.plan)
        })?;
        if prev.other_table && next.other_table {
            let other_after = db.rows(&probe_other(db.mysql())).await;
            ensure(other_after == other_before, || {
                format!("the step changed u: {other_before:?} → {other_after:?}\n{}", report.plan)
            })?;
        }
        if let Some(version) = report.version.filter(|_| report.applied) {
            counts.steps_applied += 1;
            for step in &report.plan.steps {
                *counts.kinds.entry(step.operation.label()).or_default() += 1;
            }
            flow(db, case, next, Some(prev))
                .await?
                .rollback_migration(&version)
                .await
                .map_err(fail)?;
            counts.rollbacks += 1;
            converged(db, case, prev, before_prev, "after the rollback").await?;
            let after = db.rows(&probe(prev, &kept, db.mysql())).await;
            ensure(after == before, || {
                format!("the rollback lost rows: {before:?} → {after:?}\n{}", report.plan)
            })?;
            if prev.other_table {
                let other_after = db.rows(&probe_other(db.mysql())).await;
                ensure(other_after == other_before, || {
                    format!(
                        "the rollback lost u: {other_before:?} → {other_after:?}\n{}",
                        report.plan
                    )
                })?;
            }
            flow(db, case, next, Some(prev)).await?.auto_migrate(options()).await.map_err(fail)?;
            converged(db, case, next, Some(prev), "after applying again").await?;
        }
        db.exec(&insert(next, next_id, 3)).await;
        if let Some(sql) = insert_other(next, next_id, 2) {
            db.exec(&sql).await;
        }
        next_id += 3;
    }
    Ok(())
}

/// Prints the figure (a soak run also writes `target/reliability-evolutions-<database>.json`).
pub fn report(database: &str, cases: u32, counts: &Counts) {
    let json = serde_json::json!({
        "database": database,
        "cases": cases,
        "steps_applied": counts.steps_applied,
        "rollbacks_with_rows_checked": counts.rollbacks,
        "change_kinds": counts.kinds,
    });
    let (title, file) =
        (format!("random evolutions ({database})"), format!("evolutions-{database}"));
    super::soak::publish(&title, &file, &json);
}
