//! Suite 3 of the reliability issue: the migrator's connections are terminated
//! (`pg_terminate_backend`) at a random moment of the same plan as the kill suite, and —
//! on a private cluster this test starts itself (`initdb` on a free port, never the
//! shared server) — the server is restarted mid-run. The interrupted run must end with a
//! clear error (or have finished), and the next run must resume to a consistent state
//! (`kill_anywhere::check`). 5 termination trials and 1 restart in the tests;
//! `DATAFLOW_SOAK=1` runs 100 and 10. Writes `target/reliability-faults-postgres.json`.

use super::kill_anywhere::{apply, check, data_checksum, populate, target_file};
use super::support::{admin, server_available, TestDb};
use crate::common::soak::{publish, trials, Landed, Landings, Rng};
use dataflow_core::Postgres;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// A run that was interrupted either finished (exit 0) or says what happened to its
/// connection: `Error::ConnectionLost` with the advice to run again, or — when the
/// fault hit while it was connecting, before anything ran — `Error::Connect`.
fn clear_error(run: &Output) -> bool {
    let stderr = String::from_utf8_lossy(&run.stderr);
    let lost = stderr.contains("the connection to the database was lost")
        && stderr.contains("run the same migration again");
    run.status.code() == Some(0)
        || (run.status.code() == Some(1)
            && (lost || stderr.starts_with("error: cannot connect to")))
}

fn restarts() -> usize {
    if std::env::var("DATAFLOW_SOAK").is_ok_and(|v| v == "1") {
        10
    } else {
        1
    }
}

#[tokio::test]
async fn terminated_connections_then_resume_keep_every_row() {
    if !server_available().await {
        return;
    }
    let target = target_file("faults");
    let mut rng = Rng(0xfa17_5eed);
    let (trials, mut consistent, mut clear) = (trials(5), 0usize, 0usize);
    let mut landings = Landings::default();
    let mut failures = Vec::new();
    for trial in 0..trials {
        let db = TestDb::new("faults").await;
        populate(&db).await;
        let before = data_checksum(&db).await;
        let child = apply(&db.url, &target).spawn().expect("spawn");
        tokio::time::sleep(Duration::from_millis(rng.below(500))).await;
        admin(&[&format!(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{}' AND pid <> pg_backend_pid()",
            db.name
        )])
        .await;
        let interrupted = child.wait_with_output().expect("wait");
        clear += usize::from(clear_error(&interrupted));
        landings.count(landed(&db).await);
        let resumed = apply(&db.url, &target).output().expect("resume");
        let mut problems = Vec::new();
        if !clear_error(&interrupted) {
            problems.push(format!("unclear: {}", String::from_utf8_lossy(&interrupted.stderr)));
        }
        if resumed.status.code() != Some(0) {
            problems.push(format!("resume: {}", String::from_utf8_lossy(&resumed.stderr)));
        }
        problems.extend(check(&db, &target, &before).await);
        if !problems.is_empty() {
            problems.push(format!(
                "the interrupted run said: {}\nthe resume said: {}",
                String::from_utf8_lossy(&interrupted.stderr),
                String::from_utf8_lossy(&resumed.stderr)
            ));
        }
        if problems.is_empty() {
            consistent += 1;
        } else {
            failures.push(format!("trial {trial}: {problems:?}"));
        }
        db.drop_db().await;
    }
    let restart = restart_trials(&target).await;
    let _ = std::fs::remove_file(&target);
    let figure = serde_json::json!({
        "terminations": trials,
        "terminations_consistent": consistent,
        "terminations_clear_error_or_finished": clear,
        "terminations_landed": landings.figure(),
        "restarts": restart.0,
        "restarts_consistent": restart.1,
    });
    publish("connection faults (postgres)", "faults-postgres", &figure);
    failures.extend(restart.2);
    assert!(failures.is_empty(), "{failures:#?}");
}

/// A PostgreSQL cluster of this test's own, stopped and removed when dropped.
struct PrivateCluster {
    dir: PathBuf,
    port: u16,
}

