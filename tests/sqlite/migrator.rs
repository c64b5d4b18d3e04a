//! `auto_migrate` on SQLite: history, idempotence, rollback, refusals, concurrent
//! migrators on one file, a read-only database.

use super::support::TestFile;
use crate::common::applied::Snapshot;
use dataflow::{DataFlow, Error, MigrateOptions, Mode, Model, RiskLevel};
use std::sync::Arc;

#[derive(Model)]
#[dataflow(table = "users")]
struct UserV1 {
    #[dataflow(primary_key, auto)]
    id: i64,
    email: String,
}

#[derive(Model)]
#[dataflow(table = "users", index(columns("email")))]
struct UserV2 {
    #[dataflow(primary_key, auto)]
    id: i64,
    email: String,
    #[dataflow(default = 0)]
    logins: i32,
}

#[derive(Model)]
#[dataflow(table = "users")]
struct UserWithoutEmail {
    #[dataflow(primary_key, auto)]
    id: i64,
}

fn unattended() -> MigrateOptions {
    MigrateOptions::default().with_mode(Mode::AutoConfirm)
}

async fn flow(file: &TestFile) -> DataFlow {
    DataFlow::connect(&file.url).await.expect("connect")
}

#[tokio::test]
async fn auto_migrate_records_history_rolls_back_and_refuses_to_undo_a_rollback() {
    let file = TestFile::new("auto").await;
    let v1 = flow(&file).await.model::<UserV1>();
    let created = v1.auto_migrate(unattended()).await.expect("v1");
    assert!(created.applied && created.version.is_some(), "{created:?}");
    assert!(v1.auto_migrate(unattended()).await.expect("no-op").version.is_none(), "idempotent");
    file.exec("INSERT INTO users (email) VALUES ('a@x.io'), ('b@x.io')").await;

    let v2 = flow(&file).await.model::<UserV2>();
    let dry = v2.auto_migrate(unattended().with_mode(Mode::DryRun)).await.expect("dry run");
    assert!(!dry.applied && dry.plan.steps.len() == 2, "{}", dry.plan);
    assert_eq!(
        file.rows("SELECT count(*) FROM pragma_table_info('users')").await,
        vec!["2"],
        "dry run changed nothing"
    );
    let before = Snapshot::take(&file).await;
    let report = v2.auto_migrate(unattended()).await.expect("v2");
    let version = report.version.clone().expect("a version");
    assert!(v2.plan().await.expect("plan").is_empty(), "converged");
    assert_eq!(
        file.rows("SELECT email, logins FROM users ORDER BY id").await,
        vec!["a@x.io|0", "b@x.io|0"]
    );
    let history = v2.history(None).await.expect("history");
    assert_eq!(history.len(), 2);
    assert_eq!(
        (history[0].version.as_str(), history[0].status.as_str()),
        (version.as_str(), "applied")
    );
    assert_eq!(history[0].description, "users: ADD COLUMN, ADD INDEX", "one line per table");

    let analysis = v2.analyze_rollback(&version).await.expect("analysis");
    assert!(analysis.fully_reversible, "{analysis:?}");
    v2.rollback_migration(&version).await.expect("rollback");
    assert!(v1.plan().await.expect("plan").is_empty(), "back to v1");
    before.assert_restored(&file, "v2 rolled back").await;
    assert_eq!(
        file.rows("SELECT id, email FROM users ORDER BY id").await,
        vec!["1|a@x.io", "2|b@x.io"]
    );
    assert_eq!(v2.history(Some(1)).await.expect("history")[0].status, "rolled_back");
    let started = v2.auto_migrate(unattended()).await.expect("a replica starts after a rollback");
    assert!(!started.applied && !started.plan.is_empty(), "not re-applied: {}", started.plan);
    let refuse = unattended().with_after_rollback(dataflow::AfterRollback::Refuse);
    let again = v2.auto_migrate(refuse).await.expect_err("a rolled-back target is not re-applied");
    assert!(matches!(again, Error::RolledBackTarget { .. }), "{again}");
    // What `fn main() -> Result<(), Error>` prints is the message, not the fields.
    assert!(format!("{again:?}").starts_with("refused:"), "{again:?}");
    let forced = v2.auto_migrate(unattended().with_force(true)).await.expect("forced");
    assert!(forced.applied);
    assert!(v2.plan().await.expect("plan").is_empty());
}

