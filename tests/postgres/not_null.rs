//! The NOT NULL handler: each of the six strategies on a populated table (20k rows, so the
//! online recipes apply), values checked, converged, rolled back with the data intact.

use super::support::{server_available, TestDb};
use dataflow::not_null::{Execution, NewColumn, NotNullPlan, Strategy, StrategyKind};
use dataflow::{Backfill, ColumnType, DataFlow, Error, Literal, QualifiedName};

const ROWS: i64 = 20_000;

/// The columns every test keeps (a fill of an existing column is one-way: a rollback makes
/// it nullable again and keeps the values).
const ORIGINAL: &str = "SELECT id, email, visits FROM users";

/// orgs (1 acme, 2 house); users 1..20000 with an email and a visit count.
async fn seeded(label: &str) -> (TestDb, Vec<String>) {
    let db = TestDb::new(label).await;
    db.exec(&format!(
        "CREATE TABLE orgs (id bigint PRIMARY KEY, name text NOT NULL); \
         INSERT INTO orgs VALUES (1, 'acme'), (2, 'house'); \
         CREATE TABLE users (id bigserial PRIMARY KEY, email text NOT NULL, visits integer NOT NULL, \
                             nickname text); \
         INSERT INTO users (email, visits, nickname) \
         SELECT 'User' || g || '@Example.com', g % 20, CASE WHEN g % 3 = 0 THEN 'n' || g END \
         FROM generate_series(1, {ROWS}) g; ANALYZE"
    ))
    .await;
    let rows = db.rows(ORIGINAL).await;
    (db, rows)
}

fn flow(db: &TestDb) -> DataFlow {
    DataFlow::from_pool(db.db.pool().clone())
}

/// Plans, validates (safe), executes; checks the values with `check` (a count that must be
/// all rows), convergence, and the rollback (schema and rows as before).
async fn add(
    db: &TestDb,
    rows: &[String],
    column: NewColumn,
    strategy: Strategy,
    check: &str,
    filled: i64,
) -> NotNullPlan {
    let flow = flow(db);
    let handler = flow.not_null_handler();
    let plan = handler.plan_not_null_addition("users", column, strategy).await.expect("plan");
    let estimate = plan.affected_rows.expect("the table was analysed");
    assert!(estimate.abs_diff(ROWS as u64) < ROWS as u64 / 5, "reltuples ≈ {ROWS}: {estimate}");
    let safety = handler.validate_addition_safety(&plan).await.expect("validate");
    assert!(safety.is_safe(), "{:#?}", safety);
    let outcome = handler.execute(&plan).await.expect("execute");
    assert!(!outcome.rollback_executed);
    assert_eq!(db.scalar::<i64>(check).await, ROWS, "{check}");
    let again = db.plan(plan.desired()).await;
    assert!(again.is_empty(), "not converged:\n{again}");
    if plan.execution == Execution::KeysetBatches {
        assert!(outcome.batches >= 1 && outcome.average_batch_ms > 0.0, "{outcome:?}");
        assert_eq!(outcome.affected_rows, filled as u64, "{outcome:?}");
    }
    handler.rollback_not_null_addition(&outcome).await.expect("rollback");
    let back = db.plan(plan.before()).await;
    assert!(back.is_empty(), "rollback did not restore the schema:\n{back}");
    assert_eq!(db.rows(ORIGINAL).await, rows, "rows intact after the rollback");
    plan
}

#[tokio::test]
async fn static_is_catalog_only_and_new_rows_get_the_default() {
    if !server_available().await {
        return;
    }
    let (db, rows) = seeded("nn_static").await;
    let plan = add(
        &db,
        &rows,
        NewColumn::new("status", ColumnType::Text),
        Strategy::Static(Literal::Text("active".into())),
        "SELECT count(*) FROM users WHERE status = 'active'",
        ROWS,
    )
    .await;
    assert_eq!(plan.execution, Execution::CatalogOnly, "{}", plan.plan);
    assert_eq!(plan.strategy.kind(), StrategyKind::Static);
    db.drop_db().await;
}

