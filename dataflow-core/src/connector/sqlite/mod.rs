//! The SQLite connector: open a database file, read its schema from the catalog, and apply
//! a plan — the whole plan in one `BEGIN EXCLUSIVE` transaction (SQLite has one writer, so
//! nothing is batched), foreign keys off while tables are rebuilt and checked with
//! `PRAGMA foreign_key_check` before commit (RISK.md §4).

pub(crate) mod contract;
pub mod history;

use crate::error::{Error, LeftBehind, Result};
use crate::lent::Lent;
use crate::options::ApplyOptions;
use crate::report::{ApplyReport, GroupTiming};
use dataflow_schema::change::Operation;
use dataflow_schema::dialect::sqlite::quote_ident;
use dataflow_schema::introspect::sqlite::{
    build, queries, Catalog, ColumnRow, ForeignKeyRow, IndexColumnRow, IndexRow, Introspected,
    TableRow,
};
use dataflow_schema::{Plan, Step};
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection, SqlitePool, SqlitePoolOptions};
use sqlx::{Executor, Row};
use std::str::FromStr;
use std::time::{Duration, Instant};

/// How long a statement waits for another writer before failing with `SQLITE_BUSY`.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

/// Whether a SQLite URL names an in-memory database rather than a file.
pub(crate) fn in_memory(url: &str) -> bool {
    url.contains(":memory:") || url.contains("mode=memory")
}

/// A SQLite database (a file, or `sqlite::memory:`).
#[derive(Debug, Clone)]
pub struct Sqlite {
    pool: SqlitePool,
    url: String,
}

impl Sqlite {
    /// Opens `sqlite://path/to/file.db` (created when missing) or `sqlite::memory:` (one
    /// connection, so the schema lives as long as the connector).
    pub async fn connect(url: &str) -> Result<Sqlite> {
        let shown = crate::error::redact(url);
        if !url.starts_with("sqlite:") {
            return Err(Error::UnsupportedUrl { url: shown });
        }
        let memory = in_memory(url);
        let options = SqliteConnectOptions::from_str(url)
            .map_err(|source| Error::Connect { url: shown.clone(), source })?
            .create_if_missing(true)
            .busy_timeout(BUSY_TIMEOUT)
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(if memory { 1 } else { 4 })
            .min_connections(if memory { 1 } else { 0 })
            .idle_timeout(if memory { None } else { Some(Duration::from_secs(60)) })
            .max_lifetime(if memory { None } else { Some(Duration::from_secs(30 * 60)) })
            .acquire_timeout(BUSY_TIMEOUT)
            .connect_with(options)
            .await
            .map_err(|source| Error::Connect { url: shown.clone(), source })?;
        Ok(Sqlite { pool, url: shown })
    }

    /// Wraps an existing pool (the application's own; for `sqlite::memory:` it must be the
    /// pool the application uses, since each in-memory connection is its own database).
    pub fn from_pool(pool: SqlitePool) -> Sqlite {
        Sqlite { pool, url: "the application's SQLite pool".into() }
    }

    /// The pool, for callers that run their own queries.
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// The URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Reads the schema: tables with columns, keys, checks, indexes, foreign keys and row
    /// counts, in one read transaction (a fixed number of queries plus one count).
    pub async fn introspect(&self) -> Result<Introspected> {
        // Lent: a read cut short (a cancelled future) closes the connection instead of
        // handing it back to the pool inside the read transaction.
        let mut connection = Lent::new(self.connection().await?);
        let error = |source| Error::Introspect { url: self.url.clone(), source };
        connection.execute("BEGIN").await.map_err(error)?;
        let catalog = read_catalog(&mut connection).await;
        if connection.execute("COMMIT").await.is_ok() {
            connection.give_back();
        }
        Ok(build(catalog.map_err(error)?))
    }

    pub(crate) async fn connection(&self) -> Result<sqlx::pool::PoolConnection<sqlx::Sqlite>> {
        self.pool.acquire().await.map_err(|source| Error::Connect { url: self.url.clone(), source })
    }

