//! The migrator: history, the migration lock, modes and refusals, concurrent replicas.

use super::support::{models, server_available, unattended, TestDb, TracedEvents};
use crate::common::applied::{auto_migrate_and_reverse, Reversal, Snapshot};
use dataflow::{model, DataFlow, Error, MigrateOptions, Mode, Model, RiskLevel, RunStatus};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

#[derive(Model)]
#[dataflow(table = "users")]
struct UserV1 {
    #[dataflow(primary_key, auto)]
    id: i64,
    email: String,
    legacy: Option<String>,
}

#[derive(Model)]
#[dataflow(table = "users")]
struct UserV2 {
    #[dataflow(primary_key, auto)]
    id: i64,
    email: String,
    legacy: Option<String>,
    #[dataflow(default = true)]
    active: bool,
}

#[derive(Model)]
#[dataflow(table = "users")]
struct UserV3 {
    #[dataflow(primary_key, auto)]
    id: i64,
    email: String,
    #[dataflow(default = true)]
    active: bool,
}

fn flow(db: &TestDb) -> DataFlow {
    DataFlow::from_pool(db.db.pool().clone())
}

#[tokio::test]
async fn auto_migrate_records_history_and_is_idempotent() {
    if !server_available().await {
        return;
    }
    let db = TestDb::new("migrator").await;
    let first = flow(&db).model::<UserV1>().auto_migrate(unattended()).await.expect("migrate");
    let version = first.version.clone().expect("a history version");
    assert!(first.applied);
    let (stamp, hash) = version.split_once('_').expect("YYYYMMDDHHMMSS_hash");
    assert!(stamp.len() == 14 && stamp.bytes().all(|b| b.is_ascii_digit()), "{version}");
    assert_eq!(hash, &first.plan.to_checksum[..8]);

    let again = flow(&db).model::<UserV1>().auto_migrate(unattended()).await.expect("no-op");
    assert!(!again.applied && again.plan.is_empty() && again.version.is_none());

    let v2 = flow(&db).model::<UserV2>();
    let second = auto_migrate_and_reverse(&db, &v2, unattended(), Reversal::Restores).await;
    let history = flow(&db).history(None).await.expect("history");
    // v1; then v2 through the assertion path: applied, rolled back, applied again. The
    // run with nothing to do wrote nothing.
    let statuses: Vec<&str> = history.iter().map(|row| row.status.as_str()).collect();
    assert_eq!(statuses, ["applied", "rolled_back", "applied"], "{history:?}");
    assert_eq!(history[0].version, second.version.clone().expect("v2 version"));
    assert!(history.iter().all(|row| row.execution_ms.is_some()));
    db.assert_converged(&models(&[model::<UserV2>()])).await;
    db.drop_db().await;
}

#[tokio::test]
async fn high_risk_is_refused_by_default_and_dry_run_changes_nothing() {
    if !server_available().await {
        return;
    }
    let db = TestDb::new("refuse").await;
    flow(&db).model::<UserV2>().auto_migrate(unattended()).await.expect("v2");
    db.exec("INSERT INTO users (email, legacy) VALUES ('a', 'keep')").await;

    let error = flow(&db).model::<UserV3>().auto_migrate(unattended()).await.expect_err("HIGH");
    assert!(matches!(error, Error::RiskRefused { .. }), "{error}");
    assert!(
        error.to_string().contains("DROP COLUMN") && error.to_string().contains("RiskLevel::High"),
        "{error}"
    );
    assert_eq!(db.scalar::<String>("SELECT legacy FROM users").await, "keep");

    let dry = unattended().with_mode(Mode::DryRun);
    let report = flow(&db).model::<UserV3>().auto_migrate(dry).await.expect("dry run");
    assert!(!report.applied && !report.plan.is_empty());
    assert_eq!(db.scalar::<String>("SELECT legacy FROM users").await, "keep");

    let declined = unattended()
        .with_mode(Mode::Interactive(Arc::new(|_| false)))
        .with_max_risk(RiskLevel::High);
    let error = flow(&db).model::<UserV3>().auto_migrate(declined).await.expect_err("declined");
    assert!(matches!(error, Error::Declined), "{error}");

    // Allowed, the drop keeps `legacy`'s values: the rollback restores them.
    let allowed = unattended().with_max_risk(RiskLevel::High);
    let v3 = flow(&db).model::<UserV3>();
    let report = auto_migrate_and_reverse(&db, &v3, allowed, Reversal::Restores).await;
    assert!(report.applied);
    assert_eq!(flow(&db).history(None).await.expect("history").len(), 3);
    db.drop_db().await;
}

// assertion path: about waiting (WaitOnly, a held lock); its one plan creates a table on an empty
// database, which the path covers in convergence.rs
#[tokio::test]
async fn wait_only_returns_once_another_process_migrated_and_the_lock_times_out_naming_its_holder()
{
    if !server_available().await {
        return;
    }
    let db = TestDb::new("waitonly").await;
    let (events, _capturing) = TracedEvents::capture();
    let waiter = {
        let pool = db.db.pool().clone();
        tokio::spawn(async move {
            let options =
                unattended().with_mode(Mode::WaitOnly).with_deadline(Some(Duration::from_secs(30)));
            DataFlow::from_pool(pool).model::<UserV1>().auto_migrate(options).await
        })
    };
    // Once it has planned, it has seen the pending change: it can only return after the
    // schema changes (or its 30 s deadline).
    events.wait_for("planned", 1).await;
    assert!(!waiter.is_finished(), "WaitOnly must wait while the schema differs");
    flow(&db).model::<UserV1>().auto_migrate(unattended()).await.expect("migrate");
    let waited = waiter.await.expect("join").expect("WaitOnly returns");
    assert!(!waited.applied);

    // Another session holds the migration lock: a bounded wait, then an error naming it.
    let key = dataflow::schema::checksum::sha256_hex(&format!("dataflow:{}", db.name));
    let key = u64::from_str_radix(&key[..16], 16).expect("hex") as i64;
    let mut holder = db.db.pool().acquire().await.expect("connection").detach();
    sqlx::query("SELECT pg_advisory_lock($1)").bind(key).execute(&mut holder).await.expect("lock");
    let options = unattended().with_migration_lock_timeout(Duration::from_millis(600));
    let error = flow(&db).model::<UserV2>().auto_migrate(options).await.expect_err("lock held");
    assert!(matches!(error, Error::LockTimeout { .. }), "{error}");
    assert!(format!("{error:?}").contains("backend pid"), "{error:?}");
    drop(holder);
    db.drop_db().await;
}

