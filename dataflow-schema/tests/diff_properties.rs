//! Properties of the differ, checked on random schema pairs (no database):
//! `apply(a, diff(a, b))` has the shape of `b`, `diff(b, b)` is empty, and every change
//! of a random diff renders and rates without panicking.
//!
//! Pairs share name pools so tables, columns and constraints overlap; `b` carries
//! `renamed_from` hints pointing at names only `a` has, so renames are exercised.
//! The seed is fixed: CI runs the same cases every time (`PROPTEST_CASES` raises the
//! count for a longer soak).

use dataflow_schema::{
    apply, diff, plan_offline, CheckConstraint, Column, ColumnType, DefaultExpr, Dialect, EnumType,
    FkAction, ForeignKey, Identity, Index, IndexMethod, IndexPart, Literal, Operation, Plan,
    PlanOptions, PrimaryKey, QualifiedName, Rollback, Schema, Step, Table, UniqueConstraint,
};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed, TestRunner};

const TABLES: &[&str] = &["users", "orders", "items", "order", "tags"];
const COLUMNS: &[&str] = &["id", "a", "b", "c", "name", "select", "d"];

fn column_type() -> impl Strategy<Value = ColumnType> {
    prop_oneof![
        Just(ColumnType::SmallInt),
        Just(ColumnType::Integer),
        Just(ColumnType::BigInt),
        Just(ColumnType::Text),
        (1u32..4).prop_map(|n| ColumnType::Varchar(n * 50)),
        Just(ColumnType::Bool),
        Just(ColumnType::Jsonb),
        Just(ColumnType::Timestamp),
        Just(ColumnType::TimestampTz),
        Just(ColumnType::Numeric { precision: Some(10), scale: Some(2) }),
        Just(ColumnType::Enum(QualifiedName::new("mood"))),
    ]
}

fn default_expr() -> impl Strategy<Value = Option<DefaultExpr>> {
    prop_oneof![
        3 => Just(None),
        1 => Just(Some(DefaultExpr::Literal(Literal::Number("0".into())))),
        1 => Just(Some(DefaultExpr::Literal(Literal::Text("it's".into())))),
        1 => Just(Some(DefaultExpr::Sql("now()".into()))),
    ]
}

fn column(name: &'static str) -> impl Strategy<Value = Column> {
    (column_type(), any::<bool>(), default_expr(), prop::option::of("[a-z ]{1,8}"), 0u8..6)
        .prop_map(move |(ty, nullable, default, comment, identity_roll)| {
            let identity =
                (ty.is_integer() && !nullable && default.is_none() && identity_roll == 0)
                    .then_some(Identity::ByDefault);
            Column {
                ty,
                nullable,
                default,
                identity,
                comment,
                ..Column::new(name, ColumnType::Text)
            }
        })
}

fn subset(names: &[String], max: usize) -> impl Strategy<Value = Vec<String>> {
    let names = names.to_vec();
    prop::sample::subsequence(names.clone(), 1..=max.min(names.len()).max(1))
}