impl PrivateCluster {
    /// `initdb` and start on a free port, as the `postgres` OS user when run as root.
    fn start() -> Option<PrivateCluster> {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .ok()?
            .flatten()
            .map(|e| e.path().join("bin"))
            .find(|b| b.join("initdb").exists())?;
        let dir = std::env::temp_dir().join(format!("df_private_pg_{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).ok()?;
        let mut cluster = PrivateCluster { dir, port: 0 };
        let as_postgres = |program: &str, args: &[&str]| {
            let mut command = if is_root() {
                let _ = Command::new("chown")
                    .args(["-R", "postgres", &cluster.dir.to_string_lossy()])
                    .status();
                let mut c = Command::new("runuser");
                c.args(["-u", "postgres", "--"]).arg(bin.join(program));
                c
            } else {
                Command::new(bin.join(program))
            };
            command
                .args(args)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        };
        let data = cluster.dir.join("data").to_string_lossy().into_owned();
        let log = cluster.dir.join("log").to_string_lossy().into_owned();
        if !as_postgres("initdb", &["-D", &data, "-U", "postgres", "-A", "trust", "--no-sync"]) {
            return None;
        }
        // The server binds the port itself: one that is taken fails the start, and the next
        // candidate is tried (no port picked by a probe and released, which another process
        // may take in between).
        let first = 20_000 + (std::process::id() % 20_000) as u16;
        let started = (0..20).map(|i| first.wrapping_add(i * 7)).find(|port| {
            let options = format!("-p {port} -c listen_addresses=127.0.0.1 -k /tmp -c fsync=off");
            as_postgres("pg_ctl", &["-D", &data, "-o", &options, "-l", &log, "-w", "start"])
        })?;
        cluster.port = started;
        Some(cluster)
    }

    fn ctl(&self, args: &[&str]) -> bool {
        let bin = std::fs::read_dir("/usr/lib/postgresql").ok().and_then(|d| {
            d.flatten().map(|e| e.path().join("bin")).find(|b| b.join("pg_ctl").exists())
        });
        let Some(bin) = bin else { return false };
        let data = self.dir.join("data").to_string_lossy().into_owned();
        let mut command = if is_root() {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(bin.join("pg_ctl"));
            c
        } else {
            Command::new(bin.join("pg_ctl"))
        };
        command
            .args(["-D", &data])
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }

    fn url(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }
}

impl Drop for PrivateCluster {
    fn drop(&mut self) {
        self.ctl(&["-m", "immediate", "-w", "stop"]);
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// Restarts of a private cluster mid-run: (trials, consistent, failures).
async fn restart_trials(target: &str) -> (usize, usize, Vec<String>) {
    let Some(cluster) = PrivateCluster::start() else {
        let message = "could not start a private PostgreSQL cluster (initdb/pg_ctl)";
        crate::common::skip::skip(message);
        return (0, 0, Vec::new());
    };
    let mut rng = Rng(0x0e57_a27e);
    let (mut consistent, mut mid_run, mut failures) = (0usize, 0usize, Vec::new());
    let trials = restarts();
    for trial in 0..trials {
        let name = format!("df_restart_{trial}");
        let admin_url = cluster.url("postgres");
        let mut admin_connection = connect_retrying(&admin_url).await;
        use sqlx::Executor;
        admin_connection
            .execute(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str())
            .await
            .expect("drop");
        admin_connection.execute(format!("CREATE DATABASE {name}").as_str()).await.expect("create");
        let url = cluster.url(&name);
        let db = TestDb {
            name: name.clone(),
            url: url.clone(),
            db: Postgres::connect(&url).await.expect("connect"),
        };
        populate(&db).await;
        let before = data_checksum(&db).await;
        let child = apply(&url, target).spawn().expect("spawn");
        tokio::time::sleep(Duration::from_millis(50 + rng.below(400))).await;
        let restarted = Instant::now();
        assert!(cluster.ctl(&["-m", "fast", "-w", "restart"]), "restart the private cluster");
        let interrupted = child.wait_with_output().expect("wait");
        mid_run += usize::from(landed(&db).await == Landed::WhileRunning);
        let resumed = apply(&url, target).output().expect("resume");
        let mut problems = Vec::new();
        if !clear_error(&interrupted) {
            problems.push(format!("unclear: {}", String::from_utf8_lossy(&interrupted.stderr)));
        }
        if resumed.status.code() != Some(0) {
            problems.push(format!("resume: {}", String::from_utf8_lossy(&resumed.stderr)));
        }
        problems.extend(check(&db, target, &before).await);
        if problems.is_empty() {
            consistent += 1;
        } else {
            failures.push(format!(
                "restart {trial} ({} ms): {problems:?}",
                restarted.elapsed().as_millis()
            ));
        }
        db.db.pool().close().await;
    }
    eprintln!("restarts that hit a running migration: {mid_run}/{trials}");
    (trials, consistent, failures)
}

/// Connects, retrying while the server is still starting.
async fn connect_retrying(url: &str) -> sqlx::PgConnection {
    use sqlx::Connection;
    for _ in 0..50 {
        if let Ok(connection) = sqlx::PgConnection::connect(url).await {
            return connection;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("the private cluster does not accept connections at {url}");
}

/// Where a fault landed, from the history once the faulted run has ended: a run left
/// `running` (its session was cut before it could record the end) or recorded `failed`
/// was hit while running.
async fn landed(db: &TestDb) -> Landed {
    let (running, applied) = super::kill_anywhere::history_counts(db).await;
    let failed: i64 =
        if db.scalar::<bool>("SELECT to_regclass('_dataflow_migrations') IS NOT NULL").await {
            db.scalar("SELECT count(*) FROM _dataflow_migrations WHERE status = 'failed'").await
        } else {
            0
        };
    Landed::from_history(running + failed, applied)
}
