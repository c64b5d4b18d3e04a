//! The MySQL/MariaDB connector: connect, introspect (six `information_schema` queries
//! whatever the table count), the migration lock (`GET_LOCK`), and running one plan step.
//!
//! Every session the connector opens is strict (`STRICT_ALL_TABLES`: a narrowing fails
//! instead of truncating) and reads backslash escapes (what `quote_literal` writes).
//! Every statement of a step runs under `lock_wait_timeout` (the servers' default is a
//! day or a year) and, on MariaDB, `max_statement_time`; a lock timeout or deadlock is
//! retried with exponential backoff and full jitter; an `ALGORITHM` the server refuses
//! falls back to the next one (`dialect::mysql::render::fallback`) when the risk policy
//! allows what that one blocks.

pub(crate) mod contract;
pub mod history;

use crate::error::redact;
use crate::error::{Error, Result};
use crate::options::ApplyOptions;
use dataflow_schema::dialect::mysql::render::{blocks_writes, fallback};
use dataflow_schema::introspect::mysql::{self as catalog, Catalog, Introspected};
use dataflow_schema::{RiskLevel, Step};
use sqlx::mysql::{MySqlConnectOptions, MySqlPoolOptions, MySqlRow};
use sqlx::pool::PoolConnection;
use sqlx::{Connection, Executor, MySql, MySqlConnection, MySqlPool, Row};
use std::str::FromStr;
use std::time::{Duration, Instant};

/// The session settings of every connection: strict, backslash escapes read, UTC.
const SESSION: &str =
    "SET SESSION sql_mode = 'STRICT_ALL_TABLES,ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION'";

/// A MySQL or MariaDB database.
#[derive(Debug, Clone)]
pub struct Mysql {
    pool: MySqlPool,
    options: Box<MySqlConnectOptions>,
    url: String,
    database: String,
}

impl Mysql {
    /// Connects to `mysql://user:password@host:port/database` (`mariadb://` also works).
    pub async fn connect(url: &str) -> Result<Mysql> {
        let connect_error = |source| Error::Connect { url: redact(url), source };
        let normalized = match url.strip_prefix("mariadb://") {
            Some(rest) => format!("mysql://{rest}"),
            None => url.to_owned(),
        };
        let options = MySqlConnectOptions::from_str(&normalized)
            .map_err(connect_error)?
            .pipes_as_concat(false);
        let Some(database) = options.get_database().map(str::to_owned) else {
            return Err(Error::UnsupportedUrl {
                url: format!("{} (name the database: mysql://user@host/DATABASE)", redact(url)),
            });
        };
        super::probe::<sqlx::MySqlConnection>(&options).await.map_err(connect_error)?;
        let server = crate::sessions::Server::Mysql(Box::new(options.clone()));
        let pool = MySqlPoolOptions::new()
            .max_connections(4)
            .acquire_timeout(super::CONNECT_TIMEOUT)
            .after_connect(move |conn, _| {
                let server = server.clone();
                Box::pin(async move {
                    conn.execute(SESSION).await?;
                    note_session(conn, &server).await?;
                    Ok(())
                })
            })
            .connect_with(options.clone())
            .await
            .map_err(connect_error)?;
        Ok(Mysql { pool, options: Box::new(options), url: redact(url), database })
    }

    /// Uses the application's own pool for reading the schema; the migrator opens its
    /// own connection for the lock and the DDL (with the same options), so its session
    /// settings never leak into the pool. `None` when the pool's options name no database.
    pub fn from_pool(pool: MySqlPool) -> Option<Mysql> {
        let options = pool.connect_options().as_ref().clone();
        let database = options.get_database()?.to_owned();
        let url = format!(
            "mysql://{}@{}:{}/{database}",
            options.get_username(),
            options.get_host(),
            options.get_port()
        );
        Some(Mysql { pool, options: Box::new(options), url, database })
    }

    /// The URL, password removed.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The database (the namespace every table lives in).
    pub fn database(&self) -> &str {
        &self.database
    }

    /// The pool.
    pub fn pool(&self) -> &MySqlPool {
        &self.pool
    }

    /// A connection of its own (not from the pool): the migration lock lives as long as
    /// it, and a kill or a dropped guard ends it.
    pub async fn dedicated(&self) -> Result<MySqlConnection> {
        let mut connection = MySqlConnection::connect_with(&self.options)
            .await
            .map_err(|source| Error::Connect { url: self.url.clone(), source })?;
        connection
            .execute(SESSION)
            .await
            .map_err(|source| Error::Connect { url: self.url.clone(), source })?;
        let server = crate::sessions::Server::Mysql(self.options.clone());
        note_session(&mut connection, &server)
            .await
            .map_err(|source| Error::Connect { url: self.url.clone(), source })?;
        Ok(connection)
    }