// assertion path: about concurrency (exactly one of eight applies); the CLI rollback of a
// DB-vs-DB apply is covered by cli.rs
/// Eight processes run `dataflow apply` on the same database at once: exactly one applies,
/// the others find nothing to do; one history row; every process exits 0.
#[tokio::test]
async fn eight_concurrent_processes_apply_exactly_once() {
    if !server_available().await {
        return;
    }
    let db = TestDb::new("replicas").await;
    let target = TestDb::new("replicas_t").await;
    db.exec("CREATE TABLE users (id bigint PRIMARY KEY); INSERT INTO users VALUES (1), (2)").await;
    target
        .exec("CREATE TABLE users (id bigint PRIMARY KEY, email text NOT NULL DEFAULT '', active boolean DEFAULT true); \
               CREATE TABLE orgs (id serial PRIMARY KEY, name text UNIQUE); CREATE INDEX users_email_idx ON users (email)")
        .await;
    // All eight start before any is waited for.
    let spawned: Vec<_> = (0..8)
        .map(|_| {
            Command::new(env!("CARGO_BIN_EXE_dataflow"))
                .args(["apply", "--db", &db.url, "--target", &target.url, "--yes"])
                .env_remove("DATABASE_URL")
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("spawn dataflow")
        })
        .collect();
    let children: Vec<_> =
        spawned.into_iter().map(|c| c.wait_with_output().expect("wait")).collect();
    for child in &children {
        assert_eq!(child.status.code(), Some(0), "{}", String::from_utf8_lossy(&child.stderr));
    }
    let said = |needle: &str| {
        children.iter().filter(|c| String::from_utf8_lossy(&c.stderr).contains(needle)).count()
    };
    assert_eq!(said("Applied "), 1, "exactly one process applied");
    assert_eq!(said("No changes"), 7, "the others found nothing to do");
    eprintln!(
        "replicas that waited for the lock and re-planned: {}",
        said("another migrator applied them first")
    );
    let rows: i64 = db.scalar("SELECT count(*) FROM _dataflow_migrations").await;
    assert_eq!(rows, 1);
    assert_eq!(db.scalar::<String>("SELECT status FROM _dataflow_migrations").await, "applied");
    assert_eq!(db.scalar::<i64>("SELECT count(*) FROM users").await, 2);
    db.drop_db().await;
    target.drop_db().await;
}

#[derive(Model)]
#[dataflow(table = "notes")]
struct Note {
    #[dataflow(primary_key, auto)]
    id: i64,
    #[dataflow(unique)]
    body: String,
}

/// Drops keep the data: a dropped column's values and a dropped table's rows come back
/// with `rollback_migration`; a rolled-back target is not re-applied unless forced.
#[tokio::test]
async fn rollback_restores_dropped_columns_and_tables_with_their_data() {
    if !server_available().await {
        return;
    }
    let db = TestDb::new("rollback").await;
    let high = || unattended().with_max_risk(RiskLevel::High);
    let v1 = flow(&db).model::<UserV2>().model::<Note>().auto_migrate(high()).await.expect("v1");
    db.exec(
        "INSERT INTO users (email, legacy) VALUES ('a', 'old a'), ('b', NULL), ('c', 'old c'); \
             INSERT INTO notes (body) VALUES ('n1'), ('n2')",
    )
    .await;
    let users_before = db.rows("SELECT id, email, legacy, active FROM users").await;
    let notes_before = db.rows("SELECT * FROM notes").await;
    let before = Snapshot::take(&db).await;

    // v2 (models): drop users.legacy — its values go to a backup table first.
    let v2 = flow(&db).model::<UserV3>().model::<Note>().auto_migrate(high()).await.expect("v2");
    let v2_version = v2.version.clone().expect("applied");
    // v3 (DB-vs-DB: the target is the whole namespace): drop the notes table — into the trash.
    let target = models(&[model::<UserV3>()]);
    let v3 = dataflow::migrate_to(&db.db, target, high()).await.expect("v3 drops notes");
    let v3_version = v3.version.clone().expect("applied");
    let trash: i64 =
        db.scalar(&format!("SELECT count(*) FROM \"_dataflow_trash_{v3_version}_notes\"")).await;
    assert_eq!(trash, 2, "the dropped table's rows are in the trash");
    // The freed names can be used again right away (its indexes moved with it).
    db.exec("CREATE TABLE notes (id int PRIMARY KEY, body text UNIQUE); DROP TABLE notes").await;

    let analysis = flow(&db).analyze_rollback(&v3_version).await.expect("analysis");
    assert!(analysis.fully_reversible && analysis.data_loss_warning.is_none(), "{analysis:?}");
    flow(&db).rollback_migration(&v3_version).await.expect("rollback v3");
    assert_eq!(db.rows("SELECT * FROM notes").await, notes_before);
    flow(&db).rollback_migration(&v2_version).await.expect("rollback v2");
    assert_eq!(db.rows("SELECT id, email, legacy, active FROM users").await, users_before);
    before.assert_restored(&db, "v2 and v3 rolled back").await;
    db.assert_converged(&models(&[model::<UserV2>(), model::<Note>()])).await;

    // The next replica with the v2 models must not undo the rollback: by default it
    // starts without migrating (a warning), or it fails when asked to.
    let started = flow(&db).model::<UserV3>().model::<Note>().auto_migrate(high()).await;
    let started = started.expect("a replica starts after a rollback");
    assert!(!started.applied && !started.plan.is_empty(), "not applied, still pending");
    assert_eq!(db.rows("SELECT id, email, legacy, active FROM users").await, users_before);
    let refuse = high().with_after_rollback(dataflow::AfterRollback::Refuse);
    let error = flow(&db)
        .model::<UserV3>()
        .model::<Note>()
        .auto_migrate(refuse)
        .await
        .expect_err("rolled back");
    assert!(matches!(error, Error::RolledBackTarget { .. }), "{error}");
    let forced = high().with_force(true);
    flow(&db).model::<UserV3>().model::<Note>().auto_migrate(forced).await.expect("forced");

    // rollback_to_version walks back over every newer applied run.
    let undone = flow(&db)
        .rollback_to_version(v1.version.as_deref().expect("v1 version"))
        .await
        .expect("to v1");
    assert_eq!(undone.len(), 1);
    assert_eq!(db.rows("SELECT id, email, legacy, active FROM users").await, users_before);
    let statuses: Vec<RunStatus> =
        flow(&db).history(None).await.expect("history").into_iter().map(|r| r.status).collect();
    use RunStatus::{Applied, RolledBack};
    assert_eq!(statuses, [RolledBack, RolledBack, RolledBack, Applied]);
    db.drop_db().await;
}