#[tokio::test]
async fn high_risk_is_refused_and_a_declined_prompt_changes_nothing() {
    let file = TestFile::new("refuse").await;
    let v1 = flow(&file).await.model::<UserV1>();
    v1.auto_migrate(unattended()).await.expect("v1");
    file.exec("INSERT INTO users (email) VALUES ('a@x.io')").await;
    let dropping = flow(&file).await.model::<UserWithoutEmail>();
    let refused = dropping.auto_migrate(unattended()).await.expect_err("HIGH");
    assert!(matches!(refused, Error::RiskRefused { .. }), "{refused}");
    let declined = unattended()
        .with_mode(Mode::Interactive(Arc::new(|_| false)))
        .with_max_risk(RiskLevel::High);
    assert!(matches!(dropping.auto_migrate(declined).await, Err(Error::Declined)));
    assert_eq!(file.rows("SELECT email FROM users").await, vec!["a@x.io"], "nothing changed");
    let before = Snapshot::take(&file).await;
    let allowed =
        dropping.auto_migrate(unattended().with_max_risk(RiskLevel::High)).await.expect("allowed");
    assert!(allowed.applied);
    assert_eq!(file.rows("SELECT count(*) FROM pragma_table_info('users')").await, vec!["1"]);
    assert!(dropping.plan().await.expect("plan").is_empty(), "converged");
    dropping.rollback_migration(&allowed.version.expect("a version")).await.expect("rollback");
    assert!(flow(&file).await.model::<UserV1>().plan().await.expect("plan").is_empty());
    before.assert_restored(&file, "the drop rolled back").await;
    assert_eq!(
        file.rows("SELECT email FROM users").await,
        vec!["a@x.io"],
        "the column is back with its value"
    );
}

// assertion path: about concurrency (exactly one of eight applies); the same kind of plan
// is rolled back and compared in auto_migrate_records_history_rolls_back…
#[tokio::test]
async fn eight_migrators_on_one_file_apply_exactly_once() {
    let file = TestFile::new("concurrent").await;
    flow(&file).await.model::<UserV1>().auto_migrate(unattended()).await.expect("v1");
    file.exec("INSERT INTO users (email) VALUES ('a@x.io')").await;
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let url = file.url.clone();
        tasks.push(tokio::spawn(async move {
            let flow = DataFlow::connect(&url).await.expect("connect").model::<UserV2>();
            flow.auto_migrate(unattended()).await
        }));
    }
    let mut applied = 0;
    for task in tasks {
        let report = task.await.expect("join").expect("every migrator succeeds");
        applied += usize::from(report.applied);
    }
    assert_eq!(applied, 1, "exactly one applied, the others found nothing to do");
    let history = flow(&file).await.history(None).await.expect("history");
    assert_eq!(history.len(), 2, "{history:?}");
    let v2 = flow(&file).await.model::<UserV2>();
    assert!(v2.plan().await.expect("plan").is_empty(), "converged");
    v2.rollback_migration(&history[0].version).await.expect("rollback");
    assert!(flow(&file).await.model::<UserV1>().plan().await.expect("plan").is_empty());
    assert_eq!(file.rows("SELECT email FROM users").await, vec!["a@x.io"]);
}

// assertion path: the apply is refused (read-only); the test asserts nothing changed
#[tokio::test]
async fn a_read_only_database_gives_a_clear_error_and_changes_nothing() {
    let file = TestFile::new("readonly").await;
    flow(&file).await.model::<UserV1>().auto_migrate(unattended()).await.expect("v1");
    let readonly =
        DataFlow::connect(&format!("{}?mode=ro", file.url)).await.expect("connect read-only");
    let error = readonly.model::<UserV2>().auto_migrate(unattended()).await.expect_err("read-only");
    let message = error.to_string();
    assert!(matches!(error, Error::ReadOnlyDatabase { .. }), "{message}");
    assert!(message.contains("read-only") && message.contains("nothing was changed"), "{message}");
    assert!(
        flow(&file).await.model::<UserV1>().plan().await.expect("plan").is_empty(),
        "unchanged"
    );
}

