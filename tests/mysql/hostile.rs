//! Suite 5 of the reliability issue on MariaDB: the hostile-input corpus
//! (`tests/common/hostile.rs`) planned and applied DB-vs-DB (`migrate_mysql_to`) into a
//! fresh database per case that also holds a canary table an injection would destroy.
//! MySQL reads backslashes in string literals as escapes, so its literal quoting is the
//! one most exposed. Same figure and rules as on PostgreSQL and SQLite; writes
//! `target/reliability-hostile-mysql.json`.

use super::support::{server_available, unattended, TestDb};
use crate::common::hostile::{cases, report, server_refusal, Tally};
use dataflow::{plan_offline, Dialect, Mysql, PlanOptions};
use sqlx::Connection;

const CANARY: &str = "1:alive,2:still alive";

async fn canary(url: &str) -> Option<String> {
    let mut connection = sqlx::MySqlConnection::connect(url).await.ok()?;
    let rows = sqlx::query_scalar(
        "SELECT CAST(GROUP_CONCAT(CONCAT(id, ':', note) ORDER BY id) AS CHAR) FROM canary",
    )
    .fetch_one(&mut connection)
    .await
    .ok()
    .flatten();
    let _ = connection.close().await;
    rows
}

// assertion path: by hand, per case: applied, converged, rolled back through the history,
// schema as before (the tables are empty: there are no rows to compare)
#[tokio::test]
async fn hostile_names_and_strings_never_inject_or_panic() {
    if !server_available().await {
        return;
    }
    let payload = "DROP TABLE canary";
    let mut tally = Tally::default();
    for case in cases(payload) {
        tally.cases += 1;
        let db = TestDb::new("hostile").await;
        db.exec(
            "CREATE TABLE canary (id bigint PRIMARY KEY, note varchar(40));\n\
             INSERT INTO canary VALUES (1, 'alive'), (2, 'still alive')",
        )
        .await;
        let url = db.url.clone();
        let schema = case.schema.clone();
        // Each case in its own task: a panic is counted, not fatal.
        let outcome = tokio::spawn(async move {
            let mysql = Mysql::connect(&url).await.map_err(|e| e.to_string())?;
            let current = mysql.introspect().await.map_err(|e| e.to_string())?.schema;
            let mut target = schema;
            target.tables.extend(current.tables.iter().cloned());
            target.canonicalize();
            let options = PlanOptions::default();
            if let Err(error) = plan_offline(&current, &target, Dialect::Mysql, &options) {
                return Ok::<_, String>(("refused", error.to_string()));
            }
            let report =
                match dataflow::migrate_mysql_to(&mysql, target.clone(), unattended()).await {
                    Ok(report) => report,
                    Err(error) => return Ok(server_refusal(&error)),
                };
            let again = mysql.introspect().await.map_err(|e| e.to_string())?.schema;
            let second = plan_offline(&again, &target, Dialect::Mysql, &options)
                .map_err(|e| e.to_string())?;
            if !second.is_empty() {
                return Ok(("not converged", second.to_string()));
            }
            // The recorded down steps run the same names and strings back.
            if let Some(version) = &report.version {
                let flow = dataflow::DataFlow::from_mysql_pool(mysql.pool().clone())
                    .map_err(|e| e.to_string())?;
                if let Err(error) = flow.rollback_migration(version).await {
                    return Ok(("not reversed", error.to_string()));
                }
            }
            let back = mysql.introspect().await.map_err(|e| e.to_string())?.schema;
            let left = plan_offline(&back, &current, Dialect::Mysql, &options)
                .map_err(|e| e.to_string())?;
            mysql.pool().close().await;
            Ok(if left.is_empty() {
                ("applied", String::new())
            } else {
                ("not reversed", left.to_string())
            })
        })
        .await;
        tally.count(&case, outcome);
        let canary = canary(&db.url).await;
        if canary.as_deref() != Some(CANARY) {
            tally.injections += 1;
            panic!("INJECTION by {}: the canary is {canary:?} (database {})", case.label, db.name);
        }
        db.drop_db().await;
    }
    report("mysql", &tally);
}

// assertion path: the apply is refused; the test asserts the canary is intact
/// `$$` is a string to PostgreSQL (and to the generic fragment check) but a name to
/// MySQL, so a `;` between two `$$` would end dataflow's statement there and run what
/// follows. MySQL-lexed, it is refused before anything runs; the canary stays.
#[tokio::test]
async fn a_semicolon_between_dollar_signs_cannot_end_a_statement() {
    use dataflow::{CheckConstraint, Column, ColumnType, PrimaryKey, QualifiedName, Table};
    if !server_available().await {
        return;
    }
    let db = TestDb::new("dollar").await;
    db.exec(
        "CREATE TABLE canary (id bigint PRIMARY KEY, note varchar(40));\n\
         INSERT INTO canary VALUES (1, 'alive'), (2, 'still alive')",
    )
    .await;
    let mysql = Mysql::connect(&db.url).await.expect("connect");
    let mut target = mysql.introspect().await.expect("introspect").schema;
    let mut table = Table::new(QualifiedName::new("hostile"));
    for name in ["id", "v", "$$"] {
        let mut column = Column::new(name, ColumnType::BigInt);
        column.nullable = name != "id";
        table.columns.push(column);
    }
    table.primary_key = Some(PrimaryKey { name: "PRIMARY".into(), columns: vec!["id".into()] });
    table.checks.push(CheckConstraint {
        name: "hostile_check".into(),
        expression: "v > 0 OR $$)); DROP TABLE canary; -- $$ = 'x'".into(),
        not_valid: false,
        no_inherit: false,
    });
    target.tables.push(table);
    target.canonicalize();
    let refused = dataflow::migrate_mysql_to(&mysql, target, unattended())
        .await
        .expect_err("refused before anything runs");
    let message = refused.to_string();
    assert!(message.contains("check hostile_check on hostile"), "{message}");
    assert_eq!(canary(&db.url).await.as_deref(), Some(CANARY));
    let tables = db.rows("SELECT table_name FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = 'hostile'").await;
    assert!(tables.is_empty(), "nothing created: {tables:?}");
    mysql.pool().close().await;
    db.drop_db().await;
}
