//! sqldef's PostgreSQL cases (`../shared/corpus/sqldef/postgres.jsonl`) in DB-vs-DB mode:
//! load `current` into database A and `desired` into B, plan A → B, apply to A, then
//! require A and B to be equal by an independent description (catalog queries written
//! here, sharing no code with the engine's introspection) and a second plan to be empty.
//!
//! Prints `in-scope passed/total` and the duration, writes per-case results to
//! `target/corpus-postgres-<major>.json`, and fails below the committed floor for the
//! server's major version
//! (`corpus_floor.txt`, never lowered).

use super::support::{create_database, drop_database, server_available, url_for};
use dataflow::{plan_offline, Dialect, PlanOptions};
use dataflow_core::{ApplyOptions, Postgres};
use serde_json::{json, Value};
use sqlx::Executor;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const IN_SCOPE: &[&str] = &[
    "tests_comments",
    "tests_constraints",
    "tests_datatypes",
    "tests_dependency_ordering",
    "tests_enable_drop",
    "tests_fk_deps",
    "tests_identity",
    "tests_indices",
    "tests_preserve_quotes",
    "tests_rename",
    "tests_schemas",
    "tests_tables",
    "tests_types",
];
const SKIP_FLAGS: &[&str] = &["error", "offline", "user", "managed_roles"];
const WORKERS: usize = 3;

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

/// The cases this server can load: those whose `min_version` is above `major` are skipped.
fn read_cases(major: u32) -> Option<(Vec<Case>, BTreeMap<String, usize>)> {
    let text = crate::common::skip::read_corpus("postgres.jsonl")?;
    let mut skipped: BTreeMap<String, usize> = BTreeMap::new();
    let mut cases = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let case: Value = serde_json::from_str(line).expect("corpus lines are JSON");
        let file = case["source_file"].as_str().unwrap_or_default();
        let stem = file.rsplit('/').next().unwrap_or(file).trim_end_matches(".yml").to_owned();
        if !IN_SCOPE.contains(&stem.as_str()) {
            continue;
        }
        let flags = case["flags"].as_object().cloned().unwrap_or_default();
        if let Some(flag) = SKIP_FLAGS.iter().find(|f| flags.contains_key(**f)) {
            *skipped.entry(format!("flag {flag}")).or_default() += 1;
            continue;
        }
        let min_version =
            flags.get("min_version").and_then(Value::as_str).and_then(|v| v.parse::<f64>().ok());
        if min_version.is_some_and(|v| v > f64::from(major)) {
            *skipped.entry(format!("min_version above {major}")).or_default() += 1;
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

const RESET: &str = r#"
DO $$ DECLARE r record; BEGIN
  FOR r IN SELECT nspname FROM pg_namespace WHERE nspname !~ '^pg_' AND nspname <> 'information_schema' LOOP
    EXECUTE format('DROP SCHEMA %I CASCADE', r.nspname);
  END LOOP;
END $$;
CREATE SCHEMA public;
"#;

/// The independent description: one sorted line per managed object, from catalog
/// queries written for this test only. Column order is not described (the engine, like
/// most migration tools, does not reorder columns).
const DESCRIBE: &str = r#"
WITH rel AS (
  SELECT c.oid, n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
  WHERE c.relkind = 'r' AND n.nspname !~ '^pg_' AND n.nspname <> 'information_schema'
    AND c.relname NOT LIKE '\_dataflow\_%'
)
SELECT line FROM (
  SELECT format('namespace %I', nspname) AS line FROM pg_namespace
   WHERE nspname !~ '^pg_' AND nspname <> 'information_schema'
  UNION ALL
  SELECT format('table %I.%I comment=%s', nspname, relname, coalesce(obj_description(oid, 'pg_class'), '-')) FROM rel
  UNION ALL
  SELECT format('column %I.%I.%I %s notnull=%s default=%s identity=%s generated=%s collation=%s comment=%s',
    r.nspname, r.relname, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull,
    CASE WHEN pg_get_serial_sequence(format('%I.%I', r.nspname, r.relname), a.attname) IS NOT NULL
              AND pg_get_expr(d.adbin, d.adrelid) LIKE 'nextval(%' THEN 'serial'
         ELSE coalesce(pg_get_expr(d.adbin, d.adrelid), '-') END,
    a.attidentity, a.attgenerated,
    CASE WHEN a.attcollation <> t.typcollation THEN (SELECT collname FROM pg_collation WHERE oid = a.attcollation) ELSE '-' END,
    coalesce(col_description(r.oid, a.attnum), '-'))
  FROM rel r JOIN pg_attribute a ON a.attrelid = r.oid AND a.attnum > 0 AND NOT a.attisdropped
  JOIN pg_type t ON t.oid = a.atttypid
  LEFT JOIN pg_attrdef d ON d.adrelid = r.oid AND d.adnum = a.attnum
  UNION ALL
  SELECT format('constraint %I.%I %I %s valid=%s deferrable=%s deferred=%s', r.nspname, r.relname, con.conname,
    pg_get_constraintdef(con.oid), con.convalidated, con.condeferrable, con.condeferred)
  FROM pg_constraint con JOIN rel r ON r.oid = con.conrelid
  UNION ALL
  SELECT format('index %s valid=%s', pg_get_indexdef(i.indexrelid), i.indisvalid)
  FROM pg_index i JOIN rel r ON r.oid = i.indrelid
  UNION ALL
  SELECT format('enum %I.%I %s', n.nspname, t.typname,
    (SELECT string_agg(quote_literal(enumlabel), ',' ORDER BY enumsortorder) FROM pg_enum WHERE enumtypid = t.oid))
  FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
  WHERE t.typtype = 'e' AND n.nspname !~ '^pg_' AND n.nspname <> 'information_schema'
  UNION ALL
  SELECT format('sequence %I.%I start=%s increment=%s', n.nspname, c.relname, s.seqstart, s.seqincrement)
  FROM pg_sequence s JOIN pg_class c ON c.oid = s.seqrelid JOIN pg_namespace n ON n.oid = c.relnamespace
  WHERE NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = c.oid AND d.deptype IN ('a', 'i'))
) lines ORDER BY line
"#;

fn psql_load(database: &str, sql: &str) -> Result<(), String> {
    use std::io::Write;
    let mut child = Command::new("psql")
        .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", &url_for(database), "-f", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run psql: {e}"))?;
    child.stdin.take().ok_or("no stdin")?.write_all(sql.as_bytes()).map_err(|e| e.to_string())?;
    let output = child.wait_with_output().map_err(|e| e.to_string())?;
    if output.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&output.stderr).lines().next().unwrap_or("").to_owned())
    }
}