// assertion path: about adoption (a baseline, nothing applied)
/// An existing database without history: matching tables are adopted (a baseline row),
/// also in memory, where the database lives in its one connection.
#[tokio::test]
async fn existing_tables_are_adopted_in_a_file_and_in_memory() {
    let file = TestFile::new("adopt").await;
    file.db.pool().close().await;
    for url in [file.url.clone(), "sqlite::memory:".to_owned()] {
        let flow = DataFlow::connect(&url).await.expect("connect");
        let pool = flow.sqlite().expect("sqlite").pool().clone();
        sqlx::raw_sql("CREATE TABLE users (id integer NOT NULL PRIMARY KEY, email text NOT NULL)")
            .execute(&pool)
            .await
            .expect("existing table");
        let flow = flow.model::<UserV1>();
        let report = flow.auto_migrate(unattended()).await.expect("adopt");
        assert!(!report.applied, "nothing to change: {}", report.plan);
        let history = flow.history(None).await.expect("history");
        assert_eq!(history.len(), 1, "{url}: {history:?}");
        assert_eq!(history[0].status, "baseline");
        assert!(flow.auto_migrate(unattended()).await.expect("again").version.is_none());
    }
}

#[derive(Model)]
#[dataflow(table = "notes")]
struct Note {
    #[dataflow(primary_key, auto)]
    id: i64,
    #[dataflow(references = "users.id")]
    user_id: i64,
    body: String,
}

#[derive(Model)]
#[dataflow(table = "users", index(columns("nickname")))]
struct UserFull {
    #[dataflow(primary_key, auto)]
    id: i64,
    email: String,
    bio: Option<String>,
    nickname: Option<String>,
    #[dataflow(default = 0)]
    score: i32,
}

/// Drops keep their data: a dropped table's rows, a column dropped in place and columns
/// dropped by a rebuild all come back with `rollback_migration`; after `purge` the rollback
/// is refused.
#[tokio::test]
async fn dropped_tables_and_columns_come_back_with_their_data() {
    let file = TestFile::new("keep").await;
    let v1 = flow(&file).await.model::<UserFull>().model::<Note>();
    v1.auto_migrate(unattended()).await.expect("v1");
    file.exec(
        "INSERT INTO users (email, bio, nickname, score) VALUES ('a@x.io', 'bio a', 'ace', 7), ('b@x.io', NULL, 'bee', 0); \
         INSERT INTO notes (user_id, body) VALUES (1, 'hello'), (2, 'world')",
    )
    .await;
    let before = (
        file.rows("SELECT id, email, bio, nickname, score FROM users ORDER BY id").await,
        file.rows("SELECT id, user_id, body FROM notes ORDER BY id").await,
    );
    // v2: users loses `bio` (in place) and `nickname` (indexed: a rebuild, which also
    // drops `score`'s default); notes is not named any more, so it is left alone.
    #[derive(Model)]
    #[dataflow(table = "users")]
    struct Slim {
        #[dataflow(primary_key, auto)]
        id: i64,
        email: String,
        score: i32,
    }
    let snapshot = Snapshot::take(&file).await;
    let v2 = flow(&file).await.model::<Slim>().model::<Note>();
    let high = unattended().with_max_risk(RiskLevel::High);
    let report = v2.auto_migrate(high).await.expect("v2");
    assert!(
        report.plan.safety().data_loss.is_empty(),
        "every drop keeps its data: {}",
        report.plan
    );
    let version = report.version.expect("a version");
    assert!(v2.plan().await.expect("plan").is_empty(), "converged");
    assert_eq!(
        file.rows("SELECT id, email, score FROM users ORDER BY id").await,
        vec!["1|a@x.io|7", "2|b@x.io|0"]
    );

    v2.rollback_migration(&version).await.expect("rollback");
    assert!(v1.plan().await.expect("plan").is_empty(), "the schema is v1 again");
    let after = (
        file.rows("SELECT id, email, bio, nickname, score FROM users ORDER BY id").await,
        file.rows("SELECT id, user_id, body FROM notes ORDER BY id").await,
    );
    assert_eq!(after, before, "rows and values are back");
    snapshot.assert_restored(&file, "v2 rolled back").await;

    // Forward again, then purge: the kept data goes and the rollback is refused.
    let again = v2
        .auto_migrate(unattended().with_force(true).with_max_risk(RiskLevel::High))
        .await
        .expect("v2 again");
    let dropped = v2.purge(std::time::Duration::ZERO).await.expect("purge");
    assert!(!dropped.is_empty(), "trash and backups dropped");
    let history = v2.history(None).await.expect("history");
    let purged: Vec<bool> = history.iter().map(|row| row.purged).collect();
    assert!(purged.contains(&true) && purged.contains(&false), "history says which: {history:?}");
    let refused =
        v2.rollback_migration(&again.version.expect("a version")).await.expect_err("purged");
    assert!(matches!(refused, Error::Purged { .. }), "{refused}");
    assert_eq!(file.rows("SELECT count(*) FROM sqlite_schema WHERE name LIKE '\\_dataflow\\_%' ESCAPE '\\' AND name <> '_dataflow_migrations'").await, vec!["0"]);
}