// assertion path: about the lock queue and retries; its ADD COLUMN … DEFAULT goes through the
// path in auto_migrate_records_history_and_is_idempotent
/// The lock queue (RISK.md §6): a transaction holds ACCESS SHARE on the table; adding a
/// column must give up after `lock_timeout` (55P03), retry with backoff, and succeed once
/// the holder commits — while another client's reads keep flowing.
#[tokio::test]
async fn a_blocked_ddl_times_out_retries_and_never_stalls_readers() {
    if !server_available().await {
        return;
    }
    let db = TestDb::new("lockqueue").await;
    let (events, _capture) = TracedEvents::capture();
    flow(&db).model::<UserV1>().auto_migrate(unattended()).await.expect("v1");
    db.exec("INSERT INTO users (email) SELECT 'u' || g FROM generate_series(1, 1000) g").await;

    let mut holder = db.db.pool().acquire().await.expect("holder").detach();
    sqlx::query("BEGIN").execute(&mut holder).await.expect("begin");
    sqlx::query("SELECT count(*) FROM users")
        .execute(&mut holder)
        .await
        .expect("ACCESS SHARE held");

    // The reader's own session gives up on a lock after 3× the DDL's lock_timeout: the
    // server, not a client clock, says whether a read queued behind the DDL for longer.
    let lock_timeout = Duration::from_millis(200);
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let reads = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let reader = {
        let mut connection = db.db.pool().acquire().await.expect("reader").detach();
        let patience = format!("SET lock_timeout = {}", (lock_timeout * 3).as_millis());
        sqlx::query(&patience).execute(&mut connection).await.expect("reader's lock_timeout");
        let (stop, reads) = (stop.clone(), reads.clone());
        tokio::spawn(async move {
            let mut stalled = Vec::new();
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                match sqlx::query("SELECT count(*) FROM users").execute(&mut connection).await {
                    Ok(_) => {}
                    Err(error) => stalled.push(error.to_string()),
                }
                reads.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            stalled
        })
    };
    let options = unattended().with_apply(
        dataflow::ApplyOptions::default()
            .with_lock_timeout(lock_timeout)
            .with_retries(20)
            .with_base_backoff(Duration::from_millis(100))
            .with_max_backoff(Duration::from_millis(400)),
    );
    let migrator = {
        let pool = db.db.pool().clone();
        tokio::spawn(async move {
            DataFlow::from_pool(pool).model::<UserV2>().auto_migrate(options).await
        })
    };
    // Two lock timeouts, each rolled back and retried: the DDL cannot get its lock while
    // the holder's transaction is open.
    events.wait_for("lock timeout, group rolled back; retrying", 2).await;
    assert!(
        !migrator.is_finished(),
        "the DDL cannot get its lock while the holder's transaction is open"
    );
    // The reader read while the DDL was retrying (bounded wait).
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while reads.load(std::sync::atomic::Ordering::Relaxed) < 5 {
        assert!(std::time::Instant::now() < deadline, "the reader never read");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    sqlx::query("COMMIT").execute(&mut holder).await.expect("commit");
    let report =
        migrator.await.expect("join").expect("the migration succeeds after the holder commits");
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let stalled = reader.await.expect("reader");
    assert!(report.applied);
    assert!(report.retries >= 2, "55P03 was hit and retried: {} retries", report.retries);
    assert!(
        stalled.is_empty(),
        "a read queued behind the DDL for longer than 3× its lock_timeout: {stalled:?}"
    );
    eprintln!(
        "lock queue: {} retries, {} reads, none queued past the reader's lock_timeout",
        report.retries,
        reads.load(std::sync::atomic::Ordering::Relaxed)
    );
    // Operators see the same story in their logs.
    let lines = events.lines();
    let count = |needle: &str| lines.iter().filter(|l| l.contains(needle)).count();
    assert_eq!(count("migration lock acquired"), 2, "{lines:#?}");
    assert_eq!(count("lock timeout, group rolled back; retrying"), report.retries as usize);
    assert!(lines.iter().any(|l| l.starts_with("dataflow::apply")
        && l.contains("retrying")
        && l.contains("table=users")
        && l.contains("backoff_ms=")));
    assert!(count("group committed") >= 2, "{lines:#?}");
    // Spans place every event: the lock wait, the retries inside their group.
    assert!(
        lines
            .iter()
            .any(|l| l.contains("migration lock acquired")
                && l.ends_with(" in=migrate/migration_lock")),
        "{lines:#?}"
    );
    assert!(
        lines.iter().any(|l| l.contains("retrying") && l.ends_with(" in=migrate/group")),
        "{lines:#?}"
    );
    assert!(
        lines.iter().any(|l| l.contains("step executed")
            && l.contains("ms=")
            && l.ends_with(" in=migrate/group/step")),
        "{lines:#?}"
    );
    let finished: Vec<&String> =
        lines.iter().filter(|l| l.contains("migration finished")).collect();
    assert_eq!(finished.len(), 2, "{lines:#?}");
    assert!(finished[1].contains(&format!("retries={}", report.retries)), "{}", finished[1]);
    db.assert_converged(&models(&[model::<UserV2>()])).await;
    db.drop_db().await;
}

// assertion path: about closing a run left `running`; it rolls that run back and applies it
// again by hand, checking the table is gone and the plan converges
/// A migrator that died after its last step, before recording it, leaves its run
/// `running` with the database at its target. The next run has nothing to do, yet closes
/// it — `applied`, since the target is reached — unless the lock is held (the migrator
/// is alive: nothing to do, no wait). A run for another target closes as `failed`.
#[tokio::test]
async fn a_run_left_running_at_its_target_is_closed_as_applied() {
    if !server_available().await {
        return;
    }
    let db = TestDb::new("left_running").await;
    let v1 = flow(&db).model::<UserV1>().auto_migrate(unattended()).await.expect("v1");
    let version = v1.version.expect("a version");
    let status = format!("SELECT status FROM _dataflow_migrations WHERE version = '{version}'");
    db.exec(&format!(
        "UPDATE _dataflow_migrations SET status = 'running' WHERE version = '{version}'"
    ))
    .await;

    // The lock is held: its holder is alive; a replica with nothing to do waits a short
    // grace for it (a migrator that just died frees it then), then returns, leaving the
    // run to its holder.
    let mut holder =
        <sqlx::PgConnection as sqlx::Connection>::connect(&db.url).await.expect("connect");
    sqlx::query("SELECT pg_advisory_lock($1)")
        .bind(dataflow_core::lock::key(&db.name))
        .execute(&mut holder)
        .await
        .expect("lock");
    let waiting = unattended().with_migration_lock_timeout(Duration::from_secs(30));
    let (events, capture) = TracedEvents::capture();
    let report = flow(&db).model::<UserV1>().auto_migrate(waiting).await.expect("held");
    drop(capture);
    assert!(!report.applied && report.plan.is_empty());
    assert_eq!(report.lock_wait_ms, 0, "nothing was waited for in the end");
    let held = events.lines().into_iter().find(|l| l.contains("still holds the lock"));
    let held = held.unwrap_or_else(|| panic!("the holder is reported: {:#?}", events.lines()));
    assert!(held.contains("waited_ms=3000"), "a 3 s grace, not the 30 s timeout: {held}");
    assert_eq!(db.scalar::<String>(&status).await, "running");
    sqlx::Connection::close(holder).await.expect("release");

    // The lock is free: the migrator died; its target is reached, so it was applied.
    let report = flow(&db).model::<UserV1>().auto_migrate(unattended()).await.expect("closed");
    assert!(!report.applied && report.version.is_none(), "nothing to apply");
    assert_eq!(db.scalar::<String>(&status).await, "applied");
    let note =
        format!("SELECT progress ->> 'note' FROM _dataflow_migrations WHERE version = '{version}'");
    assert!(db.scalar::<String>(&note).await.contains("after its last step"));
    // A run closed as applied is an applied run: it rolls back, and applies again.
    flow(&db).model::<UserV1>().rollback_migration(&version).await.expect("rollback");
    assert!(!db.scalar::<bool>("SELECT to_regclass('users') IS NOT NULL").await, "users gone");
    let forced = unattended().with_force(true);
    let again = flow(&db).model::<UserV1>().auto_migrate(forced).await.expect("again");
    assert!(again.applied);
    assert!(flow(&db).model::<UserV1>().plan().await.expect("plan").is_empty(), "converged");

    // A run left running for another target, before its steps were done, closes as
    // failed.
    db.exec(&format!(
        "UPDATE _dataflow_migrations SET status = 'running', checksum = 'elsewhere', \
         progress = progress - 'done' WHERE version = '{version}'"
    ))
    .await;
    flow(&db).model::<UserV1>().auto_migrate(unattended()).await.expect("closed");
    assert_eq!(db.scalar::<String>(&status).await, "failed");
    let running = "SELECT count(*) FROM _dataflow_migrations WHERE status = 'running'";
    assert_eq!(db.scalar::<i64>(running).await, 0);
    db.drop_db().await;
}

// assertion path: about planning scope — the only applies create each model set's table
/// Two applications with their own models on one database (the history's created tables
/// are read in the server here): each one's tables are never the other's orphans.
#[tokio::test]
async fn two_model_sets_on_one_database_never_orphan_each_other() {
    if !server_available().await {
        return;
    }
    let db = TestDb::new("two_model_sets").await;
    crate::common::model_sets::never_orphan_each_other(flow(&db), flow(&db)).await;
    let tables = "SELECT count(*) FROM pg_tables WHERE tablename IN ('users', 'invoices')";
    assert_eq!(db.scalar::<i64>(tables).await, 2);
}

// assertion path: about adoption, filters and orphans (partial plans by design); dropping an
// orphan into the trash and restoring it is covered by rollback_restores_dropped_columns…
/// Adoption, orphans, include_tables and exclude_operations.
#[tokio::test]
async fn adoption_orphans_and_filters() {
    if !server_available().await {
        return;
    }
    let db = TestDb::new("adopt").await;
    // A database made by hand that already matches UserV1.
    db.exec("CREATE TABLE users (id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, email text NOT NULL, legacy text); \
             INSERT INTO users (email) VALUES ('a')")
        .await;
    let adopted = flow(&db).model::<UserV1>().auto_migrate(unattended()).await.expect("adopt");
    assert!(!adopted.applied && adopted.plan.is_empty());
    let history = flow(&db).history(None).await.expect("history");
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].status, "baseline");
    assert!(history[0].description.contains("users"), "{:?}", history[0]);

    // include_tables / exclude_operations leave the rest pending.
    let only_notes = unattended().with_include_tables(vec!["notes".into()]);
    let report = flow(&db)
        .model::<UserV2>()
        .model::<Note>()
        .auto_migrate(only_notes)
        .await
        .expect("notes only");
    assert!(report.plan.steps.iter().all(|s| s.table == "notes"), "{}", report.plan);
    let no_adds = unattended().with_exclude_operations(vec![dataflow::Operation::AddColumn]);
    let report =
        flow(&db).model::<UserV2>().model::<Note>().auto_migrate(no_adds).await.expect("no adds");
    assert!(!report.applied, "the only pending step was excluded");
    assert!(!flow(&db).model::<UserV2>().model::<Note>().plan().await.expect("plan").is_empty());

    // notes was created by dataflow: without a model it is an orphan, reported and kept…
    let preview = flow(&db).model::<UserV1>().plan().await.expect("plan");
    assert!(preview.warnings.iter().any(|w| w.starts_with("table notes is orphaned")), "{preview}");
    let report = flow(&db).model::<UserV1>().auto_migrate(unattended()).await.expect("orphan kept");
    assert!(
        report.plan.warnings.iter().any(|w| w.contains("notes") && w.contains("orphaned")),
        "{:?}",
        report.plan.warnings
    );
    assert_eq!(db.scalar::<i64>("SELECT count(*) FROM notes").await, 0);
    // …and dropped (into the trash) with drop_orphans and max_risk HIGH.
    let drop = unattended().with_drop_orphans(true).with_max_risk(RiskLevel::High);
    let report = flow(&db).model::<UserV1>().auto_migrate(drop).await.expect("orphan dropped");
    assert!(report
        .plan
        .steps
        .iter()
        .any(|s| s.operation == dataflow::Operation::DropTable && s.table == "notes"));
    let legacy_users: i64 = db.scalar("SELECT count(*) FROM users").await;
    assert_eq!(legacy_users, 1, "adopted data untouched");
    db.drop_db().await;
}

