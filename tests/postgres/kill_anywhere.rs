//! Suite 2 of the reliability issue: SIGKILL `dataflow apply` at a random moment of a
//! plan that has a transactional group (a column and a check on a small table), a keyset
//! backfill (a NOT NULL column computed from the row on 100,000 rows) and a
//! `CREATE INDEX CONCURRENTLY`; then run it again. After every trial: the schema equals
//! the new models (`diff --check`), no INVALID index and no engine column is left, the
//! history has no `running` row and exactly one `applied`, and every row's values are
//! intact (checksum of the table's original data before vs after, the new column equal
//! to its formula everywhere). Each kill is classified by the history right after it
//! (before the run, while running, after it); every other trial aims at the migration under
//! way and fails if it lands elsewhere. 6 trials in the tests; `DATAFLOW_SOAK=1` runs 100.
//! Writes `target/reliability-kill-postgres.json`.

use super::support::{server_available, TestDb};
use crate::common::soak::{
    aim_again, calibrate, kill_after, kill_while_running, publish, seed, trials, Landed, Landings,
    Rng,
};
use dataflow::{model, schema_of, Model};
use std::process::{Command, Stdio};
use std::time::Duration;

const ROWS: i64 = 100_000;

#[derive(Model)]
#[dataflow(table = "big", index(columns("v"), name = "big_v_idx"))]
struct Big {
    #[dataflow(primary_key)]
    id: i64,
    v: i32,
    #[dataflow(backfill = "v * 2")]
    w: i64,
}

#[derive(Model)]
#[dataflow(table = "small", check = "id > 0")]
struct Small {
    #[dataflow(primary_key)]
    id: i32,
    name: Option<String>,
    #[dataflow(default = false)]
    extra: bool,
}

pub(super) fn apply(url: &str, target: &str) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_dataflow"));
    command
        .args(["apply", "--db", url, "--target", target, "--yes", "--max-risk", "high"])
        .env_remove("DATABASE_URL")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    command
}

async fn fresh(label: &str) -> TestDb {
    let db = TestDb::new(label).await;
    populate(&db).await;
    db
}

/// The old schema and its rows.
pub(super) async fn populate(db: &TestDb) {
    db.exec(&format!(
        "CREATE TABLE big (id bigint PRIMARY KEY, v integer NOT NULL); \
         INSERT INTO big SELECT g, (g * 7919) % 100003 FROM generate_series(1, {ROWS}) g; \
         CREATE TABLE small (id integer PRIMARY KEY, name text); \
         INSERT INTO small VALUES (1, 'a'), (2, NULL), (3, 'c'); ANALYZE"
    ))
    .await;
}

pub(super) async fn data_checksum(db: &TestDb) -> String {
    db.scalar::<String>(
        "SELECT md5(string_agg(id || ':' || v, ',' ORDER BY id)) || '/' || \
         (SELECT md5(string_agg(id || ':' || coalesce(name, '∅'), ',' ORDER BY id)) FROM small) FROM big",
    )
    .await
}

/// The new models as a target file for `dataflow apply --target`.
pub(super) fn target_file(label: &str) -> String {
    let target =
        std::env::temp_dir().join(format!("df_{label}_target_{}.json", std::process::id()));
    let desired = schema_of(&[model::<Big>(), model::<Small>()]).expect("models");
    std::fs::write(&target, desired.to_json()).expect("write the target");
    target.to_string_lossy().into_owned()
}

/// What is wrong with `db` after an interrupted run and the run after it: the schema is
/// not the target's, an INVALID index or an engine column is left, the history is not
/// one `applied` and no `running`, or the rows' data changed (`before`: the checksum of
/// the original data).
pub(super) async fn check(db: &TestDb, target: &str, before: &str) -> Vec<String> {
    let mut problems = Vec::new();
    let diff = Command::new(env!("CARGO_BIN_EXE_dataflow"))
        .args(["diff", "--db", &db.url, "--target", target, "--check"])
        .output()
        .expect("diff");
    if diff.status.code() != Some(0) {
        problems.push(format!("not at the new schema: {}", String::from_utf8_lossy(&diff.stdout)));
    }
    let invalid: i64 = db.scalar("SELECT count(*) FROM pg_index WHERE NOT indisvalid").await;
    let engine_columns: i64 = db
        .scalar("SELECT count(*) FROM information_schema.columns WHERE table_schema = 'public' AND column_name LIKE '\\_dataflow\\_%'")
        .await;
    let running: i64 =
        db.scalar("SELECT count(*) FROM _dataflow_migrations WHERE status = 'running'").await;
    let applied: i64 =
        db.scalar("SELECT count(*) FROM _dataflow_migrations WHERE status = 'applied'").await;
    let wrong_w: i64 = db.scalar("SELECT count(*) FROM big WHERE w IS DISTINCT FROM v * 2").await;
    let after = data_checksum(db).await;
    if invalid != 0 {
        problems.push(format!("{invalid} INVALID index(es)"));
    }
    if engine_columns != 0 {
        problems.push(format!("{engine_columns} engine column(s) left"));
    }
    if running != 0 || applied != 1 {
        let rows: Vec<String> = sqlx::query_scalar(
            "SELECT version || ' ' || status || ' ' || coalesce(progress::text, '') \
             FROM _dataflow_migrations ORDER BY started_at",
        )
        .fetch_all(db.db.pool())
        .await
        .unwrap_or_else(|e| vec![format!("history unreadable: {e}")]);
        problems.push(format!("history: {running} running, {applied} applied: {rows:#?}"));
    }
    if after != before || wrong_w != 0 {
        problems.push(format!("data changed: checksum {before} → {after}, {wrong_w} wrong w"));
    }
    problems
}