/// DB-vs-DB: a dropped table's rows go to the trash and come back with the rollback.
#[tokio::test]
async fn a_dropped_table_comes_back_with_its_rows() {
    let file = TestFile::new("trash").await;
    file.exec(
        "CREATE TABLE users (id integer PRIMARY KEY, email text NOT NULL); \
         CREATE TABLE notes (id integer PRIMARY KEY, user_id integer NOT NULL REFERENCES users (id), body text); \
         CREATE INDEX notes_user_idx ON notes (user_id); \
         INSERT INTO users (email) VALUES ('a@x.io'); INSERT INTO notes (user_id, body) VALUES (1, 'kept')",
    )
    .await;
    let before = file.schema().await;
    let snapshot = Snapshot::take(&file).await;
    let mut target = before.clone();
    target.tables.retain(|t| t.name.name == "users");
    let high = unattended().with_max_risk(RiskLevel::High);
    let report =
        dataflow_core::migrate_sqlite_to(&file.db, target, high).await.expect("drop notes");
    assert!(report.plan.safety().data_loss.is_empty(), "{}", report.plan);
    let after = file.schema().await;
    let mut expected = before.clone();
    expected.tables.retain(|t| t.name.name == "users");
    let again =
        dataflow::plan_offline(&after, &expected, dataflow::Dialect::Sqlite, &Default::default())
            .expect("plan");
    assert!(again.is_empty(), "converged:\n{again}");
    assert_eq!(
        file.rows(
            "SELECT count(*) FROM sqlite_schema WHERE name LIKE '\\_dataflow\\_trash%' ESCAPE '\\'"
        )
        .await,
        vec!["1"],
        "the rows went to the trash"
    );
    // Deleting a user is not blocked by trashed notes: the trash has no keys.
    file.exec("INSERT INTO users (email) VALUES ('b@x.io'); DELETE FROM users WHERE id = 2").await;
    let flow = DataFlow::connect(&file.url).await.expect("connect");
    flow.rollback_migration(&report.version.expect("a version")).await.expect("rollback");
    assert_eq!(file.rows("SELECT id, user_id, body FROM notes").await, vec!["1|1|kept"]);
    let restored = file.schema().await;
    let again =
        dataflow::plan_offline(&restored, &before, dataflow::Dialect::Sqlite, &Default::default())
            .expect("plan");
    assert!(again.is_empty(), "the table, its key and its index are back:\n{again}");
    snapshot.assert_restored(&file, "the dropped table rolled back").await;
}

