//! Suite 2 of the reliability issue on MariaDB: `dataflow apply` (DB-vs-DB) is SIGKILLed
//! at a random moment (uniform in 0–1.2× the uninterrupted run, seed printed) of a plan
//! that adds a defaulted column and builds two indexes on a 200,000-row table and alters
//! and creates small tables — statements that each commit on their own, recorded step by
//! step. Then it runs again. A trial is consistent when the second run exits 0, the
//! schema equals the target (`dataflow diff --check`), no run is left `running`, exactly
//! one is `applied`, a killed run keeps its recorded steps, and every row of every table
//! is as before (counts and a CRC of every row). Each kill is classified by the history
//! right after it; every other trial aims at the migration under way and fails if it lands
//! elsewhere. 6 trials in the tests; `DATAFLOW_SOAK=1` runs 100.
//! Writes `target/reliability-kill-mysql.json`.

use super::support::{server_available, TestDb};
use crate::common::soak::{
    aim_again, calibrate, kill_after, kill_while_running, publish, seed, trials, Landed, Landings,
    Rng,
};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const ROWS: i64 = 200_000;

/// Every row of every table the run starts from (`big` and `small`), as counts and
/// order-independent checksums of every column (NULL kept apart from any text).
const DATA: &str = "SELECT CAST(CONCAT( \
     (SELECT CONCAT(count(*), ':', BIT_XOR(CRC32(CONCAT_WS('|', id, v)))) FROM big), '/', \
     (SELECT CONCAT(count(*), ':', BIT_XOR(CRC32(CONCAT_WS('|', id, QUOTE(name))))) FROM small) \
   ) AS CHAR)";

async fn populated() -> TestDb {
    let db = TestDb::new("kill").await;
    db.exec(&format!(
        "SET SESSION max_recursive_iterations = 1000000;\n\
         CREATE TABLE big (id bigint PRIMARY KEY, v int NOT NULL);\n\
         INSERT INTO big WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < {ROWS}) SELECT n, n % 1000 FROM g;\n\
         CREATE TABLE small (id int PRIMARY KEY, name varchar(10));\n\
         INSERT INTO small VALUES (1, 'a')"
    ))
    .await;
    db
}

fn apply(url: &str, target: &str) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_dataflow"));
    command
        .args(["apply", "--db", url, "--target", target, "--yes", "--max-risk", "high"])
        .env_remove("DATABASE_URL")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    command
}

/// What is wrong with `db` after the second run, if anything.
async fn check(db: &TestDb, target: &str, before: &str) -> Vec<String> {
    let mut problems = Vec::new();
    let diff = Command::new(env!("CARGO_BIN_EXE_dataflow"))
        .args(["diff", "--db", &db.url, "--target", target, "--check"])
        .output()
        .expect("diff");
    if diff.status.code() != Some(0) {
        problems.push(format!("not converged: {}", String::from_utf8_lossy(&diff.stdout)));
    }
    let after = db.rows(DATA).await;
    if after != [before] {
        problems.push(format!("rows changed: {before} → {after:?}"));
    }
    let statuses = db.rows("SELECT status FROM _dataflow_migrations ORDER BY seq").await;
    if statuses.iter().any(|s| s == "running")
        || statuses.iter().filter(|s| *s == "applied").count() != 1
    {
        problems.push(format!("history: {statuses:?}"));
    }
    let interrupted = db
        .rows("SELECT CAST(progress AS CHAR) FROM _dataflow_migrations WHERE status = 'failed'")
        .await;
    for progress in interrupted {
        if !serde_json::from_str::<serde_json::Value>(&progress).is_ok_and(|p| p.is_object()) {
            problems.push(format!("a killed run lost its recorded steps: {progress}"));
        }
    }
    problems
}

/// The target database (the new schema), how long an uninterrupted run to it takes here
/// and when it is recorded running: the random moments are drawn within them.
async fn target_and_a_full_run(label: &str) -> (TestDb, Duration, Duration) {
    let target = TestDb::new(label).await;
    target
        .exec("CREATE TABLE big (id bigint PRIMARY KEY, v int NOT NULL, note varchar(20) NOT NULL DEFAULT 'x', INDEX big_v_idx (v), INDEX big_note_idx (note));\n\
               CREATE TABLE small (id int PRIMARY KEY, name varchar(10), extra tinyint(1) DEFAULT 0);\n\
               CREATE TABLE added (id int PRIMARY KEY)")
        .await;
    let calibration = populated().await;
    let running = || async { history_counts(&calibration).await.0 > 0 };
    let (full, recorded) = calibrate(apply(&calibration.url, &target.url), running).await;
    calibration.drop_db().await;
    (target, full, recorded)
}

/// The history's `running` and `applied` row counts (none before the table exists).
async fn history_counts(db: &TestDb) -> (i64, i64) {
    let table = db
        .count("SELECT count(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = '_dataflow_migrations'")
        .await;
    if table == 0 {
        return (0, 0);
    }
    (
        db.count("SELECT count(*) FROM _dataflow_migrations WHERE status = 'running'").await,
        db.count("SELECT count(*) FROM _dataflow_migrations WHERE status = 'applied'").await,
    )
}

