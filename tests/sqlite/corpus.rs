//! sqldef's SQLite cases (`../shared/corpus/sqldef/sqlite.jsonl`) in DB-vs-DB mode: load
//! `current` into file A and `desired` into file B, plan A → B, apply to A, then require A
//! and B to be equal by an independent description (pragma queries written here, sharing
//! no code with the engine's introspection) and a second plan to be empty.
//!
//! Prints `in-scope passed/total`, writes per-case results to `target/corpus-sqlite.json`,
//! and fails below the committed floor (`corpus_floor.txt`, never lowered). Triggers and
//! views are out of scope (dataflow leaves them alone), so `tests_triggers.yml` is skipped.

use super::support::TestFile;
use dataflow::{plan_offline, Dialect, PlanOptions};
use serde_json::{json, Value};
use sqlx::Row;
use std::collections::BTreeMap;
use std::path::PathBuf;

const OUT_OF_SCOPE: &[&str] = &["tests_triggers"];

#[derive(Debug, Clone)]
struct Case {
    name: String,
    file: String,
    current: String,
    desired: String,
    renamed: bool,
}

#[derive(Debug, Clone, PartialEq)]
enum Outcome {
    Passed,
    Failed(String, String),
    NotLoaded(String),
}

fn read_cases() -> Option<(Vec<Case>, usize)> {
    let text = crate::common::skip::read_corpus("sqlite.jsonl")?;
    let mut skipped = 0;
    let mut cases = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let case: Value = serde_json::from_str(line).expect("corpus lines are JSON");
        let file = case["source_file"].as_str().unwrap_or_default();
        let stem = file.rsplit('/').next().unwrap_or(file).trim_end_matches(".yml").to_owned();
        if OUT_OF_SCOPE.contains(&stem.as_str()) {
            skipped += 1;
            continue;
        }
        cases.push(Case {
            name: case["name"].as_str().unwrap_or_default().to_owned(),
            file: stem,
            current: case["current"].as_str().unwrap_or_default().to_owned(),
            desired: case["desired"].as_str().unwrap_or_default().to_owned(),
            renamed: case["has_renamed_hint"].as_bool().unwrap_or(false),
        });
    }
    Some((cases, skipped))
}

/// The independent description: one sorted line per table, column, index and foreign key,
/// from the pragmas (the engine's own catalog code is not used).
async fn describe(file: &TestFile) -> Vec<String> {
    let mut lines = Vec::new();
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' \
         AND name NOT LIKE '\\_dataflow\\_%' ESCAPE '\\' ORDER BY name",
    )
    .fetch_all(file.db.pool())
    .await
    .expect("tables");
    for table in tables {
        lines.push(format!("table {table}"));
        let columns = sqlx::query(
            "SELECT name, lower(type), \"notnull\", dflt_value, pk FROM pragma_table_info(?)",
        )
        .bind(&table)
        .fetch_all(file.db.pool())
        .await
        .expect("columns");
        for c in columns {
            let name: String = c.get(0);
            let ty: String = c.get(1);
            let not_null: i64 = c.get(2);
            let default: Option<String> = c.get(3);
            let pk: i64 = c.get(4);
            lines.push(format!(
                "column {table}.{name} {ty} notnull={not_null} default={} pk={pk}",
                default.unwrap_or_default()
            ));
        }
        let indexes = sqlx::query(
            "SELECT il.name, il.\"unique\", il.partial, il.origin, \
             (SELECT group_concat(coalesce(ix.name, '<expr>') || ':' || ix.\"desc\", ',') FROM pragma_index_xinfo(il.name) ix WHERE ix.key = 1) \
             FROM pragma_index_list(?) il",
        )
        .bind(&table)
        .fetch_all(file.db.pool())
        .await
        .expect("indexes");
        for i in indexes {
            let name: String = i.get(0);
            let unique: i64 = i.get(1);
            let partial: i64 = i.get(2);
            let origin: String = i.get(3);
            let columns: Option<String> = i.get(4);
            // Automatic indexes carry generated names; describe them by what they index.
            let shown =
                if name.starts_with("sqlite_autoindex_") { "<auto>".to_owned() } else { name };
            lines.push(format!(
                "index {table} {shown} unique={unique} partial={partial} origin={origin} ({})",
                columns.unwrap_or_default()
            ));
        }
        let keys = sqlx::query(
            "SELECT id, \"table\", group_concat(\"from\", ','), group_concat(coalesce(\"to\", '<pk>'), ','), on_update, on_delete \
             FROM pragma_foreign_key_list(?) GROUP BY id",
        )
        .bind(&table)
        .fetch_all(file.db.pool())
        .await
        .expect("foreign keys");
        for k in keys {
            let parent: String = k.get(1);
            let from: String = k.get(2);
            let to: String = k.get(3);
            let on_update: String = k.get(4);
            let on_delete: String = k.get(5);
            lines.push(format!(
                "foreign key {table} ({from}) → {parent} ({to}) update={on_update} delete={on_delete}"
            ));
        }
    }
    lines.sort();
    lines
}

async fn load(file: &TestFile, sql: &str) -> Result<(), String> {
    if sql.trim().is_empty() {
        return Ok(());
    }
    sqlx::raw_sql(sql).execute(file.db.pool()).await.map(|_| ()).map_err(|e| e.to_string())
}