// assertion path: about sharing the application's one in-memory connection; it rolls back
// and checks the table is gone
/// The application's own in-memory pool: the migration and the application see one
/// database.
#[tokio::test]
async fn the_applications_own_in_memory_pool() {
    let pool = sqlx::sqlite::SqlitePoolOptions::new()
        .max_connections(1)
        .connect("sqlite::memory:")
        .await
        .expect("pool");
    let flow = DataFlow::from_sqlite_pool(pool.clone()).model::<UserV2>();
    assert!(flow.auto_migrate(unattended()).await.expect("migrate").applied);
    sqlx::raw_sql("INSERT INTO users (email) VALUES ('a@x.io')")
        .execute(&pool)
        .await
        .expect("the app writes");
    assert!(flow.plan().await.expect("plan").is_empty());
    let version = flow.history(Some(1)).await.expect("history")[0].version.clone();
    flow.rollback_migration(&version).await.expect("rollback");
    assert!(!flow.plan().await.expect("plan").is_empty(), "the table is gone again");
}

/// A table dataflow created whose model is gone is an orphan: reported and kept; with
/// `drop_orphans` (HIGH) dropped into the trash, and the rollback brings its rows back. A
/// table dataflow never created is left alone either way.
#[tokio::test]
async fn an_orphan_is_reported_kept_and_dropped_only_when_asked() {
    let file = TestFile::new("orphans").await;
    file.exec("CREATE TABLE legacy (id integer PRIMARY KEY); INSERT INTO legacy VALUES (7)").await;
    let both = flow(&file).await.model::<UserV1>().model::<Note>();
    both.auto_migrate(unattended()).await.expect("create users and notes");
    assert!(both.plan().await.expect("plan").is_empty(), "converged");
    file.exec("INSERT INTO users (email) VALUES ('a@x.io'); INSERT INTO notes (user_id, body) VALUES (1, 'kept')").await;

    let v1 = flow(&file).await.model::<UserV1>();
    let status = v1.status().await.expect("status");
    assert!(status.warnings.iter().any(|w| w.starts_with("table notes is orphaned")), "{status}");
    let kept = v1.auto_migrate(unattended()).await.expect("orphan kept");
    assert!(!kept.applied && kept.plan.is_empty(), "{}", kept.plan);
    let warnings = &kept.plan.warnings;
    assert!(warnings.iter().any(|w| w.starts_with("table notes is orphaned")), "{warnings:?}");
    assert!(warnings.iter().any(|w| w.starts_with("table legacy is not named")), "{warnings:?}");
    assert_eq!(file.rows("SELECT body FROM notes").await, vec!["kept"]);

    let before = Snapshot::take(&file).await;
    let drop = unattended().with_drop_orphans(true).with_max_risk(RiskLevel::High);
    let dropped = v1.auto_migrate(drop.clone()).await.expect("orphan dropped");
    let tables: Vec<&str> = dropped.plan.steps.iter().map(|s| s.table.as_str()).collect();
    assert_eq!(tables, ["notes"], "only the orphan is dropped:\n{}", dropped.plan);
    assert_eq!(dropped.plan.steps[0].operation, dataflow::Operation::DropTable);
    assert!(dropped.plan.safety().data_loss.is_empty(), "kept in the trash:\n{}", dropped.plan);
    let names = "SELECT name FROM sqlite_schema WHERE name IN ('notes', 'legacy') ORDER BY name";
    assert_eq!(file.rows(names).await, vec!["legacy"]);
    let again = v1.auto_migrate(drop).await.expect("re-run");
    assert!(!again.applied && again.plan.is_empty(), "converged:\n{}", again.plan);

    v1.rollback_migration(&dropped.version.expect("a version")).await.expect("rollback");
    assert_eq!(file.rows("SELECT id, body FROM notes").await, vec!["1|kept"]);
    assert_eq!(file.rows("SELECT id FROM legacy").await, vec!["7"]);
    let back = flow(&file).await.model::<UserV1>().model::<Note>().plan().await.expect("plan");
    assert!(back.is_empty(), "the rollback restored notes as it was:\n{back}");
    before.assert_restored(&file, "the orphan rolled back").await;
}