fn table(name: &'static str) -> impl Strategy<Value = Table> {
    prop::sample::subsequence(COLUMNS.to_vec(), 1..=COLUMNS.len())
        .prop_flat_map(|names| names.into_iter().map(column).collect::<Vec<_>>())
        .prop_flat_map(move |columns| {
            let names: Vec<String> = columns.iter().map(|c| c.name.clone()).collect();
            let keyed = |prefix: &'static str| {
                prop::collection::vec((0u8..3, subset(&names, 2)), 0..3).prop_map(move |items| {
                    let mut seen = Vec::new();
                    items
                        .into_iter()
                        .filter(|(n, _)| {
                            let fresh = !seen.contains(n);
                            seen.push(*n);
                            fresh
                        })
                        .map(|(n, cols)| (format!("{prefix}{n}"), cols))
                        .collect::<Vec<_>>()
                })
            };
            (
                Just(columns),
                prop::option::of(subset(&names, 2)),
                keyed("ix"),
                keyed("uq"),
                keyed("ck"),
                keyed("fk"),
                prop::sample::select(TABLES),
                any::<bool>(),
                prop::option::of("[a-z]{1,6}"),
            )
        })
        .prop_map(
            move |(columns, pk, indexes, uniques, checks, fks, target, unique_ix, comment)| Table {
                columns,
                primary_key: pk.map(|columns| PrimaryKey { name: format!("{name}_pkey"), columns }),
                indexes: indexes
                    .into_iter()
                    .map(|(n, cols)| Index {
                        name: format!("{name}_{n}"),
                        parts: cols.into_iter().map(IndexPart::Column).collect(),
                        unique: unique_ix,
                        method: IndexMethod::Btree,
                        predicate: None,
                        ..Index::default()
                    })
                    .collect(),
                uniques: uniques
                    .into_iter()
                    .map(|(n, columns)| UniqueConstraint {
                        name: format!("{name}_{n}"),
                        columns,
                        ..UniqueConstraint::default()
                    })
                    .collect(),
                checks: checks
                    .into_iter()
                    .map(|(n, cols)| CheckConstraint {
                        name: format!("{name}_{n}"),
                        expression: format!("{} IS NOT NULL", cols[0]),
                        ..CheckConstraint::default()
                    })
                    .collect(),
                foreign_keys: fks
                    .into_iter()
                    .map(|(n, columns)| ForeignKey {
                        name: format!("{name}_{n}"),
                        ref_columns: vec!["id".into(); columns.len()],
                        columns,
                        ref_table: QualifiedName::new(target),
                        on_delete: FkAction::Cascade,
                        on_update: FkAction::NoAction,
                        ..ForeignKey::default()
                    })
                    .collect(),
                comment,
                ..Table::new(QualifiedName::new(name))
            },
        )
}

fn schema() -> impl Strategy<Value = Schema> {
    (
        prop::sample::subsequence(TABLES.to_vec(), 0..=TABLES.len())
            .prop_flat_map(|names| names.into_iter().map(table).collect::<Vec<_>>()),
        prop::option::of(prop::sample::subsequence(vec!["sad", "ok", "happy", "ecstatic"], 1..=4)),
    )
        .prop_map(|(tables, mood)| {
            let mut schema = Schema {
                tables,
                enums: mood
                    .map(|values| EnumType {
                        name: QualifiedName::new("mood"),
                        values: values.into_iter().map(String::from).collect(),
                    })
                    .into_iter()
                    .collect(),
                sequences: Vec::new(),
                namespaces: Vec::new(),
            };
            referenceable_keys(&mut schema);
            schema.canonicalize();
            schema
        })
}

/// Makes every foreign key to a table of `schema` reference a key, as the planner
/// requires: one column, `id`, unique on the target (a key to a target without `id` is
/// left out). Keys to tables outside the schema stay (the server judges those).
fn referenceable_keys(schema: &mut Schema) {
    let with_id: Vec<QualifiedName> =
        schema.tables.iter().filter(|t| t.column("id").is_some()).map(|t| t.name.clone()).collect();
    let held: Vec<QualifiedName> = schema.tables.iter().map(|t| t.name.clone()).collect();
    let mut referenced = Vec::new();
    for table in &mut schema.tables {
        table
            .foreign_keys
            .retain(|fk| !held.contains(&fk.ref_table) || with_id.contains(&fk.ref_table));
        for fk in &mut table.foreign_keys {
            fk.columns.truncate(1);
            fk.ref_columns.truncate(1);
            referenced.push(fk.ref_table.clone());
        }
    }
    for table in &mut schema.tables {
        let id = ["id".to_owned()];
        let keyed = table.primary_key.as_ref().is_some_and(|pk| pk.columns == id)
            || table.uniques.iter().any(|u| u.columns == id);
        if referenced.contains(&table.name) && !keyed {
            table.uniques.push(UniqueConstraint {
                name: format!("{}_id_key", table.name.name),
                columns: id.to_vec(),
                ..UniqueConstraint::default()
            });
        }
    }
}