// assertion path: about SIGKILL and resume; rows and values are counted after every resume,
// and kill_anywhere.rs checks consistency at random moments
/// SIGKILL a `dataflow apply` at several moments of a multi-group plan on a 200k-row
/// table: the next run ends with the target schema, every row intact, no run left
/// `running`, and exactly one `applied` row.
#[tokio::test]
async fn a_killed_run_is_resumed_by_the_next_one() {
    if !server_available().await {
        return;
    }
    let target = TestDb::new("killed_t").await;
    target
        .exec(
            "CREATE TABLE big (id bigint PRIMARY KEY, v int NOT NULL, note text); \
               CREATE INDEX big_v_idx ON big (v); CREATE INDEX big_note_idx ON big (note); \
               CREATE TABLE small (id int PRIMARY KEY, name text, extra boolean DEFAULT false); \
               CREATE TABLE added (id int PRIMARY KEY)",
        )
        .await;
    let mut outcomes = Vec::new();
    for delay_ms in [0u64, 40, 120, 300, 700] {
        let db = TestDb::new("killed").await;
        db.exec("CREATE TABLE big (id bigint PRIMARY KEY, v int NOT NULL); \
                 INSERT INTO big SELECT g, g % 1000 FROM generate_series(1, 200000) g; \
                 CREATE TABLE small (id int PRIMARY KEY, name text); INSERT INTO small VALUES (1, 'a'); ANALYZE")
            .await;
        let apply = || {
            let mut command = Command::new(env!("CARGO_BIN_EXE_dataflow"));
            command
                .args([
                    "apply",
                    "--db",
                    &db.url,
                    "--target",
                    &target.url,
                    "--yes",
                    "--max-risk",
                    "high",
                ])
                .env_remove("DATABASE_URL")
                .stdout(Stdio::null())
                .stderr(Stdio::piped());
            command
        };
        crate::common::soak::kill_after(apply(), Duration::from_millis(delay_ms));
        let resumed = apply().output().expect("second run");
        assert_eq!(resumed.status.code(), Some(0), "{}", String::from_utf8_lossy(&resumed.stderr));
        let check = Command::new(env!("CARGO_BIN_EXE_dataflow"))
            .args(["diff", "--db", &db.url, "--target", &target.url, "--check"])
            .output()
            .expect("diff");
        assert_eq!(check.status.code(), Some(0), "converged after a kill at {delay_ms} ms");
        assert_eq!(db.scalar::<i64>("SELECT count(*) FROM big").await, 200_000, "rows intact");
        assert_eq!(db.scalar::<i64>("SELECT sum(v) FROM big").await, 99_900_000, "values intact");
        let statuses: Vec<String> =
            sqlx::query_scalar("SELECT status FROM _dataflow_migrations ORDER BY started_at")
                .fetch_all(db.db.pool())
                .await
                .expect("history");
        assert!(!statuses.iter().any(|s| s == "running"), "{statuses:?}");
        assert_eq!(statuses.iter().filter(|s| *s == "applied").count(), 1, "{statuses:?}");
        outcomes.push(format!("{delay_ms} ms: {statuses:?}"));
        db.drop_db().await;
    }
    eprintln!("kill outcomes: {outcomes:?}");
    target.drop_db().await;
}

