//! The constraint validator: a constraint that existing rows break is refused before
//! anything changes, with the number of rows and a sample.

use super::support::{models, server_available, unattended, TestDb};
use dataflow::{model, DataFlow, Error, Model, Schema};

#[derive(Model)]
#[dataflow(table = "orgs")]
struct Org {
    #[dataflow(primary_key)]
    id: i64,
    name: String,
}

#[derive(Model)]
#[dataflow(table = "events")]
struct Event {
    #[dataflow(primary_key, auto)]
    id: i64,
    org_id: i64,
    code: String,
    amount: i32,
}

#[derive(Model)]
#[dataflow(table = "events", check = "amount >= 0")]
struct EventChecked {
    #[dataflow(primary_key, auto)]
    id: i64,
    org_id: i64,
    code: String,
    amount: i32,
}

#[derive(Model)]
#[dataflow(table = "events")]
struct EventLinked {
    #[dataflow(primary_key, auto)]
    id: i64,
    #[dataflow(references = "orgs.id")]
    org_id: i64,
    #[dataflow(unique)]
    code: String,
    amount: i32,
}

#[derive(Model)]
#[dataflow(table = "events")]
struct EventWithOwner {
    #[dataflow(primary_key, auto)]
    id: i64,
    org_id: i64,
    code: String,
    amount: i32,
    #[dataflow(references = "orgs.id", backfill_fk(table = "orgs", where = "name = 'house'"))]
    owner_id: i64,
}

/// 20k events: 3 with a negative amount, 2 pointing at a missing org, one code twice.
const SEED: &str = "INSERT INTO orgs VALUES (1, 'acme'), (2, 'globex'); \
    INSERT INTO events (org_id, code, amount) \
    SELECT CASE WHEN g IN (7, 8) THEN 99 ELSE 1 + g % 2 END, \
           CASE WHEN g = 20000 THEN 'c1' ELSE 'c' || g END, \
           CASE WHEN g IN (5, 6, 9) THEN -g ELSE g END \
    FROM generate_series(1, 20000) g; ANALYZE";

async fn seeded(label: &str) -> (TestDb, Schema, Vec<String>) {
    let db = TestDb::new(label).await;
    let v1 = models(&[model::<Org>(), model::<Event>()]);
    db.migrate(&v1).await;
    db.exec(SEED).await;
    let rows = db.rows("SELECT * FROM events").await;
    (db, v1, rows)
}

fn flow(db: &TestDb) -> DataFlow {
    DataFlow::from_pool(db.db.pool().clone()).model::<Org>()
}

/// Nothing changed: the schema is still v1, the rows are the same, no history was written.
async fn assert_untouched(db: &TestDb, v1: &Schema, rows: &[String]) {
    db.assert_converged(v1).await;
    assert_eq!(db.rows("SELECT * FROM events").await, rows);
    let runs: i64 = db
        .scalar("SELECT count(*) FROM _dataflow_migrations WHERE status NOT IN ('baseline')")
        .await;
    assert_eq!(runs, 0, "a refused plan writes no history");
}

fn violations(error: Error) -> Vec<dataflow::Violation> {
    match error {
        Error::ConstraintViolations { violations } => violations,
        other => panic!("expected ConstraintViolations, got {other}"),
    }
}

// assertion path: the plan is refused before any change (asserted)
#[tokio::test]
async fn a_check_that_existing_rows_break_is_refused_with_a_count() {
    if !server_available().await {
        return;
    }
    let (db, v1, rows) = seeded("pre_check").await;
    let error = flow(&db)
        .model::<EventChecked>()
        .auto_migrate(unattended())
        .await
        .expect_err("3 rows are negative");
    let message = error.to_string();
    let found = violations(error);
    assert_eq!(found.len(), 1, "{message}");
    assert_eq!(found[0].rows, 3, "{message}");
    assert!(found[0].constraint.contains("amount >= 0"), "{message}");
    assert_eq!(found[0].sample.len(), 3, "{message}");
    assert!(found[0].sample.iter().all(|r| r.contains(",-")), "rows shown: {message}");
    assert!(message.contains("nothing was changed") && message.contains("fix:"), "{message}");
    assert_untouched(&db, &v1, &rows).await;

    // Fixed rows: the same models apply, online, and converge; the rollback restores v1.
    db.exec("UPDATE events SET amount = -amount WHERE amount < 0").await;
    let fixed = db.rows("SELECT * FROM events").await;
    let report = flow(&db).model::<EventChecked>().auto_migrate(unattended()).await.expect("apply");
    db.assert_converged(&models(&[model::<Org>(), model::<EventChecked>()])).await;
    flow(&db).rollback_migration(&report.version.expect("version")).await.expect("rollback");
    db.assert_converged(&v1).await;
    assert_eq!(db.rows("SELECT * FROM events").await, fixed);
    db.drop_db().await;
}

// assertion path: the plan is refused before any change (asserted)
#[tokio::test]
async fn missing_referenced_rows_and_duplicates_are_listed_together() {
    if !server_available().await {
        return;
    }
    let (db, v1, rows) = seeded("pre_fk").await;
    let error = flow(&db)
        .model::<EventLinked>()
        .auto_migrate(unattended())
        .await
        .expect_err("org 99 does not exist; c1 appears twice");
    let message = error.to_string();
    let found = violations(error);
    let fk = found.iter().find(|v| v.constraint.starts_with("FOREIGN KEY")).expect(&message);
    assert_eq!((fk.rows, fk.sample.clone()), (2, vec!["99".to_owned()]), "{message}");
    let unique = found.iter().find(|v| v.constraint.starts_with("UNIQUE")).expect(&message);
    assert_eq!((unique.rows, unique.sample.clone()), (2, vec!["c1 × 2".to_owned()]), "{message}");
    assert_untouched(&db, &v1, &rows).await;
    db.drop_db().await;
}

// assertion path: the plan is refused before any change (asserted)
#[tokio::test]
async fn a_foreign_key_fill_whose_lookup_finds_no_row_fails_before_any_change() {
    if !server_available().await {
        return;
    }
    let (db, v1, rows) = seeded("pre_lookup").await;
    let error = flow(&db)
        .model::<EventWithOwner>()
        .auto_migrate(unattended())
        .await
        .expect_err("no org is named 'house'");
    let message = error.to_string();
    let found = violations(error);
    assert_eq!(found.len(), 1, "{message}");
    assert_eq!(found[0].rows, 20_000, "every row would stay NULL: {message}");
    assert!(found[0].constraint.contains("owner_id"), "{message}");
    assert_untouched(&db, &v1, &rows).await;

    // With the org there, every event gets it; the rollback drops the column again.
    db.exec("INSERT INTO orgs VALUES (3, 'house')").await;
    let report =
        flow(&db).model::<EventWithOwner>().auto_migrate(unattended()).await.expect("apply");
    assert_eq!(db.scalar::<i64>("SELECT count(*) FROM events WHERE owner_id = 3").await, 20_000);
    db.assert_converged(&models(&[model::<Org>(), model::<EventWithOwner>()])).await;
    flow(&db).rollback_migration(&report.version.expect("version")).await.expect("rollback");
    db.assert_converged(&models(&[model::<Org>(), model::<Event>()])).await;
    assert_eq!(db.rows("SELECT * FROM events").await, rows);
    db.drop_db().await;
}
