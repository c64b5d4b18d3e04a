//! Test databases and assertions for the PostgreSQL suite.

use dataflow::schema::introspect::postgres::Introspected;
use dataflow_core::Postgres;
use sqlx::Connection;
use sqlx::Executor;
use std::sync::atomic::{AtomicUsize, Ordering};

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// The admin URL (a database the tests may connect to and create databases from).
pub fn admin_url() -> String {
    std::env::var("DATAFLOW_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// `admin_url` with another database name.
pub fn url_for(database: &str) -> String {
    let admin = admin_url();
    match admin.rsplit_once('/') {
        Some((base, _)) => format!("{base}/{database}"),
        None => admin,
    }
}

/// A fresh database, dropped by [`TestDb::drop_db`] (or left for inspection on panic).
pub struct TestDb {
    pub name: String,
    pub url: String,
    pub db: Postgres,
}

/// Whether the server is reachable; if not, the test skips visibly (and fails under
/// `CI=true`: see [`crate::common::skip`]).
pub async fn server_available() -> bool {
    install_event_router();
    match sqlx::PgConnection::connect(&admin_url()).await {
        Ok(connection) => {
            let _ = connection.close().await;
            true
        }
        Err(error) => {
            crate::common::skip::skip(&format!(
                "PostgreSQL is unreachable at {} ({error})",
                admin_url()
            ));
            false
        }
    }
}

/// Runs statements on the admin connection, each on its own (CREATE/DROP DATABASE
/// cannot run in a transaction block).
pub async fn admin(statements: &[&str]) {
    let mut connection = sqlx::PgConnection::connect(&admin_url()).await.expect("admin connection");
    for sql in statements {
        connection.execute(sqlx::raw_sql(sql)).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
    }
    let _ = connection.close().await;
}

/// Creates (or re-creates) a database.
pub async fn create_database(name: &str) {
    admin(&[
        &format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"),
        &format!("CREATE DATABASE \"{name}\""),
    ])
    .await;
}

/// Drops a database.
pub async fn drop_database(name: &str) {
    admin(&[&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)")]).await;
}

impl TestDb {
    /// Creates `df_<label>_<pid>_<n>`.
    pub async fn new(label: &str) -> TestDb {
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let name = format!("df_{label}_{}_{n}", std::process::id());
        create_database(&name).await;
        let url = url_for(&name);
        let db = Postgres::connect(&url).await.expect("connect to the test database");
        TestDb { name, url, db }
    }

    /// Runs SQL in this database.
    pub async fn exec(&self, sql: &str) {
        sqlx::raw_sql(sql).execute(self.db.pool()).await.unwrap_or_else(|e| panic!("{sql}\n→ {e}"));
    }

    /// One value.
    pub async fn scalar<T>(&self, sql: &str) -> T
    where
        T: for<'r> sqlx::Decode<'r, sqlx::Postgres> + sqlx::Type<sqlx::Postgres> + Send + Unpin,
    {
        sqlx::query_scalar(sql)
            .fetch_one(self.db.pool())
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
    }

    /// Introspects `public`.
    pub async fn introspect(&self) -> Introspected {
        self.db.introspect(&["public".to_owned()]).await.expect("introspection")
    }

    /// Drops the database.
    pub async fn drop_db(self) {
        self.db.pool().close().await;
        drop_database(&self.name).await;
    }
}

use crate::common::applied::{
    apply_and_reverse, double_quoted, double_quoted_table, Inspect, Reversal,
};
use dataflow::{schema_of, Dialect, ModelDef, Plan, PlanOptions, QualifiedName, Schema};
use dataflow_core::ApplyOptions;

/// The desired schema of a model set.
pub fn models(defs: &[ModelDef]) -> Schema {
    schema_of(defs).unwrap_or_else(|e| panic!("invalid models: {e}"))
}

impl TestDb {
    /// The model-mode plan from this database to `desired`.
    pub async fn plan(&self, desired: &Schema) -> Plan {
        self.db.plan_models(desired, &PlanOptions::default()).await.expect("planning")
    }

    /// Plans, applies and checks convergence (a second plan is empty), through the
    /// assertion path: rolled back to the exact schema and rows it started from, then
    /// applied again (see [`crate::common::applied`]). Returns the final plan.
    pub async fn migrate(&self, desired: &Schema) -> Plan {
        self.migrate_with(desired, Reversal::Restores).await
    }

    /// [`TestDb::migrate`], with the rollback check given by `reversal`.
    pub async fn migrate_with(&self, desired: &Schema, reversal: Reversal) -> Plan {
        let apply = async || {
            let plan = self.plan(desired).await;
            self.db
                .apply(&plan, &ApplyOptions::default())
                .await
                .unwrap_or_else(|e| panic!("apply: {e}\n{plan}"));
            self.assert_converged(desired).await;
            plan
        };
        let roll_back = async |plan: &Plan| {
            self.db
                .rollback(plan, &ApplyOptions::default())
                .await
                .unwrap_or_else(|e| panic!("rollback: {e}\n{plan}"));
        };
        apply_and_reverse(self, reversal, apply, roll_back).await
    }

    /// Invariant 4: introspecting again and diffing yields no changes.
    pub async fn assert_converged(&self, desired: &Schema) {
        let again = self.plan(desired).await;
        assert!(again.is_empty(), "the plan does not converge; a second plan is:\n{again}");
    }

    /// Undoes `plan` and checks the database is back at `before` (a plan to it is empty).
    pub async fn rollback_to(&self, plan: &Plan, before: &Schema) {
        self.db
            .rollback(plan, &ApplyOptions::default())
            .await
            .unwrap_or_else(|e| panic!("rollback: {e}"));
        let again = self.plan(before).await;
        assert!(again.is_empty(), "rollback did not restore the schema; still to do:\n{again}");
    }

    /// `SELECT … ORDER BY 1` rendered as text rows, for comparing data before and after.
    pub async fn rows(&self, sql: &str) -> Vec<String> {
        let wrapped = format!("SELECT (t.*)::text FROM ({sql}) t ORDER BY 1");
        sqlx::query_scalar(&wrapped)
            .fetch_all(self.db.pool())
            .await
            .unwrap_or_else(|e| panic!("{wrapped}: {e}"))
    }
}

impl Inspect for TestDb {
    const DIALECT: Dialect = Dialect::Postgres;

    /// Every namespace but the system ones.
    async fn live_schema(&self) -> Schema {
        let namespaces: Vec<String> = sqlx::query_scalar(
            "SELECT nspname::text FROM pg_namespace WHERE nspname NOT LIKE 'pg\\_%' \
             AND nspname <> 'information_schema' ORDER BY 1",
        )
        .fetch_all(self.db.pool())
        .await
        .expect("namespaces");
        self.db.introspect(&namespaces).await.expect("introspection").schema
    }

    async fn table_rows(&self, table: &QualifiedName, columns: &[String]) -> Vec<String> {
        let list: Vec<String> = columns.iter().map(|c| double_quoted(c)).collect();
        let sql = format!(
            "SELECT ROW({})::text FROM {} ORDER BY 1",
            list.join(", "),
            double_quoted_table(table)
        );
        sqlx::query_scalar(&sql)
            .fetch_all(self.db.pool())
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
    }
}

/// The `dataflow` tracing events emitted on this thread while the guard lives, one line
/// each: `target message field=value …`. (A `#[tokio::test]` runtime polls every task on
/// the test's thread, so spawned migrators are captured too.)
///
/// One global subscriber routes events to the capturing thread. It is installed by
/// `server_available()`, before any test runs dataflow code: thread-local subscribers
/// (`set_default`) race with callsite-interest caching when tests run in parallel, and
/// a callsite first hit on another thread could stay disabled for the whole run.
#[derive(Clone, Default)]
pub struct TracedEvents(std::sync::Arc<std::sync::Mutex<Vec<String>>>);

thread_local! {
    static CAPTURING: std::cell::RefCell<Option<TracedEvents>> = const { std::cell::RefCell::new(None) };
}

/// Stops capturing on this thread when dropped.
pub struct CaptureGuard;

impl Drop for CaptureGuard {
    fn drop(&mut self) {
        CAPTURING.with(|slot| slot.borrow_mut().take());
    }
}

impl TracedEvents {
    pub fn capture() -> (TracedEvents, CaptureGuard) {
        install_event_router();
        let events = TracedEvents::default();
        CAPTURING.with(|slot| *slot.borrow_mut() = Some(events.clone()));
        (events, CaptureGuard)
    }

    pub fn lines(&self) -> Vec<String> {
        self.0.lock().map(|lines| lines.clone()).unwrap_or_default()
    }

    /// Waits until `count` captured events contain `text` (bounded: 60 s, then panics with
    /// what was captured). How a test waits for the code under test to reach a point,
    /// instead of sleeping and hoping it did.
    pub async fn wait_for(&self, text: &str, count: usize) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while self.lines().iter().filter(|line| line.contains(text)).count() < count {
            assert!(
                std::time::Instant::now() < deadline,
                "{count} event(s) with {text:?} never came: {:#?}",
                self.lines()
            );
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
    }
}

pub fn install_event_router() {
    static INSTALL: std::sync::Once = std::sync::Once::new();
    INSTALL.call_once(|| {
        let _ = tracing::subscriber::set_global_default(EventRouter);
    });
}

/// Routes events to the capturing thread, each line ending with the spans it happened
/// in: ` in=migrate/group/step`.
struct EventRouter;

/// Span names by id (spans are few in tests; they are never freed).
static SPAN_NAMES: std::sync::Mutex<Vec<&'static str>> = std::sync::Mutex::new(Vec::new());

thread_local! {
    /// The spans entered on this thread, innermost last.
    static ENTERED: std::cell::RefCell<Vec<u64>> = const { std::cell::RefCell::new(Vec::new()) };
}

impl tracing::Subscriber for EventRouter {
    fn enabled(&self, metadata: &tracing::Metadata<'_>) -> bool {
        metadata.target().starts_with("dataflow")
    }
    fn new_span(&self, attributes: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        let mut names = SPAN_NAMES.lock().unwrap_or_else(|e| e.into_inner());
        names.push(attributes.metadata().name());
        tracing::span::Id::from_u64(names.len() as u64)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        CAPTURING.with(|slot| {
            let Some(events) = slot.borrow().clone() else { return };
            let mut line = event.metadata().target().to_owned();
            event.record(&mut FieldsAsText(&mut line));
            let names = SPAN_NAMES.lock().unwrap_or_else(|e| e.into_inner());
            let path: Vec<&str> = ENTERED.with(|entered| {
                entered
                    .borrow()
                    .iter()
                    .filter_map(|id| names.get(*id as usize - 1).copied())
                    .collect()
            });
            if !path.is_empty() {
                line.push_str(&format!(" in={}", path.join("/")));
            }
            if let Ok(mut lines) = events.0.lock() {
                lines.push(line);
            };
        });
    }
    fn enter(&self, id: &tracing::span::Id) {
        ENTERED.with(|entered| entered.borrow_mut().push(id.into_u64()));
    }
    fn exit(&self, id: &tracing::span::Id) {
        ENTERED.with(|entered| {
            let mut entered = entered.borrow_mut();
            if let Some(at) = entered.iter().rposition(|e| *e == id.into_u64()) {
                entered.remove(at);
            }
        });
    }
}

struct FieldsAsText<'a>(&'a mut String);

impl tracing::field::Visit for FieldsAsText<'_> {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            self.0.push_str(&format!(" {value:?}"));
        } else {
            self.0.push_str(&format!(" {}={value:?}", field.name()));
        }
    }
}

/// Migrate options for tests: never prompt, even when `cargo test` runs in a terminal
/// (the default mode asks there).
pub fn unattended() -> dataflow::MigrateOptions {
    dataflow::MigrateOptions::default().with_mode(dataflow::Mode::AutoConfirm)
}

/// Starts this test binary again running only the ignored test `test` (its child body),
/// with `url` in the environment variable `variable`; output discarded.
pub fn spawn_child_test(test: &str, variable: &str, url: &str) -> std::process::Child {
    std::process::Command::new(std::env::current_exe().expect("the test binary"))
        .args(["--exact", test, "--ignored"])
        .env(variable, url)
        .stdout(std::process::Stdio::null())
        // Read by `kill_and_check`: a child that failed on its own says why.
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn the child")
}