/// Adds `renamed_from` hints to `desired` pointing at tables and columns only `current`
/// has, as a user renaming things would.
fn with_rename_hints(current: &Schema, mut desired: Schema, picks: &[usize]) -> Schema {
    let mut pick = picks.iter().copied().cycle();
    let orphan_tables: Vec<QualifiedName> = current
        .tables
        .iter()
        .filter(|t| desired.table(&t.name).is_none())
        .map(|t| t.name.clone())
        .collect();
    let desired_names: Vec<QualifiedName> = desired.tables.iter().map(|t| t.name.clone()).collect();
    for table in &mut desired.tables {
        if current.table(&table.name).is_none()
            && !orphan_tables.is_empty()
            && pick.next().unwrap_or(0) % 2 == 0
        {
            let old = &orphan_tables[pick.next().unwrap_or(0) % orphan_tables.len()];
            if !desired_names.contains(old) {
                table.renamed_from = vec![old.clone()];
            }
        }
        let old_table = current
            .table(&table.name)
            .or_else(|| table.renamed_from.first().and_then(|old| current.table(old)));
        let Some(old_table) = old_table else { continue };
        let orphan_columns: Vec<String> = old_table
            .columns
            .iter()
            .filter(|c| table.column(&c.name).is_none())
            .map(|c| c.name.clone())
            .collect();
        for column in &mut table.columns {
            if old_table.column(&column.name).is_none()
                && !orphan_columns.is_empty()
                && pick.next().unwrap_or(0) % 2 == 0
            {
                column.renamed_from =
                    vec![orphan_columns[pick.next().unwrap_or(0) % orphan_columns.len()].clone()];
            }
        }
    }
    desired
}

/// What the database would hold: no desired-side metadata, columns in name order (the
/// differ does not compare column order).
fn shape(schema: &Schema) -> Schema {
    let mut shape = schema.clone();
    for table in &mut shape.tables {
        table.renamed_from.clear();
        table.stats = None;
        table.columns.sort_by(|a, b| a.name.cmp(&b.name));
        for column in &mut table.columns {
            column.renamed_from.clear();
            column.backfill = None;
        }
    }
    shape.canonicalize();
    shape
}