    /// Reads the schema: the server's flavour, then one query per object kind.
    pub async fn introspect(&self) -> Result<Introspected> {
        introspect_on(&mut *self.connection().await?, &self.url).await
    }

    /// A connection from the pool.
    pub(crate) async fn connection(&self) -> Result<PoolConnection<MySql>> {
        self.pool.acquire().await.map_err(|source| Error::Connect { url: self.url.clone(), source })
    }
}

/// Introspects on `connection` (the migrator's, under its lock).
pub(crate) async fn introspect_on(
    connection: &mut MySqlConnection,
    url: &str,
) -> Result<Introspected> {
    let error = |source| Error::Introspect { url: url.to_owned(), source };
    let version: String = sqlx::query_scalar("SELECT CAST(VERSION() AS CHAR)")
        .fetch_one(&mut *connection)
        .await
        .map_err(error)?;
    let mariadb = version.to_ascii_lowercase().contains("mariadb");
    let text = |r: &MySqlRow, i: usize| -> std::result::Result<String, sqlx::Error> {
        Ok(r.try_get::<Option<String>, _>(i)?.unwrap_or_default())
    };
    let tables = fetch(connection, catalog::queries::tables())
        .await
        .map_err(error)?
        .iter()
        .map(|r| {
            Ok(catalog::TableRow {
                name: text(r, 0)?,
                rows: r.try_get(1)?,
                bytes: r.try_get(2)?,
                comment: text(r, 3)?,
                collation: text(r, 4)?,
            })
        })
        .collect::<std::result::Result<Vec<_>, sqlx::Error>>()
        .map_err(error)?;
    let columns = fetch(connection, catalog::queries::columns())
        .await
        .map_err(error)?
        .iter()
        .map(|r| {
            Ok(catalog::ColumnRow {
                table: text(r, 0)?,
                name: text(r, 1)?,
                default: r.try_get(2)?,
                nullable: r.try_get::<i64, _>(3)? != 0,
                column_type: text(r, 4)?,
                collation: text(r, 5)?,
                extra: text(r, 6)?,
                generated: text(r, 7)?,
                comment: text(r, 8)?,
            })
        })
        .collect::<std::result::Result<Vec<_>, sqlx::Error>>()
        .map_err(error)?;
    let indexes = fetch(connection, catalog::queries::indexes())
        .await
        .map_err(error)?
        .iter()
        .map(|r| {
            Ok(catalog::IndexRow {
                table: text(r, 0)?,
                name: text(r, 1)?,
                unique: r.try_get::<i64, _>(2)? != 0,
                column: r.try_get(3)?,
                sub_part: r.try_get(4)?,
                descending: r.try_get::<Option<i64>, _>(5)?.unwrap_or(0) != 0,
                index_type: text(r, 6)?,
            })
        })
        .collect::<std::result::Result<Vec<_>, sqlx::Error>>()
        .map_err(error)?;
    let checks = fetch(connection, catalog::queries::checks(mariadb))
        .await
        .map_err(error)?
        .iter()
        .map(|r| {
            Ok(catalog::CheckRow { table: text(r, 0)?, name: text(r, 1)?, clause: text(r, 2)? })
        })
        .collect::<std::result::Result<Vec<_>, sqlx::Error>>()
        .map_err(error)?;
    let foreign_keys = fetch(connection, catalog::queries::foreign_keys())
        .await
        .map_err(error)?
        .iter()
        .map(|r| {
            Ok(catalog::ForeignKeyRow {
                table: text(r, 0)?,
                name: text(r, 1)?,
                column: text(r, 2)?,
                ref_table: text(r, 3)?,
                ref_column: text(r, 4)?,
                on_update: text(r, 5)?,
                on_delete: text(r, 6)?,
            })
        })
        .collect::<std::result::Result<Vec<_>, sqlx::Error>>()
        .map_err(error)?;
    let unmanaged = fetch(connection, catalog::queries::UNMANAGED.to_owned())
        .await
        .map_err(error)?
        .iter()
        .map(|r| text(r, 0))
        .collect::<std::result::Result<Vec<_>, sqlx::Error>>()
        .map_err(error)?;
    Ok(catalog::build(Catalog {
        mariadb,
        tables,
        columns,
        indexes,
        checks,
        foreign_keys,
        unmanaged,
    }))
}

async fn fetch(
    connection: &mut MySqlConnection,
    sql: String,
) -> std::result::Result<Vec<MySqlRow>, sqlx::Error> {
    sqlx::query(&sql).fetch_all(connection).await
}

