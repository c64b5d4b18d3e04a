//! Suite 5 of the reliability issue on SQLite: the hostile-input corpus
//! (`tests/common/hostile.rs`) planned (model mode: the canary is not a model) and applied into a fresh file per case that also
//! holds a canary table an injection would destroy. Same figure and rules as on
//! PostgreSQL; writes `target/reliability-hostile-sqlite.json`.

use super::support::TestFile;
use crate::common::hostile::{cases, report, server_refusal, Tally};
use dataflow::{plan_models, Dialect, PlanOptions};

// assertion path: by hand, per case: applied, converged, rolled back, schema as before (the
// tables are empty: there are no rows to compare)
#[tokio::test]
async fn hostile_names_and_strings_never_inject_or_panic() {
    let payload = "DROP TABLE canary";
    let mut tally = Tally::default();
    for case in cases(payload) {
        tally.cases += 1;
        let file = TestFile::new("hostile").await;
        file.exec("CREATE TABLE canary (id integer PRIMARY KEY, note text); INSERT INTO canary VALUES (1, 'alive'), (2, 'still alive')").await;
        let db = file.db.clone();
        let schema = case.schema.clone();
        let outcome = tokio::spawn(async move {
            let current = db.introspect().await.map_err(|e| e.to_string())?.schema;
            let plan =
                match plan_models(&current, &schema, Dialect::Sqlite, &PlanOptions::default()) {
                    Ok(plan) => plan,
                    Err(error) => return Ok::<_, String>(("refused", error.to_string())),
                };
            if let Err(error) = db.apply(&plan).await {
                return Ok(server_refusal(&error));
            }
            let again = db.introspect().await.map_err(|e| e.to_string())?.schema;
            let second = plan_models(&again, &schema, Dialect::Sqlite, &PlanOptions::default())
                .map_err(|e| e.to_string())?;
            if !second.is_empty() {
                return Ok(("not converged", second.to_string()));
            }
            // The down SQL runs the same names and strings back.
            if let Err(error) = db.rollback(&plan).await {
                return Ok(("not reversed", error.to_string()));
            }
            let back = db.introspect().await.map_err(|e| e.to_string())?.schema;
            let left =
                dataflow::plan_offline(&back, &current, Dialect::Sqlite, &PlanOptions::default())
                    .map_err(|e| e.to_string())?;
            Ok(if left.is_empty() {
                ("applied", String::new())
            } else {
                ("not reversed", left.to_string())
            })
        })
        .await;
        tally.count(&case, outcome);
        let canary = file.rows("SELECT id || ':' || note FROM canary ORDER BY id").await;
        if canary != ["1:alive", "2:still alive"] {
            tally.injections += 1;
            panic!("INJECTION by {}: the canary is {canary:?}", case.label);
        }
    }
    report("sqlite", &tally);
    let cli = through_the_command_line(payload).await;
    eprintln!("hostile input through `dataflow apply` (sqlite): {cli} cases, exit codes 0/1/2 only, canary intact");
}

/// Every case through `dataflow apply --target case.json --yes` (the canary is part of
/// the target, so DB-vs-DB keeps it): the tool exits 0, 1 or 2 — never a panic — and the
/// canary is intact. Returns the number of cases.
async fn through_the_command_line(payload: &str) -> usize {
    use dataflow::{Column, ColumnType, PrimaryKey, QualifiedName, Table};
    let dir = std::env::temp_dir().join(format!("df_hostile_cli_{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    let mut canary = Table::new(QualifiedName::new("canary"));
    canary.columns.push(Column::new("id", ColumnType::BigInt));
    let mut note = Column::new("note", ColumnType::Text);
    note.nullable = true;
    canary.columns.push(note);
    canary.primary_key =
        Some(PrimaryKey { name: "canary_pkey".into(), columns: vec!["id".into()] });
    let cases = cases(payload);
    for (n, case) in cases.iter().enumerate() {
        let file = dir.join(format!("case_{n}.db"));
        let url = format!("sqlite://{}", file.display());
        let mut target = case.schema.clone();
        target.tables.push(canary.clone());
        target.canonicalize();
        let target_path = dir.join(format!("case_{n}.json"));
        std::fs::write(&target_path, target.to_json()).expect("write the target");
        {
            let db = dataflow::Sqlite::connect(&url).await.expect("open");
            sqlx::raw_sql("CREATE TABLE canary (id bigint PRIMARY KEY, note text); INSERT INTO canary VALUES (1, 'alive')")
                .execute(db.pool())
                .await
                .expect("canary");
            db.pool().close().await;
        }
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_dataflow"))
            .args([
                "apply",
                "--db",
                &url,
                "--target",
                &target_path.to_string_lossy(),
                "--yes",
                "--max-risk",
                "high",
            ])
            .env_remove("DATABASE_URL")
            .output()
            .expect("run dataflow");
        let code = output.status.code();
        assert!(
            matches!(code, Some(0..=2)),
            "{}: exit {code:?}: {}",
            case.label,
            String::from_utf8_lossy(&output.stderr)
        );
        if case.must_refuse {
            assert_ne!(code, Some(0), "{}: the tool must refuse it", case.label);
        }
        let canary: Vec<String> = {
            let db = dataflow::Sqlite::connect(&url).await.expect("open");
            let rows = sqlx::query_scalar("SELECT id || ':' || note FROM canary")
                .fetch_all(db.pool())
                .await
                .unwrap_or_default();
            db.pool().close().await;
            rows
        };
        assert_eq!(canary, ["1:alive"], "INJECTION through the command line by {}", case.label);
    }
    let _ = std::fs::remove_dir_all(&dir);
    cases.len()
}
