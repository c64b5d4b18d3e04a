//! One migrator at a time per database: a session advisory lock on a dedicated
//! connection, held by an RAII guard.
//!
//! The key is a stable 64-bit hash of `"dataflow:" + database name`. Waiting is bounded
//! (`migration_lock_timeout`); the lock is released on every path: explicitly by
//! [`LockGuard::release`], or — on an error, a panic or a cancelled future — by dropping
//! the guard, which closes its connection, and PostgreSQL ends the session's locks.
//! Session locks need a session: a transaction-mode pooler (PgBouncer) must be bypassed
//! for this connection.

use dataflow_schema::checksum::sha256_hex;
use sqlx::{Connection, PgConnection};
use std::time::{Duration, Instant};
use tracing::Instrument;

/// The advisory-lock key of a database.
pub fn key(database: &str) -> i64 {
    let digest = sha256_hex(&format!("dataflow:{database}"));
    // 16 hex digits = 64 bits; reinterpreted as the signed key PostgreSQL takes.
    u64::from_str_radix(&digest[..16], 16).map_or(0, |k| k as i64)
}

/// Holds the migration lock until released or dropped.
#[derive(Debug)]
pub struct LockGuard {
    connection: Option<PgConnection>,
    key: i64,
    /// How long acquiring it took.
    pub waited: Duration,
}

/// Why the lock was not acquired.
#[derive(Debug)]
pub enum LockError {
    /// Another migrator held it for longer than the timeout.
    Timeout {
        /// Who holds it (application, address, backend pid), as far as visible.
        holder: String,
    },
    /// The database failed.
    Database(sqlx::Error),
}

impl From<sqlx::Error> for LockError {
    fn from(error: sqlx::Error) -> Self {
        LockError::Database(error)
    }
}

impl LockGuard {
    /// Takes the lock on `connection` (which the guard then owns), polling with
    /// `pg_try_advisory_lock` so the wait is bounded and never sits in a lock queue.
    pub async fn acquire(
        connection: PgConnection,
        timeout: Duration,
    ) -> Result<LockGuard, LockError> {
        let span = tracing::info_span!(
            target: "dataflow::lock",
            "migration_lock",
            timeout_ms = timeout.as_millis() as u64
        );
        Self::acquire_in_span(connection, timeout).instrument(span).await
    }

    async fn acquire_in_span(
        mut connection: PgConnection,
        timeout: Duration,
    ) -> Result<LockGuard, LockError> {
        let started = Instant::now();
        let database: String = sqlx::query_scalar("SELECT current_database()::text")
            .fetch_one(&mut connection)
            .await?;
        let key = key(&database);
        let mut pause = Duration::from_millis(50);
        loop {
            let locked: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
                .bind(key)
                .fetch_one(&mut connection)
                .await?;
            if locked {
                tracing::info!(
                    target: "dataflow::lock",
                    waited_ms = started.elapsed().as_millis() as u64,
                    "migration lock acquired"
                );
                return Ok(LockGuard {
                    connection: Some(connection),
                    key,
                    waited: started.elapsed(),
                });
            }
            if started.elapsed() >= timeout {
                let holder =
                    holder(&mut connection, key).await.unwrap_or_else(|_| "unknown".into());
                tracing::warn!(target: "dataflow::lock", %holder, "gave up waiting for the migration lock");
                return Err(LockError::Timeout { holder });
            }
            tracing::debug!(
                target: "dataflow::lock",
                waited_ms = started.elapsed().as_millis() as u64,
                "migration lock held by another migrator, waiting"
            );
            tokio::time::sleep(pause.min(timeout.saturating_sub(started.elapsed()))).await;
            pause = (pause * 2).min(Duration::from_millis(500));
        }
    }

    /// The connection that holds the lock (the migrator runs its statements on it).
    pub fn connection(&mut self) -> &mut PgConnection {
        // Present from `acquire` until `release` consumes the guard.
        self.connection.as_mut().expect("the lock connection lives as long as the guard")
    }

    /// Releases the lock and closes its connection.
    pub async fn release(mut self) -> Result<(), sqlx::Error> {
        if let Some(mut connection) = self.connection.take() {
            sqlx::query("SELECT pg_advisory_unlock($1)")
                .bind(self.key)
                .execute(&mut connection)
                .await?;
            connection.close().await?;
        }
        Ok(())
    }
}

// Dropping an unreleased guard drops its connection: the server ends the session and
// with it the advisory lock. Nothing to do here beyond what `PgConnection`'s drop does.

async fn holder(connection: &mut PgConnection, key: i64) -> Result<String, sqlx::Error> {
    // An advisory lock on a bigint key is stored as (classid, objid) = (high, low) 32 bits.
    let row: Option<HolderRow> = sqlx::query_as(
        "SELECT a.application_name, host(a.client_addr), a.pid, a.state, \
                left(a.query, 120), date_trunc('second', now() - a.query_start)::text \
         FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid \
         WHERE l.locktype = 'advisory' AND l.granted \
           AND l.classid = (($1 >> 32) & 4294967295)::oid AND l.objid = ($1 & 4294967295)::oid LIMIT 1",
    )
    .bind(key)
    .fetch_optional(connection)
    .await?;
    Ok(match row {
        Some((application, address, pid, state, query, age)) => {
            let who = format!(
                "{} at {} (backend pid {pid})",
                application.filter(|a| !a.is_empty()).unwrap_or_else(|| "a client".into()),
                address.unwrap_or_else(|| "a local socket".into())
            );
            match (state.as_deref(), query) {
                // A migrator's statement: it may be one whose client was killed, which the
                // server finishes before it ends the session and frees the lock.
                (Some("active"), Some(query)) => format!(
                    "{who}, running for {} `{query}` (if its migrator is gone, the server \
                     finishes the statement first; `SELECT pg_cancel_backend({pid})` stops it)",
                    age.unwrap_or_else(|| "?".into())
                ),
                _ => who,
            }
        }
        None => "a session that has since ended".into(),
    })
}

/// Application, address, pid, state, query and its age of the lock's holder.
type HolderRow =
    (Option<String>, Option<String>, i32, Option<String>, Option<String>, Option<String>);
