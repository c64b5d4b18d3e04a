//! `auto_migrate` on MySQL/MariaDB: history recorded step by step, eight processes at
//! once (SIGKILL at any moment: `kill_anywhere.rs`), a failed step and the rollback of
//! the steps before it, lock-wait timeouts retried then reported, the migration lock's timeout
//! naming its holder.

use super::support::{server_available, unattended, TestDb};
use crate::common::applied::{auto_migrate_and_reverse, Reversal};
use dataflow::{model, ApplyOptions, Error, LeftBehind, Model};
use sqlx::{Connection, Executor};
use std::process::{Command, Stdio};
use std::time::Duration;

#[derive(Model)]
#[dataflow(table = "users")]
struct UserV1 {
    #[dataflow(primary_key, auto)]
    id: i64,
    #[dataflow(max_length = 200)]
    email: String,
}

#[derive(Model)]
#[dataflow(table = "users", index(columns("email")))]
struct UserV2 {
    #[dataflow(primary_key, auto)]
    id: i64,
    #[dataflow(max_length = 200)]
    email: String,
    #[dataflow(default = 0)]
    logins: i32,
}

#[derive(Model)]
#[dataflow(table = "notes")]
struct Note {
    #[dataflow(primary_key, auto)]
    id: i64,
    #[dataflow(max_length = 200)]
    body: String,
}