/// Two applications with their own models on one database: each one's tables are never
/// the other's orphans — reported as not named, and not dropped with `drop_orphans`.
// assertion path: about planning scope — the only applies create each model set's table
#[tokio::test]
async fn two_model_sets_on_one_database_never_orphan_each_other() {
    let file = TestFile::new("two_model_sets").await;
    crate::common::model_sets::never_orphan_each_other(flow(&file).await, flow(&file).await).await;
    let tables = "SELECT name FROM sqlite_schema WHERE name IN ('users', 'invoices') ORDER BY name";
    assert_eq!(file.rows(tables).await, vec!["invoices", "users"]);
}

/// Rolling back an older migration while a newer one is applied on top of it is refused,
/// naming the newer one, and changes nothing; rolling back the newer one first, or
/// `rollback_to_version`, gives the schema and rows from before; undoing the older one
/// alone takes `rollback_migration_out_of_order`.
#[tokio::test]
async fn an_older_migration_is_not_rolled_back_under_a_newer_one() {
    #[derive(Model)]
    #[dataflow(table = "users", index(columns("email")))]
    struct UserV3 {
        #[dataflow(primary_key, auto)]
        id: i64,
        email: String,
        #[dataflow(default = 0)]
        logins: i32,
        nickname: Option<String>,
    }
    let file = TestFile::new("order").await;
    flow(&file).await.model::<UserV1>().auto_migrate(unattended()).await.expect("v1");
    file.exec("INSERT INTO users (email) VALUES ('a@x.io'), ('b@x.io')").await;
    let before_v2 = Snapshot::take(&file).await;
    let v2 = flow(&file).await.model::<UserV2>().auto_migrate(unattended()).await.expect("v2");
    let v2 = v2.version.expect("a version");
    let v3 = flow(&file).await.model::<UserV3>().auto_migrate(unattended()).await.expect("v3");
    let v3 = v3.version.expect("a version");
    let at_v3 = Snapshot::take(&file).await;

    let any = flow(&file).await;
    let refused = any.rollback_migration(&v2).await.expect_err("v3 builds on v2");
    let Error::NewerApplied { version, newer } = &refused else { panic!("{refused}") };
    assert_eq!((version, newer), (&v2, &vec![v3.clone()]));
    let message = refused.to_string();
    assert!(message.contains(&v3) && message.contains("--with-newer"), "{message}");
    at_v3.assert_restored(&file, "a refused rollback changes nothing").await;

    // Newest first is allowed; then v2 is the newest.
    assert_eq!(any.rollback_to_version(&v2).await.expect("back to v2"), vec![v3.clone()]);
    any.rollback_migration(&v2).await.expect("v2, now the newest");
    before_v2.assert_restored(&file, "v3 then v2 rolled back").await;

    // Out of order, on purpose: v2 again, v3 again, then v2 alone.
    let force = unattended().with_force(true);
    let v2 = flow(&file).await.model::<UserV2>().auto_migrate(force.clone()).await.expect("v2");
    flow(&file).await.model::<UserV3>().auto_migrate(force).await.expect("v3");
    any.rollback_migration_out_of_order(&v2.version.expect("a version"))
        .await
        .expect("v2 alone, asked for");
    let columns = file.rows("SELECT name FROM pragma_table_info('users') ORDER BY cid").await;
    assert!(!columns.contains(&"logins".to_owned()), "v2's column is gone: {columns:?}");
}