async fn describe(db: &Postgres) -> Vec<String> {
    sqlx::query_scalar(DESCRIBE).fetch_all(db.pool()).await.expect("the description query runs")
}

async fn reset(db: &Postgres) {
    db.pool().execute(sqlx::raw_sql(RESET)).await.expect("reset");
}

fn first_difference(a: &[String], b: &[String]) -> String {
    let only_a: Vec<&String> = a.iter().filter(|l| !b.contains(l)).take(2).collect();
    let only_b: Vec<&String> = b.iter().filter(|l| !a.contains(l)).take(2).collect();
    format!("A has {only_a:?}, B has {only_b:?}")
}

async fn run_case(a_name: &str, b_name: &str, a: &Postgres, b: &Postgres, case: &Case) -> Outcome {
    reset(a).await;
    reset(b).await;
    if let Err(error) = psql_load(a_name, &case.current) {
        return Outcome::NotLoaded(format!("current: {error}"));
    }
    if let Err(error) = psql_load(b_name, &case.desired) {
        return Outcome::NotLoaded(format!("desired: {error}"));
    }
    let fail = |cause: &str, detail: String| Outcome::Failed(cause.to_owned(), detail);
    let (Ok(a_spaces), Ok(b_spaces)) = (a.user_namespaces().await, b.user_namespaces().await)
    else {
        return fail("introspection", "namespaces".into());
    };
    let current = match a.introspect(&a_spaces).await {
        Ok(found) => found.schema,
        Err(error) => return fail("introspection", error.to_string()),
    };
    let desired = match b.introspect(&b_spaces).await {
        Ok(found) => found.schema,
        Err(error) => return fail("introspection", error.to_string()),
    };
    let plan = match plan_offline(&current, &desired, Dialect::Postgres, &PlanOptions::default()) {
        Ok(plan) => plan,
        Err(error) => return fail("plan refused", error.to_string()),
    };
    let options = ApplyOptions::default().with_retries(0);
    if let Err(error) = a.apply(&plan, &options).await {
        let first_line = error.to_string().lines().next().unwrap_or_default().to_owned();
        return fail("apply failed", first_line);
    }
    let (described_a, described_b) = (describe(a).await, describe(b).await);
    if described_a != described_b {
        return fail("not equal after apply", first_difference(&described_a, &described_b));
    }
    let again = match a.introspect(&b_spaces).await {
        Ok(found) => found.schema,
        Err(error) => return fail("introspection", error.to_string()),
    };
    match plan_offline(&again, &desired, Dialect::Postgres, &PlanOptions::default()) {
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqldef_postgres_corpus() {
    if !server_available().await {
        return;
    }
    let major = server_major().await;
    let Some((cases, skipped)) = read_cases(major) else { return };
    let started = Instant::now();
    let run = std::process::id();
    let mut workers = Vec::new();
    let chunks: Vec<Vec<Case>> =
        (0..WORKERS).map(|w| cases.iter().skip(w).step_by(WORKERS).cloned().collect()).collect();
    for (w, chunk) in chunks.into_iter().enumerate() {
        workers.push(tokio::spawn(async move {
            let a_name = format!("df_corpus_{run}_{w}_a");
            let b_name = format!("df_corpus_{run}_{w}_b");
            for name in [&a_name, &b_name] {
                create_database(name).await;
            }
            let a = Postgres::connect(&url_for(&a_name)).await.expect("connect A");
            let b = Postgres::connect(&url_for(&b_name)).await.expect("connect B");
            let mut results = Vec::new();
            for case in chunk {
                let outcome = tokio::time::timeout(
                    Duration::from_secs(60),
                    run_case(&a_name, &b_name, &a, &b, &case),
                )
                .await
                .unwrap_or_else(|_| Outcome::Failed("timeout".into(), "over 60 s".into()));
                results.push((case, outcome));
            }
            a.pool().close().await;
            b.pool().close().await;
            for name in [&a_name, &b_name] {
                drop_database(name).await;
            }
            results
        }));
    }
    let mut results = Vec::new();
    for worker in workers {
        results.extend(worker.await.expect("a corpus worker panicked"));
    }
    results.sort_by(|a, b| (&a.0.file, &a.0.name).cmp(&(&b.0.file, &b.0.name)));

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
        "skipped": skipped,
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
        target.join(format!("corpus-postgres-{major}.json")),
        serde_json::to_string_pretty(&report).unwrap_or_default(),
    );
    eprintln!(
        "sqldef PostgreSQL corpus on PostgreSQL {major}: in-scope passed {passed}/{total} ({:.1}%), @renamed cases {renamed_passed}/{renamed_total} \
         (reported apart: DB-vs-DB mode has no hints), {not_loaded} did not load, skipped {skipped:?}, in {:.1} s",
        100.0 * passed as f64 / total.max(1) as f64,
        started.elapsed().as_secs_f64()
    );
    eprintln!("failures by cause: {causes:?} (details in target/corpus-postgres-{major}.json)");
    let floor = floor_for(include_str!("corpus_floor.txt"), major).unwrap_or_else(|| {
        panic!("corpus_floor.txt has no floor for PostgreSQL {major}: add `{major} {passed}`")
    });
    assert!(
        passed >= floor,
        "on PostgreSQL {major}, corpus pass count {passed} fell below the committed floor {floor}"
    );
}

/// The server's major version (`server_version_num` / 10000).
async fn server_major() -> u32 {
    let db = Postgres::connect(&super::support::admin_url()).await.expect("connect");
    let version: String = sqlx::query_scalar("SHOW server_version_num")
        .fetch_one(db.pool())
        .await
        .expect("server_version_num");
    db.pool().close().await;
    version.parse::<u32>().expect("a number") / 10_000
}

/// The committed floor for one major version: lines `<major> <passed>`, `#` comments.
fn floor_for(file: &str, major: u32) -> Option<usize> {
    file.lines()
        .map(|line| line.split('#').next().unwrap_or_default())
        .filter_map(|line| line.split_once(' '))
        .find(|(version, _)| version.trim().parse() == Ok(major))
        .and_then(|(_, floor)| floor.trim().parse().ok())
}