// assertion path: about the migration lock a killed run's statement keeps; the resume is
// checked for convergence, rows, values and history like the test above
/// SIGKILL a `dataflow apply` while its `CREATE INDEX CONCURRENTLY` waits on the server
/// (for a writer's open transaction). The statement outlives its client; until it ends,
/// the next migrator does not start — its lock wait gives up naming the statement and
/// how to stop it — and once it ends the next run converges with every row intact.
/// (When steps ran on a session other than the lock's, the lock was freed at the kill and
/// the next run's `DROP INDEX CONCURRENTLY` collided with the orphaned build: "tuple
/// concurrently updated", seen once in CI on PostgreSQL 16.)
#[tokio::test]
async fn a_killed_runs_statement_keeps_the_lock_until_it_ends() {
    use sqlx::{Connection, Executor};
    if !server_available().await {
        return;
    }
    let target = TestDb::new("orphan_t").await;
    target
        .exec("CREATE TABLE big (id bigint PRIMARY KEY, v int NOT NULL); CREATE INDEX big_v_idx ON big (v)")
        .await;
    let db = TestDb::new("orphan").await;
    db.exec(
        "CREATE TABLE big (id bigint PRIMARY KEY, v int NOT NULL); \
             INSERT INTO big SELECT g, g % 1000 FROM generate_series(1, 20000) g; ANALYZE",
    )
    .await;
    let apply = |wait: &str| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_dataflow"));
        command
            .args(["apply", "--db", &db.url, "--target", &target.url, "--yes"])
            .args(["--lock-timeout", "60s", "--migration-lock-timeout", wait])
            .env_remove("DATABASE_URL")
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        command
    };
    // A writer's open transaction: the index build waits for it to end.
    let mut writer = sqlx::PgConnection::connect(&db.url).await.expect("connect");
    writer.execute("BEGIN").await.expect("begin");
    writer.execute("UPDATE big SET v = v WHERE id = 1").await.expect("update");

    let mut child = apply("15m").spawn().expect("spawn");
    let building = "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() \
                    AND state = 'active' AND query LIKE 'CREATE INDEX CONCURRENTLY%'";
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while db.scalar::<i64>(building).await == 0 {
        assert!(std::time::Instant::now() < deadline, "the index build never started");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    child.kill().expect("kill");
    let killed = child.wait().expect("wait");
    assert!(!killed.success(), "the first run was killed mid-build: {killed:?}");
    assert_eq!(db.scalar::<i64>(building).await, 1, "the build outlives its client");

    let refused = apply("1s").output().expect("second run");
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert_ne!(refused.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("migration lock")
            && stderr.contains("CREATE INDEX CONCURRENTLY")
            && stderr.contains("pg_cancel_backend"),
        "the wait names the statement that holds the lock and how to stop it: {stderr}"
    );

    writer.execute("COMMIT").await.expect("commit");
    let resumed = apply("60s").output().expect("third run");
    assert_eq!(resumed.status.code(), Some(0), "{}", String::from_utf8_lossy(&resumed.stderr));
    let check = Command::new(env!("CARGO_BIN_EXE_dataflow"))
        .args(["diff", "--db", &db.url, "--target", &target.url, "--check"])
        .output()
        .expect("diff");
    assert_eq!(check.status.code(), Some(0), "converged after the orphaned build ended");
    let valid: bool =
        db.scalar("SELECT indisvalid FROM pg_index WHERE indexrelid = 'big_v_idx'::regclass").await;
    assert!(valid, "the index is valid");
    assert_eq!(db.scalar::<i64>("SELECT count(*) FROM big").await, 20_000, "rows intact");
    assert_eq!(db.scalar::<i64>("SELECT sum(v) FROM big").await, 9_990_000, "values intact");
    let statuses: Vec<String> =
        sqlx::query_scalar("SELECT status FROM _dataflow_migrations ORDER BY started_at")
            .fetch_all(db.db.pool())
            .await
            .expect("history");
    assert!(!statuses.iter().any(|s| s == "running"), "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| *s == "applied").count(), 1, "{statuses:?}");
    drop(writer);
    db.drop_db().await;
    target.drop_db().await;
}

#[derive(Model)]
#[dataflow(table = "short")]
struct Short {
    #[dataflow(primary_key, auto)]
    id: i64,
}

/// A model whose table name is too long, built at run time (the derive refuses it at
/// compile time).
fn too_long() -> dataflow::ModelDef {
    let mut def = dataflow::model::<Short>();
    def.table.name = dataflow::QualifiedName::new(
        "a_table_name_that_is_far_too_long_for_postgresql_which_keeps_63_bytes",
    );
    def
}

// assertion path: every apply here is refused; the test asserts nothing was recorded or created
/// Bad input changes nothing and says what, where, why and what to do.
#[tokio::test]
async fn bad_input_is_refused_with_a_clear_error() {
    if !server_available().await {
        return;
    }
    let db = TestDb::new("badinput").await;
    let error =
        flow(&db).models([too_long()]).auto_migrate(unattended()).await.expect_err("too long");
    let message = error.to_string();
    assert!(
        message.contains("a_table_name_that_is_far_too_long") && message.contains("63"),
        "{message}"
    );
    assert!(flow(&db).history(None).await.expect("history").is_empty(), "nothing recorded");

    // A role that may connect but not create anything (before PostgreSQL 15 every role
    // may create in `public` unless that is revoked).
    db.exec("REVOKE CREATE ON SCHEMA public FROM PUBLIC").await;
    let role = format!("df_readonly_{}", std::process::id());
    super::support::admin(&[
        &format!("DROP ROLE IF EXISTS {role}"),
        &format!("CREATE ROLE {role} LOGIN"),
    ])
    .await;
    let url = db.url.replacen("postgres@", &format!("{role}@"), 1);
    let readonly = DataFlow::connect(&url).await.expect("the role may connect").model::<UserV1>();
    let error = readonly.auto_migrate(unattended()).await.expect_err("no privileges");
    assert!(format!("{error:?}").contains("permission denied"), "{error:?}");
    let tables: i64 = db.scalar("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").await;
    assert_eq!(tables, 0, "nothing half-done");
    readonly.postgres().expect("postgres").pool().close().await;
    db.drop_db().await;
    super::support::admin(&[&format!("DROP ROLE IF EXISTS {role}")]).await;
}

pub mod explicit {
    use super::*;
    use dataflow::{ExplicitStep, MigrationPlan, QualifiedName};

    #[derive(Model)]
    #[dataflow(table = "users")]
    pub struct UserWithProfile {
        #[dataflow(primary_key, auto)]
        pub id: i64,
        pub email: String,
        #[dataflow(sql_type = "jsonb")]
        pub profile_json: Option<String>,
    }

    #[derive(Model)]
    #[dataflow(table = "users")]
    pub struct UserAfter {
        #[dataflow(primary_key, auto)]
        pub id: i64,
        pub email: String,
    }

    #[derive(Model)]
    #[dataflow(table = "user_profiles", check = "bio <> 'poison'")]
    pub struct UserProfile {
        #[dataflow(primary_key, references = "users.id", on_delete = "cascade")]
        pub user_id: i64,
        pub bio: Option<String>,
    }

    // assertion path: explicit plans cannot be rolled back (asserted: Error::ExplicitPlan); the
    // resumed copy is checked row by row
    /// Seed 003: move users.profile_json into a new user_profiles table — a schema step,
    /// a data step in keyset batches, raw SQL, and a schema step that drops the column.
    /// A run that fails half-way resumes from its last committed batch.
    #[tokio::test]
    async fn move_a_json_column_into_its_own_table_and_resume_after_a_failure() {
        if !server_available().await {
            return;
        }
        let db = TestDb::new("explicit").await;
        flow(&db).model::<UserWithProfile>().auto_migrate(unattended()).await.expect("v1");
        db.exec("INSERT INTO users (email, profile_json) SELECT 'u' || g, jsonb_build_object('bio', 'bio ' || g) \
                 FROM generate_series(1, 2500) g; \
                 UPDATE users SET profile_json = '{\"bio\": \"poison\"}' WHERE id = 1800")
            .await;
        let plan = MigrationPlan::new("move users.profile_json into user_profiles")
            .step(ExplicitStep::Schema(models(&[model::<UserWithProfile>(), model::<UserProfile>()])))
            .step(ExplicitStep::Data {
                table: QualifiedName::new("users"),
                key: "id".into(),
                sql: "INSERT INTO user_profiles (user_id, bio) SELECT id, profile_json ->> 'bio' FROM users \
                      WHERE id > $1 AND id <= $2"
                    .into(),
                batch_size: 1000,
            })
            .step(ExplicitStep::Sql { up: "ANALYZE user_profiles".into(), down: None, risk: RiskLevel::Safe })
            .step(ExplicitStep::Schema(models(&[model::<UserAfter>(), model::<UserProfile>()])));
        let high = || unattended().with_max_risk(RiskLevel::High);

        // The batch holding the poisoned row violates the new table's check: the run stops.
        let error = flow(&db).apply_plan(plan.clone(), high()).await.expect_err("batch 2 fails");
        assert!(format!("{error:?}").contains("user_profiles_check"), "{error:?}");
        assert_eq!(
            db.scalar::<i64>("SELECT count(*) FROM user_profiles").await,
            1000,
            "batch 1 committed"
        );
        let progress: String = db
            .scalar("SELECT progress::text FROM _dataflow_migrations WHERE status = 'failed'")
            .await;
        assert!(progress.contains("\"after\": 1000"), "{progress}");

        // Fix the data, run the same plan again: it resumes at key 1000 (a restart would
        // collide with the rows already copied).
        db.exec("UPDATE users SET profile_json = '{\"bio\": \"fixed\"}' WHERE id = 1800").await;
        let (events, capture) = TracedEvents::capture();
        let report = flow(&db).apply_plan(plan, high()).await.expect("resumed");
        drop(capture);
        assert!(report.applied);
        assert_eq!(db.scalar::<i64>("SELECT count(*) FROM user_profiles").await, 2500);
        let batches: Vec<String> =
            events.lines().into_iter().filter(|l| l.contains("data batch committed")).collect();
        assert_eq!(
            batches.len(),
            2,
            "the resumed run copies 1001..2000 and 2001..2500: {batches:#?}"
        );
        assert!(
            batches[0].contains("upto=2000") && batches[1].contains("upto=2500"),
            "{batches:#?}"
        );
        assert!(batches[1].contains("rows=2500"), "{batches:#?}");
        assert_eq!(
            db.scalar::<String>("SELECT bio FROM user_profiles WHERE user_id = 2500").await,
            "bio 2500"
        );
        assert_eq!(
            db.scalar::<String>(
                "SELECT status FROM _dataflow_migrations ORDER BY started_at DESC LIMIT 1"
            )
            .await,
            "applied"
        );
        db.assert_converged(&models(&[model::<UserAfter>(), model::<UserProfile>()])).await;
        let version = report.version.clone().expect("a version");
        let error = flow(&db).rollback_migration(&version).await.expect_err("explicit plans");
        assert!(matches!(error, Error::ExplicitPlan { .. }), "{error}");
        // Raw SQL above max_risk is refused before anything runs.
        let risky = MigrationPlan::new("truncate").step(ExplicitStep::Sql {
            up: "TRUNCATE user_profiles".into(),
            down: None,
            risk: RiskLevel::High,
        });
        let error = flow(&db).apply_plan(risky, unattended()).await.expect_err("HIGH raw SQL");
        assert!(matches!(error, Error::RiskRefused { .. }), "{error}");
        assert_eq!(db.scalar::<i64>("SELECT count(*) FROM user_profiles").await, 2500);
        db.drop_db().await;
    }
}

mod lost_connection {
    use super::*;

    #[derive(Model)]
    #[dataflow(table = "big")]
    pub struct BigV1 {
        #[dataflow(primary_key)]
        pub id: i64,
        pub v: i32,
    }

    #[derive(Model)]
    #[dataflow(
        table = "big",
        index(columns("v")),
        index(columns("v", "id"), name = "big_v_id_idx")
    )]
    pub struct BigV2 {
        #[dataflow(primary_key)]
        pub id: i64,
        pub v: i32,
        pub note: Option<String>,
    }

    #[derive(Model)]
    #[dataflow(table = "audit")]
    pub struct Audit {
        #[dataflow(primary_key, auto)]
        pub id: i64,
    }

    // assertion path: about a terminated connection and the resume; rows are counted after it,
    // and connection_faults.rs checks every row at random moments
    /// The migrator's connections are terminated mid-plan (`pg_terminate_backend`): a
    /// clear error, the run recorded (closed as failed by the next run), and the next
    /// run resumes to the models with every row intact.
    #[tokio::test]
    async fn a_lost_connection_mid_plan_is_reported_recorded_and_resumed() {
        if !server_available().await {
            return;
        }
        let db = TestDb::new("lostconn").await;
        flow(&db).model::<BigV1>().auto_migrate(unattended()).await.expect("v1");
        db.exec(
            "INSERT INTO big SELECT g, g % 1000 FROM generate_series(1, 1000000) g; ANALYZE big",
        )
        .await;
        let running = {
            let pool = db.db.pool().clone();
            tokio::spawn(async move {
                DataFlow::from_pool(pool)
                    .model::<BigV2>()
                    .model::<Audit>()
                    .auto_migrate(unattended())
                    .await
            })
        };
        // Wait until the index build is under way, then cut the migrator off.
        let mut admin =
            <sqlx::PgConnection as sqlx::Connection>::connect(&super::super::support::admin_url())
                .await
                .expect("admin");
        let mut terminated = 0i64;
        for _ in 0..100 {
            tokio::time::sleep(Duration::from_millis(30)).await;
            let building: i64 = sqlx::query_scalar(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND query ILIKE 'CREATE INDEX%' AND state = 'active'",
            )
            .bind(&db.name)
            .fetch_one(&mut admin)
            .await
            .expect("activity");
            if building > 0 {
                terminated = sqlx::query_scalar(
                    "SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                     WHERE datname = $1 AND application_name = 'dataflow') t",
                )
                .bind(&db.name)
                .fetch_one(&mut admin)
                .await
                .expect("terminate");
                break;
            }
        }
        assert!(terminated > 0, "the index build was caught in flight");
        let error = running.await.expect("join").expect_err("the migrator lost its connection");
        let message = error.to_string();
        assert!(message.contains("terminat") || message.contains("connection"), "{message}");
        eprintln!("lost connection: {message}");

        let resumed = flow(&db).model::<BigV2>().model::<Audit>().auto_migrate(unattended()).await;
        let resumed = resumed.expect("the next run resumes");
        assert!(resumed.applied);
        db.assert_converged(&models(&[model::<BigV2>(), model::<Audit>()])).await;
        assert_eq!(db.scalar::<i64>("SELECT count(*) FROM big").await, 1_000_000);
        let statuses: Vec<String> =
            sqlx::query_scalar("SELECT status FROM _dataflow_migrations ORDER BY started_at")
                .fetch_all(db.db.pool())
                .await
                .expect("history");
        assert!(statuses.iter().all(|s| s != "running"), "{statuses:?}");
        assert_eq!(statuses.last().map(String::as_str), Some("applied"), "{statuses:?}");
        let _ = sqlx::Connection::close(admin).await;
        db.drop_db().await;
    }
}