/// `tokio::time::timeout` around `auto_migrate` on the application's own pool, fired at
/// random moments (the catalog read, the write transaction with a table rebuild of 20,000
/// rows): the pool comes back outside any transaction, the application's own transaction
/// commits its row, nothing changed half-way, and the next `auto_migrate` converges.
// assertion path: about cancellation; the rebuild's apply and rollback are compared in
// evolutions.rs
#[tokio::test]
async fn a_cancelled_auto_migrate_gives_the_applications_pool_back_clean() {
    #[derive(Model)]
    #[dataflow(table = "users", check = "logins >= 0")]
    struct UserChecked {
        #[dataflow(primary_key, auto)]
        id: i64,
        email: String,
        #[dataflow(default = 0)]
        logins: i64,
    }
    let seed = "WITH RECURSIVE n(v) AS (SELECT 1 UNION ALL SELECT v + 1 FROM n WHERE v < 20000) \
        INSERT INTO users (email, logins) SELECT 'u' || v, v FROM n; CREATE TABLE app_rows (n int)";
    // How long an uncut run takes here: the moments are drawn within it.
    let span = {
        let file = TestFile::new("cancel_calibrate").await;
        let flow = DataFlow::from_sqlite_pool(file.db.pool().clone());
        flow.clone().model::<UserV2>().auto_migrate(unattended()).await.expect("v2");
        file.exec(seed).await;
        let started = std::time::Instant::now();
        flow.model::<UserChecked>().auto_migrate(unattended()).await.expect("checked");
        started.elapsed().as_micros() as u64
    };
    let mut rng = crate::common::soak::Rng(crate::common::soak::seed(0x5c1_17e));
    let trials = crate::common::soak::trials(10);
    let (mut failures, mut cut_short) = (Vec::new(), 0usize);
    for trial in 0..trials {
        let file = TestFile::new("cancel").await;
        let pool = sqlx::sqlite::SqlitePoolOptions::new()
            .max_connections(2)
            .connect(&file.url)
            .await
            .expect("the application's pool");
        let flow = || DataFlow::from_sqlite_pool(pool.clone());
        flow().model::<UserV2>().auto_migrate(unattended()).await.expect("v2");
        file.exec(seed).await;
        let budget = std::time::Duration::from_micros(rng.below(span));
        let cut =
            tokio::time::timeout(budget, flow().model::<UserChecked>().auto_migrate(unattended()))
                .await
                .is_err();
        cut_short += usize::from(cut);
        let mut problems = Vec::new();
        // BEGIN inside a transaction is an error on SQLite: accepted means clean.
        let mut connections = Vec::new();
        for _ in 0..2 {
            connections.push(pool.acquire().await.expect("a pool connection"));
        }
        for connection in &mut connections {
            match sqlx::raw_sql("BEGIN; ROLLBACK").execute(&mut **connection).await {
                Ok(_) => {}
                Err(error) => problems.push(format!("a pool connection is dirty: {error}")),
            }
        }
        drop(connections);
        let mut tx = pool.begin().await.expect("the app's transaction");
        sqlx::query("INSERT INTO app_rows VALUES (1)").execute(&mut *tx).await.expect("insert");
        tx.commit().await.expect("the app's commit");
        let next = flow().model::<UserChecked>();
        if let Err(error) = next.auto_migrate(unattended()).await {
            problems.push(format!("the next auto_migrate failed: {error}"));
        }
        if !next.plan().await.expect("plan").is_empty() {
            problems.push("not converged".into());
        }
        let rows = file.rows("SELECT count(*), sum(logins) FROM users").await;
        if rows != ["20000|200010000"] {
            problems.push(format!("rows {rows:?}"));
        }
        if file.rows("SELECT count(*) FROM app_rows").await != ["1"] {
            problems.push("the app's row".into());
        }
        if !problems.is_empty() {
            failures
                .push(format!("trial {trial} (cut short: {cut}, after {budget:?}): {problems:?}"));
        }
        pool.close().await;
    }
    assert!(failures.is_empty(), "{failures:#?}");
    assert!(cut_short * 2 >= trials, "most trials must cut the run short: {cut_short}/{trials}");
}