    /// Applies `plan` in one transaction: all of it, or nothing.
    pub async fn apply(&self, plan: &Plan) -> Result<ApplyReport> {
        let started = Instant::now();
        let mut lock = WriteLock::acquire(self, BUSY_TIMEOUT, &ApplyOptions::default()).await?;
        lock.run(plan).await?;
        lock.commit().await?;
        Ok(report(plan, started))
    }

    /// Undoes `plan` with its down steps, last step first, in one transaction. Refuses,
    /// changing nothing, when a step cannot be undone.
    pub async fn rollback(&self, plan: &Plan) -> Result<ApplyReport> {
        self.apply(&crate::reverse::reversed(plan)?).await
    }
}

/// What applying `plan` in one transaction did.
pub(crate) fn report(plan: &Plan, started: Instant) -> ApplyReport {
    let ms = started.elapsed().as_millis();
    ApplyReport {
        steps: plan.steps.len(),
        groups: usize::from(!plan.steps.is_empty()),
        retries: 0,
        elapsed_ms: ms,
        timings: vec![GroupTiming {
            group: 1,
            steps: plan.steps.iter().map(|s| s.number).collect(),
            ms,
        }],
        backfills: Vec::new(),
    }
}

/// SQLite's one writer: a `BEGIN EXCLUSIVE` transaction on a connection of its own, with
/// foreign keys off until it ends (the pragma is ignored inside a transaction, so it is
/// set before). It is the migration lock: a second migrator waits in `acquire`. Its
/// connection is `Lent`: given back to the pool only by a `commit` or `rollback` that
/// ended cleanly; dropped otherwise (an error, a cancelled future, a panic), it is closed
/// and SQLite rolls the transaction back.
///
/// Why EXCLUSIVE, taken up front: in rollback-journal mode a writer must wait for every
/// open read to end before it can write to the file (when its cache spills, and at
/// commit), and while it waits no new read can start. Waiting there is unbounded (each
/// spill waits anew) and starves the application's reads. So the lock is taken before
/// anything runs, each attempt waiting at most `lock_timeout` and the attempts spaced by
/// the backoff, so that the application's reads get in between; readers that outlast
/// the retries make the run give up, changing nothing. In WAL mode EXCLUSIVE is the same
/// as IMMEDIATE: only other writers are waited for, and readers go on.
pub(crate) struct WriteLock {
    connection: Lent<sqlx::Sqlite>,
    url: String,
    /// How long `acquire` waited.
    pub waited: Duration,
}

