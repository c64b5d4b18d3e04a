//! Ctrl-C (SIGINT) at random moments of `dataflow apply` on a plan with a keyset fill of
//! 100,000 rows and a `CREATE INDEX CONCURRENTLY`: the command exits 130 saying where
//! things stand, nothing of it is left running on the server (no active statement, no
//! advisory lock), its run is closed, the next run converges with every row intact, and
//! rolling back the completed change restores the schema and the rows — also when the
//! change was finished by a run that went on from the interrupted one.

use super::kill_anywhere::{apply, check, data_checksum, populate, target_file};
use super::support::{server_available, TestDb};
use crate::common::applied::Snapshot;
use crate::common::soak::{publish, seed, trials, Rng};
use std::process::Command;
use std::time::{Duration, Instant};

/// Sessions of `db` other than the asking one that are still doing something, and
/// advisory locks held in it.
async fn server_work_left(db: &TestDb) -> (i64, i64) {
    let active: i64 = db
        .scalar(
            // Client sessions only: an autovacuum worker on the freshly filled table is
            // the server's own work, not something the interrupted command left.
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() \
             AND pid <> pg_backend_pid() AND state <> 'idle' AND backend_type = 'client backend'",
        )
        .await;
    let locks: i64 = db
        .scalar(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' \
             AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
        )
        .await;
    (active, locks)
}

async fn running_rows(db: &TestDb) -> i64 {
    let exists: bool = db.scalar("SELECT to_regclass('_dataflow_migrations') IS NOT NULL").await;
    if !exists {
        return 0;
    }
    db.scalar("SELECT count(*) FROM _dataflow_migrations WHERE status = 'running'").await
}

#[tokio::test]
async fn ctrl_c_at_any_moment_leaves_nothing_running_and_the_next_run_converges() {
    if !server_available().await {
        return;
    }
    let target = target_file("interrupt");
    // How long an uninterrupted run takes here: the moments are drawn within it.
    let calibration = TestDb::new("interrupt_calibrate").await;
    populate(&calibration).await;
    let started = Instant::now();
    let run = apply(&calibration.url, &target).output().expect("calibration run");
    assert_eq!(run.status.code(), Some(0), "{}", String::from_utf8_lossy(&run.stderr));
    let span = started.elapsed().as_millis() as u64;
    calibration.drop_db().await;

    let mut rng = Rng(seed(0x1c7e_5ca1));
    let trials = trials(8);
    let (mut during_a_run, mut exited_130, mut consistent) = (0usize, 0usize, 0usize);
    let (mut resumed_trials, mut rolled_back) = (0usize, 0usize);
    let mut failures = Vec::new();
    for trial in 0..trials {
        let db = TestDb::new("interrupt").await;
        populate(&db).await;
        let before = Snapshot::take(&db).await;
        let checksum = data_checksum(&db).await;
        let child = apply(&db.url, &target).spawn().expect("spawn");
        // From 150 ms (the process has its signal handler) to the end of a normal run.
        tokio::time::sleep(Duration::from_millis(150 + rng.below(span))).await;
        let running = running_rows(&db).await > 0;
        let signal = Command::new("kill").args(["-INT", &child.id().to_string()]).status();
        assert!(signal.is_ok_and(|s| s.success()), "SIGINT sent");
        let interrupted = child.wait_with_output().expect("wait");
        let said = String::from_utf8_lossy(&interrupted.stderr).into_owned();
        let mut problems = Vec::new();
        match interrupted.status.code() {
            Some(130) => {
                exited_130 += 1;
                during_a_run += usize::from(running);
                if !said.contains("Interrupted") {
                    problems.push(format!("no word of the interrupt: {said}"));
                }
                // Closed by the interrupt, or finished just before it.
                if running && !(said.contains("recorded as") || said.contains("left in progress")) {
                    problems.push(format!("the run it recorded is not said to be closed: {said}"));
                }
            }
            Some(0) => {} // it had finished
            other => problems.push(format!("exit {other:?}: {said}")),
        }
        // Right after the command exits: nothing of it on the server.
        let (active, locks) = server_work_left(&db).await;
        if (active, locks) != (0, 0) {
            problems
                .push(format!("left on the server: {active} active session(s), {locks} lock(s)"));
        }
        if running_rows(&db).await != 0 {
            problems.push("a run is still recorded running".into());
        }
        let resumed = apply(&db.url, &target).output().expect("the next run");
        if resumed.status.code() != Some(0) {
            problems.push(format!("next run: {}", String::from_utf8_lossy(&resumed.stderr)));
        }
        problems.extend(check(&db, &target, &checksum).await);
        // A run that went on from the interrupted one owns the whole change: its rollback
        // undoes the interrupted run's started steps too (issue 26.4).
        let resumed_a_failed_run: bool = problems.is_empty()
            && db
                .scalar("SELECT count(*) > 0 FROM _dataflow_migrations WHERE status = 'failed'")
                .await;
        resumed_trials += usize::from(resumed_a_failed_run);
        if problems.is_empty() {
            let version: String = db
                .scalar("SELECT version FROM _dataflow_migrations WHERE status = 'applied'")
                .await;
            let rollback = Command::new(env!("CARGO_BIN_EXE_dataflow"))
                .args(["rollback", &version, "--db", &db.url, "--yes"])
                .env_remove("DATABASE_URL")
                .output()
                .expect("rollback");
            assert_eq!(
                rollback.status.code(),
                Some(0),
                "trial {trial}: {}",
                String::from_utf8_lossy(&rollback.stderr)
            );
            before.assert_restored(&db, &format!("trial {trial}: rolled back")).await;
            let left: i64 = db
                .scalar("SELECT count(*) FROM _dataflow_migrations WHERE status <> 'rolled_back'")
                .await;
            assert_eq!(left, 0, "trial {trial}: every run of the change is rolled back");
            rolled_back += 1;
            consistent += 1;
        } else {
            failures.push(format!("trial {trial}: {problems:?}\n{said}"));
        }
        db.drop_db().await;
    }
    let _ = std::fs::remove_file(&target);
    let figure = serde_json::json!({
        "trials": trials,
        "exited_130": exited_130,
        "interrupted_during_a_recorded_run": during_a_run,
        "consistent": consistent,
        "rolled_back_and_restored": rolled_back,
        "resumed_then_rolled_back_whole": resumed_trials,
    });
    publish("interrupts (postgres)", "interrupt-postgres", &figure);
    assert!(failures.is_empty(), "{failures:#?}");
    assert!(exited_130 > 0, "no trial interrupted a running command: {figure}");
}