/// The migration lock: `GET_LOCK` on a dedicated connection, polled so the wait is
/// bounded. Released by [`MigrationLock::release`], or — on an error, a panic, a kill —
/// when the connection ends (the server frees a session's locks).
#[derive(Debug)]
pub struct MigrationLock {
    connection: MySqlConnection,
    name: String,
    /// How long acquiring it took.
    pub waited: Duration,
}

/// The lock's name: `dataflow:<database>` (server-wide, so the database is in it), cut
/// with a hash to the 64 characters `GET_LOCK` allows.
pub fn lock_name(database: &str) -> String {
    let name = format!("dataflow:{database}");
    if name.chars().count() <= 64 {
        return name;
    }
    let hash = dataflow_schema::checksum::sha256_hex(&name);
    format!("dataflow:{}", &hash[..32])
}

impl MigrationLock {
    /// Takes the lock for `db`, waiting at most `timeout`.
    pub async fn acquire(db: &Mysql, timeout: Duration) -> Result<MigrationLock> {
        let started = Instant::now();
        let name = lock_name(db.database());
        let mut connection = db.dedicated().await?;
        let lock_error = |source| Error::Connect { url: db.url().to_owned(), source };
        loop {
            let got: Option<i64> = sqlx::query_scalar("SELECT GET_LOCK(?, 0)")
                .bind(&name)
                .fetch_one(&mut connection)
                .await
                .map_err(lock_error)?;
            if got == Some(1) {
                tracing::info!(target: "dataflow::lock", name, waited_ms = started.elapsed().as_millis() as u64, "migration lock acquired");
                return Ok(MigrationLock { connection, name, waited: started.elapsed() });
            }
            if started.elapsed() >= timeout {
                let holder = holder(&mut connection, &name).await;
                return Err(Error::LockTimeout {
                    waited_ms: started.elapsed().as_millis(),
                    holder,
                });
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits (at most `timeout`) while another session holds the lock, and says whether
    /// it did. A killed migrator's session keeps the lock until the server finishes the
    /// statement it was running, so a plan previewed meanwhile could be stale.
    pub async fn wait_while_held(db: &Mysql, timeout: Duration) -> Result<bool> {
        let started = Instant::now();
        let name = lock_name(db.database());
        let mut waited = false;
        loop {
            let free: Option<i64> = sqlx::query_scalar("SELECT IS_FREE_LOCK(?)")
                .bind(&name)
                .fetch_one(db.pool())
                .await
                .map_err(|source| Error::Connect { url: db.url().to_owned(), source })?;
            if free != Some(0) || started.elapsed() >= timeout {
                return Ok(waited);
            }
            if !waited {
                tracing::info!(target: "dataflow::lock", name, "another migrator holds the lock; waiting before planning");
            }
            waited = true;
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The connection holding the lock (the migrator works on it).
    pub fn connection(&mut self) -> &mut MySqlConnection {
        &mut self.connection
    }

    /// Releases the lock and closes the connection.
    pub async fn release(mut self) {
        let _ = sqlx::query("SELECT RELEASE_LOCK(?)")
            .bind(&self.name)
            .execute(&mut self.connection)
            .await;
        let _ = self.connection.close().await;
    }
}

/// Who holds `name`: the session's id, user and host from the process list.
async fn holder(connection: &mut MySqlConnection, name: &str) -> String {
    let row = sqlx::query(
        "SELECT CAST(p.ID AS SIGNED), CAST(p.USER AS CHAR), CAST(p.HOST AS CHAR) \
         FROM information_schema.PROCESSLIST p WHERE p.ID = IS_USED_LOCK(?)",
    )
    .bind(name)
    .fetch_optional(connection)
    .await;
    match row {
        Ok(Some(r)) => format!(
            "session {} ({}@{})",
            r.try_get::<i64, _>(0).unwrap_or_default(),
            r.try_get::<String, _>(1).unwrap_or_default(),
            r.try_get::<String, _>(2).unwrap_or_default()
        ),
        _ => "another session (no longer visible)".into(),
    }
}

/// MySQL's error number of a server error.
fn error_number(error: &sqlx::Error) -> Option<u16> {
    let sqlx::Error::Database(db) = error else { return None };
    db.try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>().map(|e| e.number())
}

/// ER_LOCK_WAIT_TIMEOUT and ER_LOCK_DEADLOCK: nothing was done, try again.
fn is_lock_error(error: &sqlx::Error) -> bool {
    matches!(error_number(error), Some(1205 | 1213))
}

/// ER_ALTER_OPERATION_NOT_SUPPORTED(_REASON): the server refused the `ALGORITHM`.
fn is_algorithm_refused(error: &sqlx::Error) -> bool {
    matches!(error_number(error), Some(1845 | 1846))
}

/// MariaDB (seen on 10.11) can keep a table's CHECK expressions from before a column
/// rename in its table-definition cache, and then refuses the next rename of that column
/// with "Unknown column '<old name>' in 'CHECK'" (1054) although the stored definition is
/// right. Reloading the definition (`FLUSH TABLES t`) and running the statement again
/// works.
fn is_stale_check(error: &sqlx::Error) -> bool {
    error_number(error) == Some(1054)
        && matches!(error, sqlx::Error::Database(db) if db.message().contains("in 'CHECK'"))
}

/// What running one statement needed.
#[derive(Debug, Default)]
pub(crate) struct StatementRun {
    pub retries: u32,
    /// The table's definition was reloaded once (see `is_stale_check`).
    pub reloaded_definition: bool,
    /// The fallback that ran instead of the planned statement, if any.
    pub fell_back_to: Option<String>,
}

/// Runs one statement of `step` under the lock's session timeouts, retrying lock
/// timeouts and falling back through algorithms as the module docs say.
pub(crate) async fn run_statement(
    connection: &mut MySqlConnection,
    step: &Step,
    statement: &str,
    options: &ApplyOptions,
    max_risk: RiskLevel,
) -> std::result::Result<StatementRun, (String, sqlx::Error)> {
    let wait = options.lock_timeout.as_secs().max(1);
    let mut settings = format!("SET SESSION lock_wait_timeout = {wait}");
    if is_mariadb(connection).await {
        // Seconds, 0 = none; a DDL step gets 3× its estimate, at least 30 s.
        let seconds = step.statement_timeout_ms as f64 / 1000.0;
        settings.push_str(&format!(", max_statement_time = {seconds:.3}"));
    }
    connection.execute(settings.as_str()).await.map_err(|e| (statement.to_owned(), e))?;
    let mut run = StatementRun::default();
    let mut sql = statement.to_owned();
    loop {
        match connection.execute(sql.as_str()).await {
            Ok(_) => return Ok(run),
            Err(error) if is_lock_error(&error) && run.retries < options.retries => {
                run.retries += 1;
                let delay = options.backoff(run.retries);
                tracing::warn!(target: "dataflow::apply", step = step.number, attempt = run.retries, delay_ms = delay.as_millis() as u64, "lock wait timeout; retrying");
                tokio::time::sleep(delay).await;
            }
            Err(error) if is_stale_check(&error) && !run.reloaded_definition => {
                run.reloaded_definition = true;
                let flush = format!(
                    "FLUSH TABLES {}",
                    dataflow_schema::dialect::mysql::quote_ident(&step.table)
                );
                tracing::warn!(target: "dataflow::apply", step = step.number, "stale CHECK definition in the server's cache; {flush} and again");
                if connection.execute(flush.as_str()).await.is_err() {
                    return Err((sql, error));
                }
            }
            Err(error) if is_algorithm_refused(&error) => {
                // Blocking writes is a lock-bound MEDIUM, shown (and counted) SAFE on a
                // tiny table: the one rule of `Assessment::shown_level`.
                let blocking = step.risk.clone().at_least(RiskLevel::Medium).lock_bound();
                let tiny = blocking.shown_level(&dataflow_schema::PlanOptions::default())
                    == RiskLevel::Safe;
                let next = fallback(&sql)
                    .filter(|next| !blocks_writes(next) || max_risk >= RiskLevel::Medium || tiny);
                let Some(next) = next else { return Err((sql, error)) };
                tracing::warn!(target: "dataflow::apply", step = step.number, refused = %sql, fallback = %next, "the server refused the algorithm; falling back");
                run.fell_back_to = Some(next.clone());
                sql = next;
            }
            Err(error) => return Err((sql, error)),
        }
    }
}

async fn is_mariadb(connection: &mut MySqlConnection) -> bool {
    let version: std::result::Result<String, _> =
        sqlx::query_scalar("SELECT CAST(VERSION() AS CHAR)").fetch_one(connection).await;
    version.is_ok_and(|v| v.to_ascii_lowercase().contains("mariadb"))
}

/// Notes `connection`'s session for the command line's Ctrl-C (see sessions.rs).
async fn note_session(
    connection: &mut MySqlConnection,
    server: &crate::sessions::Server,
) -> std::result::Result<(), sqlx::Error> {
    if crate::sessions::tracking() {
        let id: u64 = sqlx::query_scalar("SELECT CONNECTION_ID()").fetch_one(connection).await?;
        crate::sessions::note_session(server, i64::try_from(id).unwrap_or(i64::MAX));
    }
    Ok(())
}