impl WriteLock {
    /// Waits up to `wait` for other writers (and for readers as `apply` allows: see the
    /// type's docs), then holds the write lock.
    pub async fn acquire(db: &Sqlite, wait: Duration, apply: &ApplyOptions) -> Result<WriteLock> {
        let started = Instant::now();
        // Pooled, not detached: an in-memory database lives in its one connection. Lent
        // before the first statement: neither an open write transaction nor
        // `foreign_keys = OFF` can go back to the pool from here on.
        let mut lock = WriteLock {
            connection: Lent::new(db.connection().await?),
            url: db.url.clone(),
            waited: Duration::ZERO,
        };
        let connection = &mut lock.connection;
        let begin_error = |source| Error::StepFailed {
            step: 0,
            what: "taking the write lock".into(),
            statement: "BEGIN EXCLUSIVE".into(),
            left: LeftBehind::Nothing,
            source,
        };
        execute(connection, "PRAGMA foreign_keys = OFF").await.map_err(begin_error)?;
        let attempt_ms = apply.lock_timeout.as_millis().clamp(1, i32::MAX as u128);
        let each_attempt = format!("PRAGMA busy_timeout = {attempt_ms}");
        let mut reader_attempts = 0;
        let outcome = loop {
            if let Err(error) = execute(connection, &each_attempt).await {
                break Err(begin_error(error));
            }
            let error = match execute(connection, "BEGIN EXCLUSIVE").await {
                Ok(()) => break Ok(()),
                Err(error) if is_busy(&error) => error,
                Err(error) => break Err(begin_error(error)),
            };
            if another_writer(connection).await {
                if started.elapsed() >= wait {
                    break Err(begin_error(error));
                }
                tracing::debug!(
                    target: "dataflow::lock",
                    waited_ms = started.elapsed().as_millis() as u64,
                    "another writer holds the database, waiting"
                );
                continue;
            }
            reader_attempts += 1;
            if reader_attempts > apply.retries {
                break Err(Error::SqliteReaders {
                    url: db.url.clone(),
                    waited_ms: started.elapsed().as_millis(),
                    attempts: reader_attempts,
                });
            }
            let pause = apply.backoff(reader_attempts);
            tracing::warn!(
                target: "dataflow::lock",
                attempt = reader_attempts,
                pause_ms = pause.as_millis() as u64,
                "open reads keep the SQLite database busy (rollback journal); letting them \
                 through, then trying again"
            );
            tokio::time::sleep(pause).await;
        };
        let restore = format!("PRAGMA busy_timeout = {}", BUSY_TIMEOUT.as_millis());
        execute(connection, &restore).await.map_err(begin_error)?;
        outcome?;
        // `BEGIN EXCLUSIVE` does not check the schema cookie, and SQLite validates an
        // ALTER TABLE against the connection's cached schema when it prepares it, before
        // any check: on a pooled connection that last looked before another connection
        // changed the schema, `DROP COLUMN "new"` fails with "no such column". Reading
        // the catalog inside the transaction reloads a stale schema first.
        execute(connection, "SELECT count(*) FROM sqlite_master").await.map_err(begin_error)?;
        tracing::info!(
            target: "dataflow::lock",
            waited_ms = started.elapsed().as_millis() as u64,
            "migration lock acquired"
        );
        lock.waited = started.elapsed();
        Ok(lock)
    }

    /// The locked connection.
    pub fn connection(&mut self) -> &mut SqliteConnection {
        &mut self.connection
    }

    /// The schema as this transaction sees it.
    pub async fn introspect(&mut self, url: &str) -> Result<Introspected> {
        let catalog = read_catalog(&mut self.connection)
            .await
            .map_err(|source| Error::Introspect { url: url.to_owned(), source })?;
        Ok(build(catalog))
    }

    /// Runs `plan`'s steps.
    pub async fn run(&mut self, plan: &Plan) -> Result<()> {
        for (index, step) in plan.steps.iter().enumerate() {
            run_step(&mut self.connection, plan, index, step)
                .await
                .map_err(|error| read_only(&self.url, error))?;
        }
        Ok(())
    }

    /// Checks foreign keys and commits; rows that break one roll everything back.
    pub async fn commit(mut self) -> Result<()> {
        let outcome = async {
            foreign_key_check(&mut self.connection).await?;
            execute(&mut self.connection, "COMMIT").await.map_err(|source| Error::StepFailed {
                step: 0,
                what: "commit".into(),
                statement: "COMMIT".into(),
                left: LeftBehind::Nothing,
                source,
            })
        }
        .await;
        let ended = match outcome {
            Ok(()) => true,
            Err(_) => execute(&mut self.connection, "ROLLBACK").await.is_ok(),
        };
        let restored = execute(&mut self.connection, "PRAGMA foreign_keys = ON").await.is_ok();
        if ended && restored {
            self.connection.give_back();
        }
        outcome
    }

    /// Gives the lock up, changing nothing.
    pub async fn rollback(mut self) {
        let ended = execute(&mut self.connection, "ROLLBACK").await.is_ok();
        let restored = execute(&mut self.connection, "PRAGMA foreign_keys = ON").await.is_ok();
        if ended && restored {
            self.connection.give_back();
        }
    }
}

/// A write refused because the database is read-only becomes an error that says so and
/// how to fix it.
fn read_only(url: &str, error: Error) -> Error {
    match error {
        Error::StepFailed { ref source, .. } if primary_code(source) == Some(8) => {
            Error::ReadOnlyDatabase { url: url.to_owned() }
        }
        other => other,
    }
}

/// The primary result code of an SQLite error (the low byte of the extended code).
fn primary_code(error: &sqlx::Error) -> Option<i64> {
    error
        .as_database_error()
        .and_then(|e| e.code())
        .and_then(|code| code.parse::<i64>().ok())
        .map(|code| code & 0xff)
}