#[tokio::test]
async fn sigkill_at_any_moment_then_resume_keeps_every_row() {
    if !server_available().await {
        return;
    }
    let (target, full, recorded) = target_and_a_full_run("kill_t").await;
    let window = full.saturating_sub(recorded);

    let seed = seed(0x6d61_7269);
    let mut rng = Rng(seed);
    let (trials, mut consistent) = (trials(6), 0usize);
    let mut landings = Landings::default();
    let (mut rows_lost, mut failures) = (0i64, Vec::new());
    for trial in 0..trials {
        let mut problems = Vec::new();
        // Odd trials aim at the migration under way (in the first half of the calibrated
        // window after it is recorded running) and fail if they miss it; even trials land
        // anywhere up to 1.2× the full run (some after it finished: nothing to resume).
        let targeted = trial % 2 == 1;
        let mut delay = Duration::from_millis(if targeted {
            rng.below(window.as_millis() as u64 / 2)
        } else {
            rng.below((full.as_millis() as u64 * 12) / 10)
        });
        let mut attempt = 0;
        let (db, before, landed) = loop {
            let db = populated().await;
            let before = db.rows(DATA).await.concat();
            if targeted {
                let running = || async { history_counts(&db).await.0 > 0 };
                kill_while_running(apply(&db.url, &target.url), running, delay).await;
            } else {
                kill_after(apply(&db.url, &target.url), delay);
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
        let resumed = apply(&db.url, &target.url).output().expect("second run");
        if resumed.status.code() != Some(0) {
            problems.push(format!(
                "resume exited {:?}: {}",
                resumed.status.code(),
                String::from_utf8_lossy(&resumed.stderr)
            ));
        }
        problems.extend(check(&db, &target.url, &before).await);
        rows_lost += ROWS - db.count("SELECT count(*) FROM big").await;
        if problems.is_empty() {
            consistent += 1;
            db.drop_db().await;
        } else {
            failures.push(format!(
                "trial {trial} (kill at {} ms, database {}): {problems:?}",
                delay.as_millis(),
                db.name
            ));
        }
    }
    target.drop_db().await;
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
    publish("kill anywhere (mysql)", "kill-mysql", &figure);
    assert!(failures.is_empty(), "{failures:#?}");
    assert_eq!(rows_lost, 0);
    assert!(landings.while_running >= trials / 2, "kills while running: {figure}");
}

/// Ctrl-C (SIGINT) at a random moment of the same plan: the command exits 130 saying so
/// (or 0, finished), nothing of it is left on the server (no session of it running a
/// statement, the migration lock free), its run is closed, and the next run converges
/// with every row (the same check as above).
// assertion path: about interrupts; the next run's state is checked as after a kill, and
// this plan's kinds roll back through `migrate` in convergence.rs
#[tokio::test]
async fn ctrl_c_at_any_moment_leaves_nothing_running_and_the_next_run_converges() {
    if !server_available().await {
        return;
    }
    let (target, full, _) = target_and_a_full_run("int_t").await;
    let full = full.as_millis() as u64;

    let mut rng = Rng(seed(0x1c7e_0db1));
    let (trials, mut exited_130, mut consistent) = (trials(4), 0usize, 0usize);
    let mut failures = Vec::new();
    for trial in 0..trials {
        let db = populated().await;
        let before = db.rows(DATA).await.concat();
        let mut child = apply(&db.url, &target.url).spawn().expect("spawn");
        if trial % 2 == 1 {
            // Odd trials interrupt as soon as the run is recorded running: at least these
            // hit a running command, however fast this machine runs the plan.
            let deadline = Instant::now() + Duration::from_secs(60);
            while history_counts(&db).await.0 == 0
                && child.try_wait().ok().flatten().is_none()
                && Instant::now() < deadline
            {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        } else {
            tokio::time::sleep(Duration::from_millis(150 + rng.below(full))).await;
        }
        let signal = Command::new("kill").args(["-INT", &child.id().to_string()]).status();
        assert!(signal.is_ok_and(|s| s.success()), "SIGINT sent");
        let interrupted = child.wait_with_output().expect("wait");
        let said = String::from_utf8_lossy(&interrupted.stderr).into_owned();
        let mut problems = Vec::new();
        match interrupted.status.code() {
            Some(130) if said.contains("Interrupted") => exited_130 += 1,
            Some(0) => {}
            other => problems.push(format!("exit {other:?}: {said}")),
        }
        let busy = db
            .count("SELECT count(*) FROM information_schema.PROCESSLIST WHERE DB = DATABASE() AND ID <> CONNECTION_ID() AND COMMAND <> 'Sleep'")
            .await;
        let lock = dataflow::schema::dialect::mysql::quote_literal(
            &dataflow_core::connector::mysql::lock_name(&db.name),
        );
        let free = db.count(&format!("SELECT IS_FREE_LOCK({lock})")).await;
        if busy != 0 || free != 1 {
            problems.push(format!("left on the server: {busy} busy session(s), lock free: {free}"));
        }
        // Interrupted early enough, there is no history table yet.
        let history = db
            .count("SELECT count(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = '_dataflow_migrations'")
            .await;
        let running = if history == 0 {
            0
        } else {
            db.count("SELECT count(*) FROM _dataflow_migrations WHERE status = 'running'").await
        };
        if running != 0 {
            problems.push("a run is still recorded running".into());
        }
        let resumed = apply(&db.url, &target.url).output().expect("the next run");
        if resumed.status.code() != Some(0) {
            problems.push(format!("next run: {}", String::from_utf8_lossy(&resumed.stderr)));
        }
        problems.extend(check(&db, &target.url, &before).await);
        if problems.is_empty() {
            consistent += 1;
            db.drop_db().await;
        } else {
            failures.push(format!("trial {trial} (database {}): {problems:?}", db.name));
        }
    }
    target.drop_db().await;
    let figure = serde_json::json!({
        "trials": trials, "exited_130": exited_130, "consistent": consistent,
    });
    publish("interrupts (mysql)", "interrupt-mysql", &figure);
    assert!(failures.is_empty(), "{failures:#?}");
    assert!(exited_130 > 0, "no trial interrupted a running command: {figure}");
}