fn config() -> Config {
    Config {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(512),
        rng_seed: RngSeed::Fixed(0x0000_da7a_f10e),
        failure_persistence: None,
        ..Config::default()
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn applying_the_diff_gives_the_desired_shape(
        current in schema(),
        desired in schema(),
        picks in prop::collection::vec(0usize..16, 8),
    ) {
        let desired = with_rename_hints(&current, desired, &picks);
        let changes = diff(&current, &desired);
        let applied = apply(&current, &changes)
            .map_err(|e| TestCaseError::fail(format!("{e}\nchanges: {changes:#?}")))?;
        prop_assert_eq!(shape(&applied), shape(&desired), "changes: {:#?}", changes);
        prop_assert!(diff(&applied, &desired).is_empty(), "a second diff is not empty");
    }

    #[test]
    fn a_schema_has_no_changes_against_itself(schema in schema()) {
        prop_assert_eq!(diff(&schema, &schema), vec![]);
    }
}

/// Each dialect: every change of a random plan renders and rates — every step has SQL, a
/// step that can be undone has down SQL (one that cannot says why), the preview names
/// every step, and planning the same pair again gives the same plan. SQLite and MySQL
/// plan from what they can hold; the representable pairs are counted and must be most.
#[test]
fn every_change_renders_and_rates_on_every_dialect() {
    for dialect in [Dialect::Postgres, Dialect::Sqlite, Dialect::Mysql] {
        let planned = std::cell::Cell::new(0u32);
        let mut runner = TestRunner::new(config());
        let outcome = runner.run(&(schema(), schema()), |(current, desired)| {
            let (Some(held), Some(_)) = (held_as(dialect, &current), held_as(dialect, &desired))
            else {
                return Ok(()); // counted below: not representable here
            };
            let options = PlanOptions::default();
            let plan = plan_offline(&held, &desired, dialect, &options)
                .map_err(|e| TestCaseError::fail(format!("{dialect}: {e}")))?;
            planned.set(planned.get() + 1);
            prop_assert_eq!(plan.steps.len(), plan.changes.len());
            let preview = plan.to_string();
            for step in &plan.steps {
                prop_assert!(
                    !step.up.is_empty() || swapped_key(&plan, step),
                    "{}: step {} has no SQL:\n{}",
                    dialect,
                    step.number,
                    preview
                );
                match &step.down {
                    Rollback::Sql(down) => prop_assert!(
                        !down.is_empty()
                            || step.operation == Operation::ValidateConstraint
                            || swapped_key(&plan, step),
                        "{}: step {} has an empty down:\n{}",
                        dialect,
                        step.number,
                        preview
                    ),
                    Rollback::Irreversible { reason } => prop_assert!(!reason.is_empty()),
                }
                prop_assert!(preview.contains(&format!("Step {} ·", step.number)), "{}", preview);
            }
            let again = plan_offline(&held, &desired, dialect, &options)
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(&again.plan_checksum, &plan.plan_checksum);
            Ok(())
        });
        outcome.unwrap_or_else(|e| panic!("{dialect}: {e}"));
        enough_cases(dialect, planned.get());
    }
}

/// SQLite and MySQL: the plan (SQLite's coalesced in-place changes and table rebuilds)
/// applied to what the database holds gives the shaped target, and every step has SQL.
/// The representable pairs are counted and must be most of them.
#[test]
fn plans_reach_the_shaped_target_on_sqlite_and_mysql() {
    for dialect in [Dialect::Sqlite, Dialect::Mysql] {
        let reached = std::cell::Cell::new(0u32);
        let mut runner = TestRunner::new(config());
        let pairs = (schema(), schema(), prop::collection::vec(0usize..16, 8));
        let outcome = runner.run(&pairs, |(current, desired, picks)| {
            let desired = with_rename_hints(&current, desired, &picks);
            let (Some(held), Some(target)) =
                (held_as(dialect, &current), held_as(dialect, &desired))
            else {
                return Ok(()); // counted below: not representable here
            };
            let plan = plan_offline(&held, &desired, dialect, &PlanOptions::default())
                .map_err(|e| TestCaseError::fail(format!("{dialect}: {e}")))?;
            for step in &plan.steps {
                prop_assert!(
                    !step.up.is_empty() || swapped_key(&plan, step),
                    "step without SQL:\n{}",
                    plan
                );
            }
            let applied = apply(&held, &plan.changes)
                .map_err(|e| TestCaseError::fail(format!("{e}\n{plan}")))?;
            prop_assert_eq!(shape(&applied), shape(&target), "plan:\n{}", plan);
            reached.set(reached.get() + 1);
            Ok(())
        });
        outcome.unwrap_or_else(|e| panic!("{dialect}: {e}"));
        enough_cases(dialect, reached.get());
    }
}

/// The one step allowed no SQL, named here so it stays visible: MySQL swaps a primary key
/// for one that keeps its columns in a single statement, in the ADD step (after the plan's
/// new columns exist), and the DROP step has nothing left to run. Known defect: its preview
/// still rates the drop on its own (issue 27's note).
fn swapped_key(plan: &Plan, step: &Step) -> bool {
    plan.dialect == Dialect::Mysql
        && step.operation == Operation::DropPrimaryKey
        && plan
            .steps
            .iter()
            .any(|s| s.operation == Operation::AddPrimaryKey && s.table == step.table)
}

/// `schema` as `dialect` holds it, shaped (`None`: it cannot hold it — an error tested
/// elsewhere).
fn held_as(dialect: Dialect, schema: &Schema) -> Option<Schema> {
    match dialect.rules().shape(schema) {
        Ok(Some((held, _))) => Some(shape(&held)),
        Ok(None) => Some(schema.clone()),
        Err(_) => None,
    }
}

/// Fails unless enough of the generated cases were representable and checked — half on
/// PostgreSQL and SQLite, a tenth on MySQL (it cannot index unbounded text, which the
/// generator puts in keys and indexes, nor hold an enum without values: 65 of 512 pairs
/// with the fixed seed) — so
/// a generator that drifts into cases a dialect cannot hold fails instead of checking
/// nothing.
fn enough_cases(dialect: Dialect, checked: u32) {
    let cases = config().cases;
    let share = if dialect == Dialect::Mysql { 10 } else { 2 };
    eprintln!("{dialect}: {checked} of {cases} generated cases checked");
    assert!(
        checked * share >= cases,
        "{dialect}: only {checked} of {cases} cases were representable (at least 1/{share})"
    );
}

// Regressions found by the properties above (shrunk by hand to their essence).

fn fk(name: &str, column: &str, target: &str) -> ForeignKey {
    ForeignKey {
        name: name.into(),
        columns: vec![column.into()],
        ref_table: QualifiedName::new(target),
        ref_columns: vec!["id".into()],
        on_delete: FkAction::NoAction,
        on_update: FkAction::NoAction,
        deferrable: false,
        ..ForeignKey::default()
    }
}

fn simple_table(name: &str, columns: &[&str]) -> Table {
    Table {
        columns: columns.iter().map(|c| Column::new(*c, ColumnType::BigInt)).collect(),
        primary_key: Some(PrimaryKey { name: format!("{name}_pkey"), columns: vec!["id".into()] }),
        ..Table::new(QualifiedName::new(name))
    }
}

fn assert_applies(current: &Schema, desired: &Schema) -> Vec<dataflow_schema::Change> {
    let changes = diff(current, desired);
    let applied = apply(current, &changes).unwrap_or_else(|e| panic!("{e}\n{changes:#?}"));
    assert_eq!(shape(&applied), shape(desired), "{changes:#?}");
    changes
}

#[test]
fn foreign_key_dropped_from_a_renamed_table_is_dropped_under_the_old_name() {
    let mut accounts = simple_table("accounts", &["id", "org_id"]);
    accounts.foreign_keys.push(fk("accounts_org_id_fkey", "org_id", "orgs"));
    let current =
        Schema { tables: vec![accounts, simple_table("orgs", &["id"])], ..Schema::default() };
    let mut users = simple_table("users", &["id", "org_id"]);
    users.renamed_from = vec![QualifiedName::new("accounts")];
    users.primary_key =
        Some(PrimaryKey { name: "accounts_pkey".into(), columns: vec!["id".into()] });
    let desired =
        Schema { tables: vec![simple_table("orgs", &["id"]), users], ..Schema::default() };
    let changes = assert_applies(&current, &desired);
    assert!(
        matches!(&changes[0], dataflow_schema::Change::DropForeignKey { table, .. } if table.name == "accounts")
    );
}

#[test]
fn foreign_key_renamed_while_its_target_key_is_rebuilt_is_re_added_under_the_new_name() {
    let mut orders = simple_table("orders", &["id", "uid"]);
    orders.foreign_keys.push(fk("orders_fk0", "uid", "users"));
    let current = Schema {
        tables: vec![orders.clone(), simple_table("users", &["id", "x"])],
        ..Schema::default()
    };
    orders.foreign_keys[0].name = "orders_fk1".into();
    let mut users = simple_table("users", &["id", "x"]);
    users.primary_key =
        Some(PrimaryKey { name: "users_pkey".into(), columns: vec!["id".into(), "x".into()] });
    let desired = Schema { tables: vec![orders, users], ..Schema::default() };
    assert_applies(&current, &desired);
}