/// A read transaction held open by another connection (an application's long report):
/// in rollback-journal mode the migration cannot write while it lasts. It waits
/// `lock_timeout` per attempt, lets the application's reads through between attempts,
/// and gives up after the retries with nothing changed — it used to wait as long as the
/// reader (a 45 s reader, 44.6 s) while every new read failed. The preview says what
/// SQLite blocks; in WAL mode the same reader blocks nothing.
#[tokio::test]
async fn a_long_reader_bounds_the_wait_and_changes_nothing_and_wal_lets_it_read_on() {
    use dataflow::ApplyOptions;
    use sqlx::{Connection, Executor};
    use std::time::{Duration, Instant};
    let file = TestFile::new("long_reader").await;
    let v1 = flow(&file).await.model::<UserV1>();
    v1.auto_migrate(unattended()).await.expect("v1");
    file.exec("INSERT INTO users (email) VALUES ('a@x.io'), ('b@x.io')").await;
    let short = ApplyOptions::default()
        .with_lock_timeout(Duration::from_millis(100))
        .with_retries(3)
        .with_max_backoff(Duration::from_millis(100));
    let options = || unattended().with_max_risk(RiskLevel::High).with_apply(short.clone());
    // Dropping `email` rebuilds the table: a write that needs the whole file.
    let v3 = flow(&file).await.model::<UserWithoutEmail>();
    let plan = v3.plan().await.expect("plan");
    assert!(
        plan.warnings.iter().any(|w| w.contains("journal_mode=delete") && w.contains("WAL")),
        "{plan}"
    );

    let mut reader = sqlx::SqliteConnection::connect(&file.url).await.expect("reader");
    reader.execute("BEGIN").await.expect("begin");
    reader.execute("SELECT count(*) FROM users").await.expect("read");
    let before = Snapshot::take(&file).await;
    let started = Instant::now();
    let error = v3.auto_migrate(options()).await.expect_err("the reader outlasts the retries");
    let waited = started.elapsed();
    assert!(matches!(error, Error::SqliteReaders { attempts: 4, .. }), "{error}");
    assert!(error.to_string().contains("Nothing was changed"), "{error}");
    assert!(waited < Duration::from_secs(5), "gave up after {waited:?}");
    // Between attempts, and after, a new connection reads.
    let mut other = sqlx::SqliteConnection::connect(&file.url).await.expect("other reader");
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM users")
        .fetch_one(&mut other)
        .await
        .expect("a read while the reader is still open");
    assert_eq!(count, 2);
    before.assert_restored(&file, "the refused migration").await;
    reader.execute("COMMIT").await.expect("reader ends");

    // WAL: the same reader, and the migration runs past it.
    file.exec("PRAGMA journal_mode=WAL").await;
    let plan = v3.plan().await.expect("plan");
    assert!(!plan.warnings.iter().any(|w| w.contains("journal_mode")), "{plan}");
    reader.execute("BEGIN").await.expect("begin");
    reader.execute("SELECT count(*) FROM users").await.expect("read");
    let report = v3.auto_migrate(options()).await.expect("WAL: readers do not block");
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM users")
        .fetch_one(&mut reader)
        .await
        .expect("the open reader reads on");
    assert_eq!(count, 2);
    reader.execute("COMMIT").await.expect("reader ends");
    assert!(v3.plan().await.expect("plan").is_empty(), "converged");
    let version = report.version.expect("a version");
    v3.rollback_migration(&version).await.expect("rollback");
    before.assert_restored(&file, "WAL run rolled back").await;
}

/// A model whose foreign key names a table no model registers and the file does not have:
/// refused before anything runs (it used to apply a key to nothing), naming the table.
// assertion path: the apply is refused; the test asserts nothing was created or recorded
#[tokio::test]
async fn a_foreign_key_to_an_unregistered_table_changes_nothing() {
    #[derive(Model)]
    #[dataflow(table = "orders")]
    struct Order {
        #[dataflow(primary_key)]
        id: i64,
        #[dataflow(references = "customers.id")]
        customer_id: i64,
    }
    let file = TestFile::new("unregistered_fk").await;
    let error =
        flow(&file).await.model::<Order>().auto_migrate(unattended()).await.expect_err("refused");
    assert!(error.to_string().contains("references table customers"), "{error}");
    let tables = "SELECT count(*) FROM sqlite_schema WHERE type = 'table'";
    assert_eq!(file.rows(tables).await, vec!["0"], "nothing created, no history");
}