#[derive(Model)]
#[dataflow(table = "users")]
struct UserV4 {
    #[dataflow(primary_key, auto)]
    id: i64,
    email: String,
    #[dataflow(default = true)]
    active: bool,
    nickname: Option<String>,
}

/// rollback_to_version across three migrations; a reviewed plan that no longer matches
/// is refused; a lock that never frees gives up with the holders named; reports carry
/// per-transaction timings.
#[tokio::test]
async fn rollback_to_version_reviewed_plans_busy_locks_and_timings() {
    if !server_available().await {
        return;
    }
    let db = TestDb::new("threeback").await;
    let high = || unattended().with_max_risk(RiskLevel::High);
    let v1 = flow(&db).model::<UserV1>().auto_migrate(high()).await.expect("v1");
    db.exec("INSERT INTO users (email, legacy) VALUES ('a', 'x'), ('b', 'y')").await;
    let before = db.rows("SELECT id, email, legacy FROM users").await;
    let snapshot = Snapshot::take(&db).await;
    let v2 = flow(&db).model::<UserV2>().auto_migrate(high()).await.expect("v2");
    assert!(!v2.timings.is_empty() && v2.timings[0].steps == [1], "{:?}", v2.timings);
    flow(&db).model::<UserV3>().auto_migrate(high()).await.expect("v3");
    flow(&db).model::<UserV4>().auto_migrate(high()).await.expect("v4");
    let undone = flow(&db)
        .rollback_to_version(v1.version.as_deref().expect("v1"))
        .await
        .expect("back to v1");
    assert_eq!(undone.len(), 3, "{undone:?}");
    assert_eq!(db.rows("SELECT id, email, legacy FROM users").await, before);
    snapshot.assert_restored(&db, "rolled back to v1").await;
    db.assert_converged(&models(&[model::<UserV1>()])).await;

    // A reviewed plan's checksum pins what runs.
    let reviewed = flow(&db).model::<UserV2>().plan().await.expect("plan");
    let stale = unattended().with_expected_plan(Some("0".repeat(64))).with_force(true);
    let error = flow(&db).model::<UserV2>().auto_migrate(stale).await.expect_err("stale review");
    assert!(matches!(error, Error::PlanChanged { .. }), "{error}");
    let pinned =
        unattended().with_expected_plan(Some(reviewed.plan_checksum.clone())).with_force(true);
    assert!(flow(&db).model::<UserV2>().auto_migrate(pinned).await.expect("reviewed").applied);

    // A reader that never lets go: after the last retry, an error naming it.
    let mut holder = db.db.pool().acquire().await.expect("holder").detach();
    sqlx::query("BEGIN").execute(&mut holder).await.expect("begin");
    sqlx::query("SELECT count(*) FROM users").execute(&mut holder).await.expect("ACCESS SHARE");
    let impatient = high()
        .with_apply(
            dataflow::ApplyOptions::default()
                .with_lock_timeout(Duration::from_millis(100))
                .with_retries(2)
                .with_base_backoff(Duration::from_millis(50))
                .with_max_backoff(Duration::from_millis(100)),
        )
        .with_force(true);
    let error =
        flow(&db).model::<UserV4>().auto_migrate(impatient).await.expect_err("never gets the lock");
    let message = error.to_string();
    assert!(matches!(error, Error::LockBusy { attempts: 3, .. }), "{message}");
    assert!(
        message.contains("SELECT count(*) FROM users") && message.contains("idle in transaction"),
        "{message}"
    );
    sqlx::query("ROLLBACK").execute(&mut holder).await.expect("rollback");
    drop(holder);
    db.drop_db().await;
}