#[tokio::test]
async fn a_volatile_function_gives_each_row_its_own_value_in_batches() {
    if !server_available().await {
        return;
    }
    let (db, rows) = seeded("nn_function").await;
    let plan = add(
        &db,
        &rows,
        NewColumn::new("token", ColumnType::Uuid).unique(),
        Strategy::Function("gen_random_uuid()".into()),
        "SELECT count(DISTINCT token) FROM users",
        ROWS,
    )
    .await;
    assert_eq!(plan.execution, Execution::KeysetBatches, "{}", plan.plan);
    assert!(plan.batch_size.is_some());
    // Stable: one value, catalog only.
    let plan = add(
        &db,
        &rows,
        NewColumn::new("seen_at", ColumnType::TimestampTz),
        Strategy::Function("now()".into()),
        "SELECT count(*) FROM users WHERE seen_at <= now()",
        ROWS,
    )
    .await;
    assert_eq!(plan.execution, Execution::CatalogOnly, "{}", plan.plan);
    db.drop_db().await;
}

#[tokio::test]
async fn computed_and_conditional_fill_from_the_row() {
    if !server_available().await {
        return;
    }
    let (db, rows) = seeded("nn_computed").await;
    let plan = add(
        &db,
        &rows,
        NewColumn::new("email_lower", ColumnType::Text),
        Strategy::Backfill(Backfill::Computed("lower(email)".into())),
        "SELECT count(*) FROM users WHERE email_lower = lower(email)",
        ROWS,
    )
    .await;
    assert_eq!(plan.execution, Execution::KeysetBatches, "{}", plan.plan);
    // Once a fill ran here, a fill's estimate uses its measured rate.
    let rate: f64 = db
        .scalar(
            "SELECT (value ->> 'rows')::float8 / (value ->> 'ms')::float8 \
             FROM _dataflow_migrations, jsonb_each(progress) WHERE key LIKE 'fill:%' \
             ORDER BY started_at DESC LIMIT 1",
        )
        .await;
    let next = flow(&db)
        .not_null_handler()
        .plan_not_null_addition(
            "users",
            NewColumn::new("domain", ColumnType::Text),
            Strategy::Backfill(Backfill::Computed("split_part(email, '@', 2)".into())),
        )
        .await
        .expect("plan");
    let expected = (next.affected_rows.expect("estimate") as f64 / rate) as u128;
    assert_eq!(next.estimated_duration.as_millis(), expected, "rows ÷ measured rows/ms");
    add(
        &db,
        &rows,
        NewColumn::new("band", ColumnType::Text),
        Strategy::Backfill(Backfill::Conditional {
            cases: vec![("visits >= 15".into(), "'regular'".into())],
            otherwise: Some("'new'".into()),
        }),
        "SELECT count(*) FROM users WHERE band = CASE WHEN visits >= 15 THEN 'regular' ELSE 'new' END",
        ROWS,
    )
    .await;
    db.drop_db().await;
}

#[tokio::test]
async fn a_sequence_numbers_rows_in_key_order() {
    if !server_available().await {
        return;
    }
    let (db, rows) = seeded("nn_sequence").await;
    let plan = add(
        &db,
        &rows,
        NewColumn::new("ticket", ColumnType::BigInt).unique(),
        Strategy::Backfill(Backfill::Sequence { start: 1000, step: 10 }),
        "SELECT count(*) FROM users WHERE ticket = 1000 + 10 * (id - 1)",
        ROWS,
    )
    .await;
    // Batches continue the numbering from the rows earlier batches changed.
    assert_eq!(plan.execution, Execution::KeysetBatches, "{}", plan.plan);
    db.drop_db().await;
}

#[tokio::test]
async fn a_foreign_key_fill_takes_a_fixed_id_or_looks_one_up() {
    if !server_available().await {
        return;
    }
    let (db, rows) = seeded("nn_fk").await;
    add(
        &db,
        &rows,
        NewColumn::new("org_id", ColumnType::BigInt).references("orgs", "id"),
        Strategy::Backfill(Backfill::ForeignKeyValue(Literal::Number("1".into()))),
        "SELECT count(*) FROM users WHERE org_id = 1",
        ROWS,
    )
    .await;
    add(
        &db,
        &rows,
        NewColumn::new("org_id", ColumnType::BigInt).references("orgs", "id"),
        Strategy::Backfill(Backfill::ForeignKeyLookup {
            table: QualifiedName::new("orgs"),
            column: "id".into(),
            filter: "name = 'house'".into(),
        }),
        "SELECT count(*) FROM users WHERE org_id = 2",
        ROWS,
    )
    .await;
    db.drop_db().await;
}