async fn run_case(case: &Case) -> Outcome {
    let a = TestFile::new("corpus_a").await;
    let b = TestFile::new("corpus_b").await;
    if let Err(error) = load(&a, &case.current).await {
        return Outcome::NotLoaded(format!("current: {error}"));
    }
    if let Err(error) = load(&b, &case.desired).await {
        return Outcome::NotLoaded(format!("desired: {error}"));
    }
    let fail = |cause: &str, detail: String| Outcome::Failed(cause.to_owned(), detail);
    let (current, desired) = match (a.db.introspect().await, b.db.introspect().await) {
        (Ok(a), Ok(b)) => (a.schema, b.schema),
        (Err(error), _) | (_, Err(error)) => return fail("introspection", error.to_string()),
    };
    let plan = match plan_offline(&current, &desired, Dialect::Sqlite, &PlanOptions::default()) {
        Ok(plan) => plan,
        Err(error) => return fail("plan refused", error.to_string()),
    };
    if let Err(error) = a.db.apply(&plan).await {
        let first_line = error.to_string().lines().next().unwrap_or_default().to_owned();
        return fail("apply failed", first_line);
    }
    let (described_a, described_b) = (describe(&a).await, describe(&b).await);
    if described_a != described_b {
        let only_a: Vec<&String> =
            described_a.iter().filter(|l| !described_b.contains(l)).take(2).collect();
        let only_b: Vec<&String> =
            described_b.iter().filter(|l| !described_a.contains(l)).take(2).collect();
        return fail("not equal after apply", format!("A has {only_a:?}, B has {only_b:?}"));
    }
    let again = match a.db.introspect().await {
        Ok(found) => found.schema,
        Err(error) => return fail("introspection", error.to_string()),
    };
    match plan_offline(&again, &desired, Dialect::Sqlite, &PlanOptions::default()) {
        Ok(second) if second.is_empty() => Outcome::Passed,
        Ok(second) => fail(
            "second plan not empty",
            second
                .steps
                .iter()
                .map(|s| format!("{} {}", s.operation.label(), s.details))
                .collect::<Vec<_>>()
                .join("; "),
        ),
        Err(error) => fail("plan refused", error.to_string()),
    }
}

#[tokio::test]
async fn sqldef_sqlite_corpus() {
    let Some((cases, skipped)) = read_cases() else { return };
    let started = std::time::Instant::now();
    let mut results = Vec::new();
    for case in cases {
        let outcome = run_case(&case).await;
        results.push((case, outcome));
    }
    let tally = |renamed: bool| {
        let scoped: Vec<_> = results
            .iter()
            .filter(|(c, o)| c.renamed == renamed && !matches!(o, Outcome::NotLoaded(_)))
            .collect();
        let passed = scoped.iter().filter(|(_, o)| *o == Outcome::Passed).count();
        (passed, scoped.len())
    };
    let (passed, total) = tally(false);
    let (renamed_passed, renamed_total) = tally(true);
    let not_loaded = results.iter().filter(|(_, o)| matches!(o, Outcome::NotLoaded(_))).count();
    let mut causes: BTreeMap<&str, usize> = BTreeMap::new();
    for (case, outcome) in &results {
        if let Outcome::Failed(cause, _) = outcome {
            if !case.renamed {
                *causes.entry(cause.as_str()).or_default() += 1;
            }
        }
    }
    let report = json!({
        "in_scope_passed": passed,
        "in_scope_total": total,
        "renamed_hint_passed": renamed_passed,
        "renamed_hint_total": renamed_total,
        "not_loaded": not_loaded,
        "skipped_out_of_scope": skipped,
        "failure_causes": causes,
        "seconds": started.elapsed().as_secs_f64(),
        "cases": results.iter().map(|(case, outcome)| {
            let (status, cause, detail) = match outcome {
                Outcome::Passed => ("passed", "", String::new()),
                Outcome::Failed(cause, detail) => ("failed", cause.as_str(), detail.clone()),
                Outcome::NotLoaded(detail) => ("not_loaded", "", detail.clone()),
            };
            json!({"file": case.file, "name": case.name, "renamed_hint": case.renamed,
                   "status": status, "cause": cause, "detail": detail})
        }).collect::<Vec<_>>(),
    });
    let target = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target");
    let _ = std::fs::create_dir_all(&target);
    let _ = std::fs::write(
        target.join("corpus-sqlite.json"),
        serde_json::to_string_pretty(&report).unwrap_or_default(),
    );
    eprintln!(
        "sqldef SQLite corpus: in-scope passed {passed}/{total} ({:.1}%), @renamed cases {renamed_passed}/{renamed_total} \
         (reported apart: DB-vs-DB mode has no hints), {not_loaded} did not load, {skipped} out of scope (triggers), in {:.1} s",
        100.0 * passed as f64 / total.max(1) as f64,
        started.elapsed().as_secs_f64()
    );
    eprintln!("failures by cause: {causes:?} (details in target/corpus-sqlite.json)");
    let floor: usize =
        include_str!("corpus_floor.txt").trim().parse().expect("the floor is a number");
    assert!(passed >= floor, "corpus pass count {passed} fell below the committed floor {floor}");
}