mod killed_data_step {
    use super::explicit::{UserAfter, UserProfile, UserWithProfile};
    use super::*;
    use dataflow::{ExplicitStep, MigrationPlan, QualifiedName};

    const CHILD_URL: &str = "DATAFLOW_KILL_CHILD_URL";

    fn plan() -> MigrationPlan {
        MigrationPlan::new("move profiles, slowly")
            .step(ExplicitStep::Schema(models(&[model::<UserWithProfile>(), model::<UserProfile>()])))
            .step(ExplicitStep::Data {
                table: QualifiedName::new("users"),
                key: "id".into(),
                sql: "INSERT INTO user_profiles (user_id, bio) SELECT id, profile_json ->> 'bio' FROM users \
                      WHERE id > $1 AND id <= $2"
                    .into(),
                // Small batches: a hundred commits, so kills land inside the step.
                batch_size: 1000,
            })
            .step(ExplicitStep::Schema(models(&[model::<UserAfter>(), model::<UserProfile>()])))
    }

    fn high() -> MigrateOptions {
        unattended().with_max_risk(RiskLevel::High)
    }

    // assertion path: the body of a child process that is killed (see the test below)
    /// Not a test of its own: the body of the child process the test below kills.
    #[tokio::test]
    #[ignore = "runs only as the child process of a_killed_data_migration_resumes_from_its_last_batch"]
    async fn kill_child_runs_the_explicit_plan() {
        let url = std::env::var(CHILD_URL).expect("started by the parent test");
        let flow = DataFlow::connect(&url).await.expect("connect");
        flow.apply_plan(plan(), high()).await.expect("the child's run");
    }