#[tokio::test]
async fn sigkill_at_any_moment_then_resume_keeps_every_row() {
    if !server_available().await {
        return;
    }
    let target = target_file("kill");

    let calibration = fresh("kill_calibrate").await;
    let planned = Command::new(env!("CARGO_BIN_EXE_dataflow"))
        .args(["diff", "--db", &calibration.url, "--target", &target])
        .output()
        .expect("diff");
    let planned = String::from_utf8_lossy(&planned.stdout);
    for part in ["CREATE INDEX CONCURRENTLY", "in keyset batches", "ADD CONSTRAINT \"small_check\""]
    {
        assert!(planned.contains(part), "the plan has {part}:\n{planned}");
    }
    // Calibrate: how long an uninterrupted run takes here, and when it is recorded running.
    let running = || async { history_counts(&calibration).await.0 > 0 };
    let (full, recorded) = calibrate(apply(&calibration.url, &target), running).await;
    let window = full.saturating_sub(recorded);
    calibration.drop_db().await;

    let seed = seed(0x5eed_cafe);
    let mut rng = Rng(seed);
    let (mut consistent, mut rows_lost) = (0usize, 0i64);
    let mut landings = Landings::default();
    let mut failures = Vec::new();
    let trials = trials(6);
    for trial in 0..trials {
        let mut problems = Vec::new();
        // Odd trials aim at the migration under way (in the first half of the calibrated
        // window after it is recorded running) and fail if they miss it; even trials land
        // anywhere from start-up to after the end (up to 1.2× the full run).
        let targeted = trial % 2 == 1;
        let mut delay = Duration::from_millis(if targeted {
            rng.below(window.as_millis() as u64 / 2)
        } else {
            rng.below((full.as_millis() as u64 * 12) / 10)
        });
        let mut attempt = 0;
        let (db, before, landed) = loop {
            let db = fresh("kill").await;
            let before = data_checksum(&db).await;
            if targeted {
                let running = || async { history_counts(&db).await.0 > 0 };
                kill_while_running(apply(&db.url, &target), running, delay).await;
            } else {
                kill_after(apply(&db.url, &target), delay);
            }
            let (running, applied) = history_counts(&db).await;
            let landed = Landed::from_history(running, applied);
            if targeted && aim_again(&mut attempt, &mut delay, landed) {
                db.drop_db().await;
                continue;
            }
            break (db, before, landed);
        };
        landings.count(landed);
        if targeted && landed != Landed::WhileRunning {
            problems.push(format!("the kill aimed at the running migration landed {landed:?}"));
        }
        let resumed = apply(&db.url, &target).output().expect("second run");
        if resumed.status.code() != Some(0) {
            problems.push(format!(
                "resume exited {:?}: {}",
                resumed.status.code(),
                String::from_utf8_lossy(&resumed.stderr)
            ));
        }
        problems.extend(check(&db, &target, &before).await);
        rows_lost += ROWS - db.scalar::<i64>("SELECT count(*) FROM big").await;
        if problems.is_empty() {
            consistent += 1;
        } else {
            failures.push(format!(
                "trial {trial} (kill at {} ms{}): {problems:?}",
                delay.as_millis(),
                if targeted { " after recorded running" } else { "" }
            ));
        }
        db.drop_db().await;
    }
    let _ = std::fs::remove_file(&target);
    let figure = serde_json::json!({
        "trials": trials,
        "consistent": consistent,
        "landed": landings.figure(),
        "recorded_running_after_ms": recorded.as_millis() as u64,
        "rows_lost": rows_lost,
        "rows": ROWS,
        "full_run_ms": full.as_millis() as u64,
        "seed": seed,
    });
    publish("kill anywhere (postgres)", "kill-postgres", &figure);
    assert!(failures.is_empty(), "{failures:#?}");
    assert_eq!(rows_lost, 0);
    assert!(landings.while_running >= trials / 2, "kills while running: {figure}");
}

/// The history's `running` and `applied` row counts (none before the table exists).
pub(super) async fn history_counts(db: &TestDb) -> (i64, i64) {
    if !db.scalar::<bool>("SELECT to_regclass('_dataflow_migrations') IS NOT NULL").await {
        return (0, 0);
    }
    (
        db.scalar("SELECT count(*) FROM _dataflow_migrations WHERE status = 'running'").await,
        db.scalar("SELECT count(*) FROM _dataflow_migrations WHERE status = 'applied'").await,
    )
}