/// `SQLITE_BUSY` (5) or one of its extended codes: another connection holds the lock.
fn is_busy(error: &sqlx::Error) -> bool {
    primary_code(error) == Some(5)
}

/// Whether another connection holds the write lock (not only a read): `BEGIN IMMEDIATE`,
/// which readers do not block, is refused at once. Leaves no transaction open.
async fn another_writer(connection: &mut SqliteConnection) -> bool {
    let writer = async {
        execute(connection, "PRAGMA busy_timeout = 0").await?;
        let writer = match execute(connection, "BEGIN IMMEDIATE").await {
            Ok(()) => {
                execute(connection, "ROLLBACK").await?;
                false
            }
            Err(error) if is_busy(&error) => true,
            Err(error) => return Err(error),
        };
        Ok::<bool, sqlx::Error>(writer)
    }
    .await
    // Unsure: count it as a writer (waited for as long as `wait`, as before).
    .unwrap_or(true);
    writer
}

/// One step. A rebuild drops the table's triggers with it, so they are saved and
/// re-created; and SQLite refuses to rename the new table while a view names the dropped
/// one, so views are dropped first and re-created after (in their original order; one
/// that no longer fits the new table fails the plan, which then changes nothing).
async fn run_step(
    connection: &mut SqliteConnection,
    plan: &Plan,
    index: usize,
    step: &Step,
) -> Result<()> {
    let fail = |statement: &str, source| apply_error(plan, index, statement, source);
    let rebuild = step.operation == Operation::RebuildTable;
    let (triggers, views): (Vec<String>, Vec<(String, String)>) = if rebuild {
        let triggers = sqlx::query_scalar(
            "SELECT sql FROM sqlite_schema WHERE type = 'trigger' AND tbl_name = ? AND sql IS NOT NULL",
        )
        .bind(&step.table)
        .fetch_all(&mut *connection)
        .await
        .map_err(|source| fail("reading the table's triggers", source))?;
        let views = sqlx::query_as(
            "SELECT name, sql FROM sqlite_schema WHERE type = 'view' AND sql IS NOT NULL ORDER BY rowid",
        )
        .fetch_all(&mut *connection)
        .await
        .map_err(|source| fail("reading the views", source))?;
        (triggers, views)
    } else {
        (Vec::new(), Vec::new())
    };
    let started = Instant::now();
    let drop_views = views.iter().rev().map(|(name, _)| format!("DROP VIEW {}", quote_ident(name)));
    let statements: Vec<String> = drop_views
        .chain(step.up.iter().cloned())
        .chain(triggers)
        .chain(views.iter().map(|(_, sql)| sql.clone()))
        .collect();
    for statement in &statements {
        execute(connection, statement).await.map_err(|source| fail(statement, source))?;
    }
    tracing::debug!(
        target: "dataflow::apply",
        step = step.number,
        table = %step.table,
        operation = step.operation.label(),
        ms = started.elapsed().as_millis() as u64,
        "step executed"
    );
    Ok(())
}

/// Rows that break a foreign key roll the whole plan back.
async fn foreign_key_check(connection: &mut SqliteConnection) -> Result<()> {
    let rows = sqlx::query("PRAGMA foreign_key_check").fetch_all(&mut *connection).await.map_err(
        |source| Error::StepFailed {
            step: 0,
            what: "foreign key check".into(),
            statement: "PRAGMA foreign_key_check".into(),
            left: LeftBehind::Nothing,
            source,
        },
    )?;
    if rows.is_empty() {
        return Ok(());
    }
    let mut offenders: Vec<String> = rows
        .iter()
        .filter_map(|row| {
            let table: String = row.try_get(0).ok()?;
            let parent: String = row.try_get(2).ok()?;
            Some(format!("{table} → {parent}"))
        })
        .collect();
    offenders.sort();
    offenders.dedup();
    Err(Error::ForeignKeyViolations { rows: rows.len(), pairs: offenders })
}