    // assertion path: explicit plans cannot be rolled back; every user is checked to have
    // exactly one profile after the resume
    /// SIGKILL the process running a plan with a non-transactional (batched) data step,
    /// before, during and after that step: the next run resumes from the last committed
    /// batch; every user gets exactly one profile; no run is left `running`.
    #[tokio::test]
    async fn a_killed_data_migration_resumes_from_its_last_batch() {
        if !server_available().await {
            return;
        }
        let mut outcomes = Vec::new();
        for delay_ms in [0u64, 400, 700, 1000, 1500, 5000] {
            let db = TestDb::new("killdata").await;
            flow(&db).model::<UserWithProfile>().auto_migrate(unattended()).await.expect("v1");
            db.exec("INSERT INTO users (email, profile_json) SELECT 'u' || g, jsonb_build_object('bio', 'b' || g) \
                     FROM generate_series(1, 100000) g")
                .await;
            let child = super::super::support::spawn_child_test(
                "postgres::migrator::killed_data_step::kill_child_runs_the_explicit_plan",
                CHILD_URL,
                &db.url,
            );
            tokio::time::sleep(Duration::from_millis(delay_ms)).await;
            crate::common::soak::kill_and_check(child);
            let copied_before: i64 = sqlx::query_scalar("SELECT count(*) FROM user_profiles")
                .fetch_one(db.db.pool())
                .await
                .unwrap_or(0);
            flow(&db).apply_plan(plan(), high()).await.expect("the next run resumes");
            assert_eq!(db.scalar::<i64>("SELECT count(*) FROM user_profiles").await, 100_000);
            assert_eq!(
                db.scalar::<i64>("SELECT count(DISTINCT user_id) FROM user_profiles").await,
                100_000
            );
            assert_eq!(
                db.scalar::<i64>("SELECT count(*) FROM users").await,
                100_000,
                "no rows lost"
            );
            let statuses: Vec<String> =
                sqlx::query_scalar("SELECT status FROM _dataflow_migrations ORDER BY started_at")
                    .fetch_all(db.db.pool())
                    .await
                    .expect("history");
            assert!(statuses.iter().all(|s| s != "running"), "{statuses:?}");
            assert_eq!(statuses.last().map(String::as_str), Some("applied"), "{statuses:?}");
            db.assert_converged(&models(&[model::<UserAfter>(), model::<UserProfile>()])).await;
            outcomes.push(format!(
                "{delay_ms} ms: {copied_before} rows copied before the kill, history {statuses:?}"
            ));
            db.drop_db().await;
        }
        eprintln!("kill outcomes: {outcomes:#?}");
    }
}

#[derive(Model)]
#[dataflow(table = "stock")]
struct StockV1 {
    #[dataflow(primary_key, auto)]
    id: i64,
    qty: i32,
}

#[derive(Model)]
#[dataflow(table = "stock")]
struct StockV2 {
    #[dataflow(primary_key, auto)]
    id: i64,
    qty: i64,
}

/// `integer → bigint` rewrites the table: MEDIUM for the lock it holds, shown SAFE on a
/// table the statistics say is tiny. `max_risk: Safe` counts what the preview shows — the
/// tiny table's rewrite runs, the same rewrite on a table of unknown size is refused.
#[tokio::test]
async fn max_risk_safe_counts_the_level_the_preview_shows() {
    if !server_available().await {
        return;
    }
    let safe = || unattended().with_max_risk(RiskLevel::Safe);
    let db = TestDb::new("shownsafe").await;
    flow(&db).model::<StockV1>().auto_migrate(unattended()).await.expect("v1");
    db.exec("INSERT INTO stock (qty) SELECT g FROM generate_series(1, 50) g").await;

    // Never analysed: the size is unknown, so the rewrite is MEDIUM, shown and counted.
    let dry = flow(&db).model::<StockV2>().auto_migrate(safe().with_mode(Mode::DryRun)).await;
    let plan = dry.expect("dry run").plan;
    assert_eq!(plan.steps.len(), 1, "{plan}");
    assert_eq!(plan.steps[0].shown_level, RiskLevel::Medium, "{plan}");
    let error = flow(&db).model::<StockV2>().auto_migrate(safe()).await.expect_err("MEDIUM");
    assert!(matches!(error, Error::RiskRefused { .. }), "{error}");
    assert!(error.to_string().contains("stock"), "{error}");

    // Analysed: 50 rows, shown SAFE (tiny table), and `max_risk: Safe` lets it run.
    db.exec("ANALYZE stock").await;
    let dry = flow(&db).model::<StockV2>().auto_migrate(safe().with_mode(Mode::DryRun)).await;
    let plan = dry.expect("dry run").plan;
    assert_eq!(plan.steps[0].shown_level, RiskLevel::Safe, "{plan}");
    assert_eq!(plan.steps[0].policy_level(), RiskLevel::Safe, "{plan}");
    assert!(plan.to_string().contains("SAFE (tiny table; MEDIUM when large)"), "{plan}");
    let v2 = flow(&db).model::<StockV2>();
    let report = auto_migrate_and_reverse(&db, &v2, safe(), Reversal::Restores).await;
    assert!(report.applied);
    assert_eq!(db.scalar::<i64>("SELECT sum(qty)::bigint FROM stock").await, 1275);
    db.drop_db().await;
}