#[tokio::test]
async fn an_existing_nullable_column_gets_its_nulls_filled() {
    if !server_available().await {
        return;
    }
    let (db, rows) = seeded("nn_existing").await;
    let plan = add(
        &db,
        &rows,
        NewColumn::new("nickname", ColumnType::Text),
        Strategy::Backfill(Backfill::Computed("'user-' || id".into())),
        "SELECT count(*) FROM users WHERE nickname = CASE WHEN id % 3 = 0 THEN 'n' || id ELSE 'user-' || id END",
        ROWS - ROWS / 3,
    )
    .await;
    assert!(plan.existing_column);
    db.drop_db().await;
}

// assertion path: the execution is refused before any change (asserted)
#[tokio::test]
async fn validation_reports_what_would_fail_before_anything_changes() {
    if !server_available().await {
        return;
    }
    let (db, rows) = seeded("nn_validate").await;
    let flow = flow(&db);
    let handler = flow.not_null_handler();
    let lookup = handler
        .plan_not_null_addition(
            "users",
            NewColumn::new("org_id", ColumnType::BigInt).references("orgs", "id"),
            Strategy::Backfill(Backfill::ForeignKeyLookup {
                table: QualifiedName::new("orgs"),
                column: "id".into(),
                filter: "name = 'nobody'".into(),
            }),
        )
        .await
        .expect("plan");
    let safety = handler.validate_addition_safety(&lookup).await.expect("validate");
    assert!(!safety.is_safe());
    assert_eq!(safety.violations[0].rows, ROWS, "{safety:#?}");
    assert!(safety.warnings.iter().any(|w| w.contains("every INSERT must give")), "{safety:#?}");
    let error = handler.execute(&lookup).await.expect_err("refused before any change");
    assert!(
        matches!(&error, Error::NotNullFailed { source, .. } if matches!(**source, Error::ConstraintViolations { .. })),
        "{error}"
    );

    let constant = handler
        .plan_not_null_addition(
            "users",
            NewColumn::new("code", ColumnType::Text).unique(),
            Strategy::Static(Literal::Text("x".into())),
        )
        .await
        .expect("plan");
    let safety = handler.validate_addition_safety(&constant).await.expect("validate");
    assert!(
        safety.issues.iter().any(|i| i.contains("UNIQUE") && i.contains(&format!("{ROWS} row"))),
        "{safety:#?}"
    );

    let broken = handler
        .plan_not_null_addition(
            "users",
            NewColumn::new("ratio", ColumnType::Integer),
            Strategy::Backfill(Backfill::Computed("100 / (visits - 5)".into())),
        )
        .await
        .expect("plan");
    let safety = handler.validate_addition_safety(&broken).await.expect("validate");
    assert!(safety.issues.iter().any(|i| i.contains("division by zero")), "{safety:#?}");

    let missing = handler
        .plan_not_null_addition(
            "nope",
            NewColumn::new("a", ColumnType::Text),
            Strategy::Backfill(Backfill::Computed("1".into())),
        )
        .await
        .expect_err("no such table");
    assert!(
        missing.to_string().contains("nope.a") || missing.to_string().contains("nope"),
        "{missing}"
    );
    assert_eq!(db.rows(ORIGINAL).await, rows, "validation changed nothing");
    db.drop_db().await;
}

// assertion path: the execution fails and undoes itself; the test asserts the column is gone
#[tokio::test]
async fn a_fill_that_fails_half_way_is_undone() {
    if !server_available().await {
        return;
    }
    let (db, rows) = seeded("nn_undo").await;
    let before = db.introspect().await.schema;
    let flow = flow(&db);
    let handler = flow.not_null_handler();
    // Passes the pre-flight checks, fails in the UPDATE: too long for varchar(3).
    let plan = handler
        .plan_not_null_addition(
            "users",
            NewColumn::new("tag", ColumnType::Varchar(3)),
            Strategy::Backfill(Backfill::Computed(
                "CASE WHEN id > 15000 THEN 'toolong' ELSE 'ok' END".into(),
            )),
        )
        .await
        .expect("plan");
    let error = handler.execute(&plan).await.expect_err("value too long");
    assert!(matches!(error, Error::NotNullFailed { rolled_back: true, .. }), "{error}");
    assert!(format!("{error:?}").contains("undone"), "{error:?}");
    let back = db.plan(&before).await;
    assert!(back.is_empty(), "the table is as before:\n{back}");
    assert_eq!(db.rows(ORIGINAL).await, rows);
    db.drop_db().await;
}