fn apply_error(plan: &Plan, index: usize, statement: &str, source: sqlx::Error) -> Error {
    let (number, what) = plan
        .steps
        .get(index)
        .map(|s| (s.number, format!("{} · {}", s.table, s.operation.label())))
        .unwrap_or((0, "transaction".into()));
    Error::StepFailed {
        step: number,
        what,
        statement: statement.to_owned(),
        left: LeftBehind::Nothing,
        source,
    }
}

async fn execute(
    connection: &mut SqliteConnection,
    sql: &str,
) -> std::result::Result<(), sqlx::Error> {
    connection.execute(sqlx::raw_sql(sql)).await.map(|_| ())
}

/// Every row of `sql`, each turned into a `T`.
async fn rows<T>(
    connection: &mut SqliteConnection,
    sql: &str,
    row: impl Fn(&sqlx::sqlite::SqliteRow) -> std::result::Result<T, sqlx::Error>,
) -> std::result::Result<Vec<T>, sqlx::Error> {
    sqlx::query(sql).fetch_all(connection).await?.iter().map(row).collect()
}

async fn read_catalog(
    connection: &mut SqliteConnection,
) -> std::result::Result<Catalog, sqlx::Error> {
    let mut tables = rows(&mut *connection, queries::TABLES, |r| {
        Ok(TableRow { name: r.try_get(0)?, sql: r.try_get(1)?, rows: None })
    })
    .await?;
    if !tables.is_empty() {
        // One statement counts every table (identifiers quoted by the dialect).
        let counts = tables
            .iter()
            .map(|t| format!("SELECT count(*) FROM {}", quote_ident(&t.name)))
            .collect::<Vec<_>>()
            .join(" UNION ALL ");
        let counted = sqlx::query(&counts).fetch_all(&mut *connection).await?;
        for (table, row) in tables.iter_mut().zip(counted) {
            let count: i64 = row.try_get(0)?;
            table.rows = u64::try_from(count).ok();
        }
    }
    let columns = rows(&mut *connection, queries::COLUMNS, |r| {
        Ok(ColumnRow {
            table: r.try_get(0)?,
            name: r.try_get(1)?,
            declared_type: r.try_get(2)?,
            not_null: r.try_get::<i64, _>(3)? != 0,
            default: r.try_get(4)?,
            pk: r.try_get(5)?,
            hidden: r.try_get(6)?,
        })
    })
    .await?;
    let indexes = rows(&mut *connection, queries::INDEXES, |r| {
        Ok(IndexRow {
            table: r.try_get(0)?,
            name: r.try_get(1)?,
            unique: r.try_get::<i64, _>(2)? != 0,
            origin: r.try_get(3)?,
            partial: r.try_get::<i64, _>(4)? != 0,
            sql: r.try_get(5)?,
        })
    })
    .await?;
    let index_columns = rows(&mut *connection, queries::INDEX_COLUMNS, |r| {
        Ok(IndexColumnRow {
            index: r.try_get(0)?,
            column: r.try_get(1)?,
            desc: r.try_get::<i64, _>(2)? != 0,
            collation: r.try_get(3)?,
        })
    })
    .await?;
    let foreign_keys = rows(&mut *connection, queries::FOREIGN_KEYS, |r| {
        Ok(ForeignKeyRow {
            table: r.try_get(0)?,
            id: r.try_get(1)?,
            ref_table: r.try_get(2)?,
            column: r.try_get(3)?,
            ref_column: r.try_get(4)?,
            on_update: r.try_get(5)?,
            on_delete: r.try_get(6)?,
        })
    })
    .await?;
    let unmanaged = sqlx::query_scalar(queries::UNMANAGED).fetch_all(&mut *connection).await?;
    Ok(Catalog { tables, columns, indexes, index_columns, foreign_keys, unmanaged })
}

/// Compile-time check: the connector's futures can run on a multi-threaded runtime.
#[allow(dead_code)]
fn futures_are_send(db: &Sqlite, plan: &Plan) {
    fn send<T: Send>(_: T) {}
    send(db.introspect());
    send(db.apply(plan));
}