#[tokio::test]
async fn runs_are_recorded_step_by_step_and_rolled_back() {
    if !server_available().await {
        return;
    }
    let db = TestDb::new("history").await;
    let created = db.migrate(&[model::<UserV1>()]).await;
    assert!(created.applied && created.version.is_some());
    let again =
        db.flow(&[model::<UserV1>()]).await.auto_migrate(unattended()).await.expect("no-op");
    assert!(again.version.is_none() && !again.applied, "idempotent: nothing recorded");
    db.exec("INSERT INTO users (email) VALUES ('a@x.io'), ('b@x.io')").await;
    let report = db.migrate(&[model::<UserV2>()]).await;
    let version = report.version.clone().expect("version");
    let flow = db.flow(&[model::<UserV2>()]).await;
    let history = flow.history(None).await.expect("history");
    // Each `migrate` goes through the assertion path: applied, rolled back, applied again.
    let statuses: Vec<&str> = history.iter().map(|row| row.status.as_str()).collect();
    assert_eq!(statuses, ["applied", "rolled_back", "applied", "rolled_back"]);
    assert_eq!(history[0].version, version);
    assert_eq!(history[0].description, "users: ADD COLUMN, ADD INDEX");
    // The run recorded the schema it left (what `status` diffs the live one against).
    let recorded = flow.recorded_schema(&version).await.expect("read").expect("recorded");
    let users = recorded.tables.iter().find(|t| t.name.name == "users").expect("users");
    assert!(users.columns.iter().any(|c| c.name == "logins"), "{users:?}");
    assert!(users.stats.is_none(), "statistics change with the data: not recorded");
    let progress = db
        .rows(&format!(
            "SELECT CAST(progress AS CHAR) FROM _dataflow_migrations WHERE version = '{version}'"
        ))
        .await;
    assert_eq!(progress, vec![r#"{"done":[1,2]}"#], "each step recorded when done");
    assert!(flow.analyze_rollback(&version).await.expect("analysis").fully_reversible);
    flow.rollback_migration(&version).await.expect("rollback");
    assert!(
        db.flow(&[model::<UserV1>()]).await.plan().await.expect("plan").is_empty(),
        "back to v1"
    );
    assert_eq!(db.rows("SELECT email FROM users ORDER BY id").await, vec!["a@x.io", "b@x.io"]);
    let started = flow.auto_migrate(unattended()).await.expect("a replica starts after a rollback");
    assert!(!started.applied && !started.plan.is_empty(), "not re-applied: {}", started.plan);
    let refuse = unattended().with_after_rollback(dataflow::AfterRollback::Refuse);
    let refused = flow.auto_migrate(refuse).await.expect_err("a rolled-back target");
    assert!(matches!(refused, Error::RolledBackTarget { .. }), "{refused}");
    db.drop_db().await;
}

/// An application's own pool works too: the migrator reads through it and takes its own
/// connection for the lock and the DDL.
#[tokio::test]
async fn the_applications_own_pool_can_be_used() {
    if !server_available().await {
        return;
    }
    let db = TestDb::new("own_pool").await;
    let pool = sqlx::MySqlPool::connect(&db.url).await.expect("pool");
    let flow = dataflow::DataFlow::from_mysql_pool(pool.clone())
        .expect("a database in the URL")
        .model::<UserV1>();
    let report = auto_migrate_and_reverse(&db, &flow, unattended(), Reversal::Restores).await;
    assert!(report.applied);
    sqlx::query("INSERT INTO users (email) VALUES ('x')")
        .execute(&pool)
        .await
        .expect("the pool still works");
    db.drop_db().await;
}

#[tokio::test]
async fn a_failed_step_stops_the_run_and_its_finished_steps_roll_back() {
    if !server_available().await {
        return;
    }
    #[derive(Model)]
    #[dataflow(table = "users")]
    struct Unique {
        #[dataflow(primary_key, auto)]
        id: i64,
        #[dataflow(max_length = 200, unique)]
        email: String,
        #[dataflow(default = 0)]
        logins: i32,
    }
    let db = TestDb::new("failed").await;
    db.migrate(&[model::<UserV1>()]).await;
    db.exec("INSERT INTO users (email) VALUES ('same'), ('same')").await;
    let flow = db.flow(&[model::<Unique>()]).await;
    let options = unattended().with_check_existing_rows(false);
    let error = flow.auto_migrate(options).await.expect_err("duplicates");
    let Error::StepFailed { step, left: LeftBehind::EarlierSteps { version }, .. } = &error else {
        panic!("{error:?}")
    };
    assert!(format!("{error:?}").contains("MySQL DDL is not transactional"), "{error:?}");
    let row = db.rows(&format!("SELECT status, CAST(progress AS CHAR) FROM _dataflow_migrations WHERE version = '{version}'")).await;
    assert_eq!(row.len(), 1);
    assert!(
        row[0].starts_with(&format!("failed|{{\"done\":[1],\"running\":{step},\"error\"")),
        "{row:?}"
    );
    assert_eq!(db.count("SELECT count(*) FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'users' AND COLUMN_NAME = 'logins'").await, 1, "step 1 stays applied");
    flow.rollback_migration(version).await.expect("roll back the finished steps");
    assert!(
        db.flow(&[model::<UserV1>()]).await.plan().await.expect("plan").is_empty(),
        "back to v1"
    );
    assert_eq!(db.count("SELECT count(*) FROM users").await, 2, "rows intact");
    db.drop_db().await;
}

// assertion path: about concurrency (exactly one of eight applies); the same kind of plan
// is rolled back and compared through `migrate` in every convergence test
/// Eight processes run `dataflow apply` on the same database at once: exactly one applies,
/// the others find nothing to do; one history row; every process exits 0.
#[tokio::test]
async fn eight_concurrent_processes_apply_exactly_once() {
    if !server_available().await {
        return;
    }
    let db = TestDb::new("replicas").await;
    let target = TestDb::new("replicas_t").await;
    db.exec("CREATE TABLE users (id bigint PRIMARY KEY);\nINSERT INTO users VALUES (1), (2)").await;
    target
        .exec("CREATE TABLE users (id bigint PRIMARY KEY, email varchar(100) NOT NULL DEFAULT '', active tinyint(1) DEFAULT 1, INDEX users_email_idx (email));\n\
               CREATE TABLE orgs (id bigint AUTO_INCREMENT PRIMARY KEY, name varchar(50) UNIQUE)")
        .await;
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
    assert_eq!(db.count("SELECT count(*) FROM _dataflow_migrations").await, 1);
    assert_eq!(db.rows("SELECT status FROM _dataflow_migrations").await, vec!["applied"]);
    assert_eq!(db.count("SELECT count(*) FROM users").await, 2);
    db.drop_db().await;
    target.drop_db().await;
}

/// A transaction holding the table makes the ALTER wait for its metadata lock: each
/// attempt gives up after `lock_wait_timeout`, is retried with backoff, and the run then
/// fails naming the step — it never sits in the lock queue blocking the application.
#[tokio::test]
async fn a_held_table_is_retried_then_reported_without_queueing() {
    if !server_available().await {
        return;
    }
    let db = TestDb::new("lockwait").await;
    db.migrate(&[model::<UserV1>()]).await;
    db.exec("INSERT INTO users (email) VALUES ('a@x.io')").await;
    let mut holder = sqlx::MySqlConnection::connect(&db.url).await.expect("holder");
    holder.execute("BEGIN").await.expect("begin");
    holder.execute("SELECT * FROM users").await.expect("hold the table");
    let options = unattended().with_apply(
        ApplyOptions::default().with_lock_timeout(Duration::from_secs(1)).with_retries(2),
    );
    let error = db.flow(&[model::<UserV2>()]).await.auto_migrate(options).await.expect_err("held");
    assert!(format!("{error:?}").contains("Lock wait timeout"), "{error:?}");
    // Meanwhile the application's reads were never queued behind the DDL.
    holder.execute("ROLLBACK").await.expect("release");
    let report = db.migrate(&[model::<UserV2>()]).await;
    assert!(report.applied, "goes on once the table is free");
    db.drop_db().await;
}

#[derive(Model)]
#[dataflow(table = "notes")]
struct NoteV2 {
    #[dataflow(primary_key, auto)]
    id: i64,
    #[dataflow(max_length = 200)]
    body: String,
    #[dataflow(default = false)]
    pinned: bool,
}

/// A run stopped half-way (here: `users` held by a transaction, so its step times out
/// after the `notes` step committed) and the next run that finishes the same change: that
/// run owns the whole change, and rolling it back undoes both — the exact schema and rows
/// come back, and both runs read `rolled_back`. It used to undo only the second run's
/// steps, leaving `notes.pinned` behind.
#[tokio::test]
async fn a_run_that_finished_a_failed_one_rolls_back_the_whole_change() {
    if !server_available().await {
        return;
    }
    let db = TestDb::new("resumed").await;
    db.migrate(&[model::<UserV1>(), model::<Note>()]).await;
    db.exec("INSERT INTO users (email) VALUES ('a@x.io'), ('b@x.io');\nINSERT INTO notes (body) VALUES ('n1')").await;
    let before = crate::common::applied::Snapshot::take(&db).await;
    let v2 = [model::<UserV2>(), model::<NoteV2>()];

    let mut holder = sqlx::MySqlConnection::connect(&db.url).await.expect("holder");
    holder.execute("BEGIN").await.expect("begin");
    holder.execute("SELECT * FROM users").await.expect("hold users");
    let held = unattended().with_apply(
        ApplyOptions::default().with_lock_timeout(Duration::from_secs(1)).with_retries(0),
    );
    let error = db.flow(&v2).await.auto_migrate(held).await.expect_err("users is held");
    let Error::StepFailed { left: LeftBehind::EarlierSteps { version: failed }, .. } = &error
    else {
        panic!("{error:?}")
    };
    let pinned = "SELECT count(*) FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() \
                  AND TABLE_NAME = 'notes' AND COLUMN_NAME = 'pinned'";
    assert_eq!(db.count(pinned).await, 1, "the notes step finished before users timed out");
    holder.execute("ROLLBACK").await.expect("release users");

    let flow = db.flow(&v2).await;
    let finished = flow.auto_migrate(unattended()).await.expect("the next run finishes it");
    let version = finished.version.clone().expect("a version");
    assert!(finished.plan.steps.iter().all(|s| s.table == "users"), "{}", finished.plan);
    assert!(flow.plan().await.expect("plan").is_empty(), "converged");
    let progress = db
        .rows(&format!(
            "SELECT CAST(progress AS CHAR) FROM _dataflow_migrations WHERE version = '{version}'"
        ))
        .await;
    assert!(progress[0].contains(&format!("\"resumes\":\"{failed}\"")), "{progress:?}");

    // Had the failed run's kept data been purged, the whole rollback is refused before any
    // step (it used to undo this run's steps, then fail on the failed run's first one).
    let unpurged = db
        .rows(&format!(
            "SELECT CAST(progress AS CHAR) FROM _dataflow_migrations WHERE version = '{failed}'"
        ))
        .await;
    let mut purged: serde_json::Value = serde_json::from_str(&unpurged[0]).expect("progress");
    purged["purged"] = serde_json::json!([]);
    let mark = "UPDATE _dataflow_migrations SET progress = ? WHERE version = ?";
    let purged = purged.to_string();
    sqlx::query(mark).bind(&purged).bind(failed).execute(&mut holder).await.expect("mark");
    let finished_state = crate::common::applied::Snapshot::take(&db).await;
    for refused in [
        flow.rollback_migration(&version).await.expect_err("purged"),
        flow.analyze_rollback(&version).await.expect_err("purged"),
    ] {
        assert!(
            matches!(&refused, Error::Purged { purged: Some(run), .. } if run == failed),
            "{refused:?}"
        );
        assert!(refused.to_string().contains("nothing was undone"), "{refused}");
    }
    finished_state.assert_restored(&db, "a refused rollback changes nothing").await;
    sqlx::query(mark).bind(&unpurged[0]).bind(failed).execute(&mut holder).await.expect("unmark");

    // What the prompt shows is the whole change too.
    let analysis = flow.analyze_rollback(&version).await.expect("analysis");
    assert!(analysis.down_sql.iter().any(|sql| sql.contains("`pinned`")), "{analysis:?}");
    assert!(analysis.down_sql.iter().any(|sql| sql.contains("`logins`")), "{analysis:?}");
    flow.rollback_migration(&version).await.expect("rollback of the whole change");
    before.assert_restored(&db, "the resumed change rolled back").await;
    let statuses = db
        .rows(&format!(
            "SELECT CAST(status AS CHAR) FROM _dataflow_migrations WHERE version IN ('{failed}', '{version}')"
        ))
        .await;
    assert_eq!(statuses, ["rolled_back", "rolled_back"]);
    // And forward again (the assertion path's last leg), converging.
    flow.auto_migrate(unattended().with_force(true)).await.expect("forward again");
    assert!(flow.plan().await.expect("plan").is_empty(), "converged again");
    db.drop_db().await;
}

/// Ctrl-C after a run's last statement committed but before its end was recorded: the
/// interrupt closes it `failed` (it cannot know the statement finished). The next run finds
/// nothing to do; the live schema is that run's target, so it is settled as `applied` —
/// history tells the truth and its rollback works. (2 of 100 Ctrl-C trials hit this window
/// before the fix: history `["failed"]` and no applied run.)
#[tokio::test]
async fn a_failed_run_whose_target_is_live_is_settled_as_applied() {
    if !server_available().await {
        return;
    }
    let db = TestDb::new("settle").await;
    db.migrate(&[model::<UserV1>()]).await;
    db.exec("INSERT INTO users (email) VALUES ('a@x.io')").await;
    let before = crate::common::applied::Snapshot::take(&db).await;
    let flow = db.flow(&[model::<UserV2>()]).await;
    let version = flow.auto_migrate(unattended()).await.expect("v2").version.expect("version");
    db.exec(&format!(
        "UPDATE _dataflow_migrations SET status = 'failed' WHERE version = '{version}'"
    ))
    .await;

    let again = flow.auto_migrate(unattended()).await.expect("nothing to do");
    assert!(again.plan.is_empty() && again.version.is_none());
    let status = format!(
        "SELECT CAST(status AS CHAR) FROM _dataflow_migrations WHERE version = '{version}'"
    );
    assert_eq!(db.rows(&status).await, ["applied"]);
    flow.rollback_migration(&version).await.expect("rollback");
    before.assert_restored(&db, "the settled run rolled back").await;
    db.drop_db().await;
}

/// A second migrator waits at most `migration_lock_timeout` for `GET_LOCK` and names the
/// session holding it; the lock is free again once the first is done.
#[tokio::test]
async fn the_migration_lock_times_out_naming_its_holder() {
    if !server_available().await {
        return;
    }
    let db = TestDb::new("getlock").await;
    let name = dataflow::schema::dialect::mysql::quote_literal(
        &dataflow_core::connector::mysql::lock_name(&db.name),
    );
    let mut holder = sqlx::MySqlConnection::connect(&db.url).await.expect("holder");
    holder.execute(format!("SELECT GET_LOCK({name}, 0)").as_str()).await.expect("take the lock");
    let options = unattended().with_migration_lock_timeout(Duration::from_millis(600));
    let error = db.flow(&[model::<UserV1>()]).await.auto_migrate(options).await.expect_err("busy");
    assert!(matches!(error, Error::LockTimeout { .. }), "{error:?}");
    assert!(format!("{error:?}").contains("session "), "names the holder: {error:?}");
    let _ = holder.close().await;
    assert!(
        db.migrate(&[model::<UserV1>()]).await.applied,
        "the lock is free once its holder is gone"
    );
    db.drop_db().await;
}

#[derive(Model)]
#[dataflow(table = "users")]
struct UserWithAge {
    #[dataflow(primary_key, auto)]
    id: i64,
    #[dataflow(max_length = 200)]
    email: String,
    age: Option<i32>,
}

/// A table with a full-text index cannot take an instant column: the server refuses
/// `ALGORITHM=INSTANT`, then `LOCK=NONE`; the step falls back to a copy only when the
/// risk policy allows blocking writes — MEDIUM, or SAFE on a tiny table, as the preview
/// shows it — and the history says which statement ran.
#[tokio::test]
async fn a_refused_algorithm_falls_back_only_as_far_as_the_policy_allows() {
    if !server_available().await {
        return;
    }
    let safe_only = || unattended().with_max_risk(dataflow::RiskLevel::Safe);
    let fallback_recorded = async |db: &TestDb, version: &str| {
        let progress = db
            .rows(&format!(
                "SELECT CAST(progress AS CHAR) FROM _dataflow_migrations WHERE version = '{version}'"
            ))
            .await;
        assert!(
            progress[0].contains("ALGORITHM=COPY, LOCK=SHARED"),
            "the fallback is recorded: {progress:?}"
        );
    };
    let db = TestDb::new("fallback").await;
    db.migrate(&[model::<UserV1>()]).await;
    db.exec(
        "ALTER TABLE users ADD FULLTEXT INDEX users_email_ft (email);\n\
         SET SESSION max_recursive_iterations = 100000;\n\
         INSERT INTO users (email) WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < 20000) SELECT CONCAT(n, '@x.io') FROM g;\n\
         ANALYZE TABLE users",
    )
    .await;
    let error = db
        .flow(&[model::<UserWithAge>()])
        .await
        .auto_migrate(safe_only())
        .await
        .expect_err("would block writes on 20,000 rows");
    assert!(format!("{error:?}").contains("LOCK=NONE is not supported"), "{error:?}");
    let report = db.migrate(&[model::<UserWithAge>()]).await;
    fallback_recorded(&db, &report.version.expect("version")).await;
    assert_eq!(db.count("SELECT count(*) FROM users").await, 20_000);
    db.drop_db().await;

    // One row: the copy blocks writes for an instant, shown SAFE, and `Safe` allows it.
    let tiny = TestDb::new("fallback_tiny").await;
    tiny.migrate(&[model::<UserV1>()]).await;
    tiny.exec("ALTER TABLE users ADD FULLTEXT INDEX users_email_ft (email);\nINSERT INTO users (email) VALUES ('a@x.io');\nANALYZE TABLE users").await;
    let flow = tiny.flow(&[model::<UserWithAge>()]).await;
    let report = flow.auto_migrate(safe_only()).await.expect("a tiny table's copy is SAFE");
    fallback_recorded(&tiny, &report.version.clone().expect("version")).await;
    assert!(flow.plan().await.expect("plan").is_empty(), "converged");
    // assertion path: the same plan is rolled back with its rows in the first half.
    assert_eq!(tiny.rows("SELECT email FROM users").await, vec!["a@x.io"]);
    tiny.drop_db().await;
}

/// A user that may read but not create or alter gets `Error::InsufficientPrivilege`
/// naming it and the server's message; nothing changes.
#[tokio::test]
async fn a_user_without_privileges_gets_a_clear_error_and_changes_nothing() {
    if !server_available().await {
        return;
    }
    let db = TestDb::new("privileges").await;
    db.migrate(&[model::<UserV1>()]).await;
    let user = format!("df_reader_{}", std::process::id());
    super::support::admin(&[
        &format!("DROP USER IF EXISTS '{user}'@'%'"),
        &format!("CREATE USER '{user}'@'%'"),
        &format!("GRANT SELECT ON `{}`.* TO '{user}'@'%'", db.name),
    ])
    .await;
    let url = db.url.replacen("root@", &format!("{user}@"), 1);
    let flow =
        dataflow::DataFlow::connect(&url).await.expect("the user may connect").model::<UserV2>();
    assert!(!flow.plan().await.expect("it can read").is_empty(), "v2 is pending");
    let error = flow.auto_migrate(unattended()).await.expect_err("not allowed");
    let Error::InsufficientPrivilege { role, server, .. } = &error else { panic!("{error:?}") };
    assert_eq!(role, &user);
    assert!(server.contains("denied"), "{server}");
    assert_eq!(
        db.rows("SELECT CAST(count(*) AS CHAR) FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'users'").await,
        vec!["2"],
        "nothing changed"
    );
    // Two rows from `migrate`'s assertion path (applied, rolled back, applied again).
    assert_eq!(db.count("SELECT count(*) FROM _dataflow_migrations").await, 2, "nothing recorded");
    eprintln!("{error}");
    super::support::admin(&[&format!("DROP USER IF EXISTS '{user}'@'%'")]).await;
    db.drop_db().await;
}

/// A table dataflow created whose model is gone is an orphan: reported and kept; with
/// `drop_orphans` (HIGH) dropped into the trash, and the rollback brings its rows back. A
/// table dataflow never created is left alone either way.
#[tokio::test]
async fn an_orphan_is_reported_kept_and_dropped_only_when_asked() {
    if !server_available().await {
        return;
    }
    let db = TestDb::new("orphans").await;
    db.exec("CREATE TABLE legacy (id bigint PRIMARY KEY);\nINSERT INTO legacy VALUES (7)").await;
    db.migrate(&[model::<UserV1>(), model::<Note>()]).await;
    db.exec("INSERT INTO notes (body) VALUES ('kept')").await;

    let v1 = db.flow(&[model::<UserV1>()]).await;
    let status = v1.status().await.expect("status");
    assert!(status.warnings.iter().any(|w| w.starts_with("table notes is orphaned")), "{status}");
    let kept = v1.auto_migrate(unattended()).await.expect("orphan kept");
    assert!(!kept.applied && kept.plan.is_empty(), "{}", kept.plan);
    let warnings = &kept.plan.warnings;
    assert!(warnings.iter().any(|w| w.starts_with("table notes is orphaned")), "{warnings:?}");
    assert!(warnings.iter().any(|w| w.starts_with("table legacy is not named")), "{warnings:?}");
    assert_eq!(db.rows("SELECT body FROM notes").await, vec!["kept"]);

    let drop = unattended().with_drop_orphans(true).with_max_risk(dataflow::RiskLevel::High);
    let dropped = v1.auto_migrate(drop.clone()).await.expect("orphan dropped");
    let tables: Vec<&str> = dropped.plan.steps.iter().map(|s| s.table.as_str()).collect();
    assert_eq!(tables, ["notes"], "only the orphan is dropped:\n{}", dropped.plan);
    assert_eq!(dropped.plan.steps[0].operation, dataflow::Operation::DropTable);
    assert!(dropped.plan.safety().data_loss.is_empty(), "kept in the trash:\n{}", dropped.plan);
    let names = "SELECT table_name FROM information_schema.tables \
                 WHERE table_schema = DATABASE() AND table_name IN ('notes', 'legacy')";
    assert_eq!(db.rows(names).await, vec!["legacy"]);
    let again = v1.auto_migrate(drop).await.expect("re-run");
    assert!(!again.applied && again.plan.is_empty(), "converged:\n{}", again.plan);

    v1.rollback_migration(&dropped.version.expect("a version")).await.expect("rollback");
    assert_eq!(db.rows("SELECT id, body FROM notes").await, vec!["1|kept"]);
    assert_eq!(db.rows("SELECT id FROM legacy").await, vec!["7"]);
    let back = db.flow(&[model::<UserV1>(), model::<Note>()]).await.plan().await.expect("plan");
    assert!(back.is_empty(), "the rollback restored notes as it was:\n{back}");
    db.drop_db().await;
}

/// Issue 19.5 on MySQL: `auto_migrate` on the application's own pool (two connections,
/// with a session setting of its own), cut short by `tokio::time::timeout` at random
/// moments — while waiting for the lock another session holds (every other trial),
/// reading the catalog, recording, adding a column and building an index on 20,000 rows. After each cut: every pool connection is outside any
/// transaction with the application's setting intact, the migration lock is free (within
/// the time the server takes to end the dropped session), the application's own
/// transaction commits exactly its row, and the next `auto_migrate` on the same pool
/// converges with every row kept.
// assertion path: about what a cancelled run leaves behind (pool sessions, the lock, the
// application's rows); the next run's convergence and rows are asserted here directly
#[tokio::test]
async fn a_cancelled_auto_migrate_gives_the_applications_pool_back_clean() {
    use dataflow::DataFlow;
    use std::time::Instant;
    if !server_available().await {
        return;
    }
    let seed = "INSERT INTO users (email) SELECT CONCAT('u', seq) FROM seq_1_to_20000;\n\
                CREATE TABLE app_rows (n int)";
    let pool_for = |url: String| async move {
        sqlx::mysql::MySqlPoolOptions::new()
            .max_connections(2)
            .after_connect(|conn, _| {
                Box::pin(async move {
                    conn.execute("SET SESSION lock_wait_timeout = 77").await?;
                    Ok(())
                })
            })
            .connect(&url)
            .await
            .expect("the application's pool")
    };
    let flow = |pool: &sqlx::MySqlPool, defs: &[dataflow::ModelDef]| {
        DataFlow::from_mysql_pool(pool.clone())
            .expect("a pool with a database")
            .models(defs.to_vec())
    };
    let (v1, v2) = ([model::<UserV1>()], [model::<UserV2>()]);
    // How long an uncut run takes here: the moments are drawn within it.
    let span = {
        let db = TestDb::new("cancel_calibrate").await;
        let pool = pool_for(db.url.clone()).await;
        flow(&pool, &v1).auto_migrate(unattended()).await.expect("v1");
        db.exec(seed).await;
        let started = Instant::now();
        flow(&pool, &v2).auto_migrate(unattended()).await.expect("v2");
        let span = started.elapsed().as_micros() as u64;
        pool.close().await;
        db.drop_db().await;
        span
    };
    let mut rng = crate::common::soak::Rng(crate::common::soak::seed(0x5c1_17e));
    let trials = crate::common::soak::trials(10);
    let (mut failures, mut cut_short, mut waited_for_the_lock) = (Vec::new(), 0usize, 0usize);
    for trial in 0..trials {
        let db = TestDb::new("cancel").await;
        let pool = pool_for(db.url.clone()).await;
        flow(&pool, &v1).auto_migrate(unattended()).await.expect("v1");
        db.exec(seed).await;
        let budget = Duration::from_micros(rng.below(span));
        let lock = format!("dataflow:{}", db.name);
        // Every other trial, another session holds the migration lock: the cut comes while
        // waiting for it.
        let holder = if trial % 2 == 1 {
            let mut holder = sqlx::MySqlConnection::connect(&db.url).await.expect("holder");
            let got: i64 = sqlx::query_scalar("SELECT GET_LOCK(?, 0)")
                .bind(&lock)
                .fetch_one(&mut holder)
                .await
                .expect("GET_LOCK");
            assert_eq!(got, 1, "the holder takes the lock");
            Some(holder)
        } else {
            None
        };
        let cut = tokio::time::timeout(budget, flow(&pool, &v2).auto_migrate(unattended()))
            .await
            .is_err();
        cut_short += usize::from(cut);
        if let Some(holder) = holder {
            waited_for_the_lock += usize::from(cut);
            holder.close().await.expect("the holder lets go");
        }
        let mut problems = Vec::new();
        let mut connections = Vec::new();
        for _ in 0..2 {
            connections.push(pool.acquire().await.expect("a pool connection"));
        }
        for connection in &mut connections {
            let state: (i64, i64) =
                sqlx::query_as("SELECT CAST(@@in_transaction AS SIGNED), CAST(@@session.lock_wait_timeout AS SIGNED)")
                    .fetch_one(&mut **connection)
                    .await
                    .expect("the session's state");
            if state != (0, 77) {
                problems.push(format!("a pool connection is dirty: {state:?}"));
            }
        }
        drop(connections);
        // The dropped lock session ends when the server notices (it finishes its statement
        // first): the lock is free within that time, never held on.
        let waited = Instant::now();
        while db.count(&format!("SELECT IS_FREE_LOCK('{lock}')")).await != 1 {
            if waited.elapsed() > Duration::from_secs(30) {
                problems.push("the migration lock is still held after 30 s".into());
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let mut tx = pool.begin().await.expect("the app's transaction");
        sqlx::query("INSERT INTO app_rows VALUES (1)").execute(&mut *tx).await.expect("insert");
        tx.commit().await.expect("the app's commit");
        let next = flow(&pool, &v2);
        if let Err(error) = next.auto_migrate(unattended()).await {
            problems.push(format!("the next auto_migrate failed: {error}"));
        }
        if !next.plan().await.expect("plan").is_empty() {
            problems.push("not converged".into());
        }
        let rows =
            db.rows("SELECT CAST(count(*) AS CHAR), CAST(sum(logins) AS CHAR) FROM users").await;
        if rows != ["20000|0"] {
            problems.push(format!("rows {rows:?}"));
        }
        if db.count("SELECT count(*) FROM app_rows").await != 1 {
            problems.push("the app's row".into());
        }
        if problems.is_empty() {
            pool.close().await;
            db.drop_db().await;
        } else {
            failures
                .push(format!("trial {trial} (cut short: {cut}, after {budget:?}): {problems:?}"));
        }
    }
    crate::common::soak::publish(
        "MySQL cancelled auto_migrate",
        "mysql-cancel",
        &serde_json::json!({
            "trials": trials, "clean": trials - failures.len(), "cut_short": cut_short,
            "cut_while_waiting_for_the_lock": waited_for_the_lock, "uncut_run_ms": span / 1000,
        }),
    );
    assert!(failures.is_empty(), "{failures:#?}");
    assert!(cut_short * 2 >= trials, "most trials must cut the run short: {cut_short}/{trials}");
}

/// Purge on MySQL (issue 19: one migrator, so every database has it): a dropped table's
/// rows wait in the trash while the run can be rolled back; `purge` drops the trash of
/// runs older than asked, records it, and that run's rollback is refused from then on.
// assertion path: about purge — the drop runs once, its trash is asserted, purged, and
// the rollback refused (restoring rollbacks of drops: convergence.rs, drop_columns_and_tables_keep_their_data_for_the_rollback)
#[tokio::test]
async fn purge_drops_the_trash_and_then_refuses_the_rollback() {
    if !server_available().await {
        return;
    }
    let db = TestDb::new("purge").await;
    db.migrate(&[model::<UserV1>(), model::<Note>()]).await;
    db.exec("INSERT INTO notes (body) VALUES ('kept')").await;
    let without_notes = db.flow(&[model::<UserV1>()]).await;
    let report =
        without_notes.auto_migrate(unattended().with_drop_orphans(true)).await.expect("drop notes");
    let version = report.version.expect("a version");
    assert!(without_notes.plan().await.expect("plan").is_empty(), "converged");
    let trash = |db: &TestDb| {
        format!(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = '{}' \
             AND table_name LIKE '\\\\_dataflow\\\\_trash\\\\_%'",
            db.name
        )
    };
    assert_eq!(db.count(&trash(&db)).await, 1, "the dropped table waits in the trash");
    // Younger than the threshold: kept.
    let none = without_notes.purge(Duration::from_secs(3600)).await.expect("purge");
    assert!(none.is_empty(), "{none:?}");
    let dropped = without_notes.purge(Duration::ZERO).await.expect("purge");
    assert_eq!(dropped.len(), 1, "{dropped:?}");
    assert!(dropped[0].starts_with("_dataflow_trash_"), "{dropped:?}");
    assert_eq!(db.count(&trash(&db)).await, 0);
    let history = without_notes.history(None).await.expect("history");
    let row = history.iter().find(|row| row.version == version).expect("the run");
    assert!(row.purged, "history says it was purged: {row:?}");
    let refused = without_notes.rollback_migration(&version).await.expect_err("purged");
    assert!(matches!(refused, Error::Purged { .. }), "{refused}");
    db.drop_db().await;
}
