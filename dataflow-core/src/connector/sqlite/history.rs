//! The history table on SQLite: the same `_dataflow_migrations` columns as on PostgreSQL
//! (JSON and timestamps as text), written in the migration's
//! own transaction, so a schema change and its history row commit together.

use crate::history::{applied_by, HistoryRow, RunStatus, StoredRun, TABLE};
use dataflow_schema::dialect::sqlite::quote_ident;
use sqlx::{Row, SqliteConnection};

fn table() -> String {
    quote_ident(TABLE)
}

/// Creates the table if it does not exist.
pub async fn ensure(connection: &mut SqliteConnection) -> Result<(), sqlx::Error> {
    let sql = format!(
        "CREATE TABLE IF NOT EXISTS {} (
            version varchar(64) PRIMARY KEY,
            description text NOT NULL,
            checksum text NOT NULL,
            plan text NOT NULL,
            status text NOT NULL,
            progress text NOT NULL DEFAULT '{{}}',
            started_at text NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')),
            finished_at text,
            rolled_back_at text,
            execution_ms integer,
            applied_by text NOT NULL
        )",
        table()
    );
    sqlx::query(&sql).execute(connection).await.map(|_| ())
}

/// Whether the history table exists yet.
pub async fn exists(connection: &mut SqliteConnection) -> Result<bool, sqlx::Error> {
    let found: Option<String> =
        sqlx::query_scalar("SELECT name FROM sqlite_schema WHERE type = 'table' AND name = ?")
            .bind(TABLE)
            .fetch_optional(connection)
            .await?;
    Ok(found.is_some())
}

/// The version for a run towards `checksum`: `YYYYMMDDHHMMSS_<8 hex>` (UTC), `_2`… on
/// a collision.
pub async fn next_version(
    connection: &mut SqliteConnection,
    checksum: &str,
) -> Result<String, sqlx::Error> {
    let stamp: String = sqlx::query_scalar("SELECT strftime('%Y%m%d%H%M%S', 'now')")
        .fetch_one(&mut *connection)
        .await?;
    let base = format!("{stamp}_{}", &checksum[..8.min(checksum.len())]);
    let taken: Vec<String> =
        sqlx::query_scalar(&format!("SELECT version FROM {} WHERE version LIKE ?", table()))
            .bind(format!("{base}%"))
            .fetch_all(&mut *connection)
            .await?;
    let mut version = base.clone();
    let mut n = 2;
    while taken.contains(&version) {
        version = format!("{base}_{n}");
        n += 1;
    }
    Ok(version)
}

/// Records a run (applied, or a baseline).
pub async fn insert(
    connection: &mut SqliteConnection,
    row: &NewRow<'_>,
) -> Result<(), sqlx::Error> {
    sqlx::query(&format!(
        "INSERT INTO {} (version, description, checksum, plan, status, finished_at, execution_ms, applied_by) \
         VALUES (?, ?, ?, ?, ?, strftime('%Y-%m-%dT%H:%M:%SZ', 'now'), ?, ?)",
        table()
    ))
    .bind(row.version)
    .bind(row.description)
    .bind(row.checksum)
    .bind(row.plan)
    .bind(row.status.as_str())
    .bind(row.execution_ms)
    .bind(applied_by())
    .execute(connection)
    .await
    .map(|_| ())
}

/// Replaces the recorded plan of `version` (with what the run left added).
pub async fn set_plan(
    connection: &mut SqliteConnection,
    version: &str,
    plan_json: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(&format!("UPDATE {} SET plan = ? WHERE version = ?", table()))
        .bind(plan_json)
        .bind(version)
        .execute(connection)
        .await
        .map(|_| ())
}

/// A row to record.
pub struct NewRow<'a> {
    /// Its version.
    pub version: &'a str,
    /// What it did, in a line.
    pub description: &'a str,
    /// Checksum of the target schema.
    pub checksum: &'a str,
    /// The plan, as JSON.
    pub plan: &'a str,
    /// `applied` or `baseline`.
    pub status: RunStatus,
    /// How long it took.
    pub execution_ms: i64,
}

/// The recorded plan and status of `version`.
pub async fn stored_plan(
    connection: &mut SqliteConnection,
    version: &str,
) -> Result<Option<StoredRun>, sqlx::Error> {
    let row = sqlx::query(&format!("SELECT plan, status FROM {} WHERE version = ?", table()))
        .bind(version)
        .fetch_optional(connection)
        .await?;
    row.map(|r| {
        Ok(StoredRun {
            plan: r.try_get(0)?,
            status: RunStatus::decode(&r.try_get::<String, _>(1)?)?,
        })
    })
    .transpose()
}

/// What each applied (or adopted) run created, with its model set: a table of this model
/// set's runs that no model names any more is an orphan (`crate::orphans`).
pub async fn created_tables(
    connection: &mut SqliteConnection,
) -> Result<Vec<crate::orphans::Created>, sqlx::Error> {
    if !exists(&mut *connection).await? {
        return Ok(Vec::new());
    }
    let plans: Vec<String> = sqlx::query_scalar(&format!(
        "SELECT plan FROM {} WHERE status IN (?, ?) ORDER BY rowid",
        table()
    ))
    .bind(RunStatus::Applied.as_str())
    .bind(RunStatus::Baseline.as_str())
    .fetch_all(connection)
    .await?;
    Ok(crate::orphans::created_in(plans.iter().map(String::as_str)))
}

/// Applied runs recorded after `version`, newest first (insertion order: versions made
/// in the same second do not sort by time).
pub async fn applied_after(
    connection: &mut SqliteConnection,
    version: &str,
) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar(&format!(
        "SELECT version FROM {t} WHERE status = ? \
         AND rowid > (SELECT rowid FROM {t} WHERE version = ?) ORDER BY rowid DESC",
        t = table()
    ))
    .bind(RunStatus::Applied.as_str())
    .bind(version)
    .fetch_all(connection)
    .await
}

/// The rolled-back run whose target was `checksum`, if any.
pub async fn rolled_back_target(
    connection: &mut SqliteConnection,
    checksum: &str,
) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar(&format!(
        "SELECT version FROM {} WHERE status = ? AND checksum = ? ORDER BY rowid DESC LIMIT 1",
        table()
    ))
    .bind(RunStatus::RolledBack.as_str())
    .bind(checksum)
    .fetch_optional(connection)
    .await
}

/// Marks `version` rolled back.
pub async fn mark_rolled_back(
    connection: &mut SqliteConnection,
    version: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(&format!(
        "UPDATE {} SET status = ?, rolled_back_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now') WHERE version = ?",
        table()
    ))
    .bind(RunStatus::RolledBack.as_str())
    .bind(version)
    .execute(connection)
    .await
    .map(|_| ())
}

/// Whether any run is recorded.
pub async fn is_empty(connection: &mut SqliteConnection) -> Result<bool, sqlx::Error> {
    let n: i64 = sqlx::query_scalar(&format!("SELECT count(*) FROM {}", table()))
        .fetch_one(connection)
        .await?;
    Ok(n == 0)
}

/// Rows, newest first.
pub async fn list(
    connection: &mut SqliteConnection,
    limit: Option<usize>,
) -> Result<Vec<HistoryRow>, sqlx::Error> {
    if !exists(&mut *connection).await? {
        return Ok(Vec::new());
    }
    let limit = limit.map_or(-1, |n| i64::try_from(n).unwrap_or(i64::MAX));
    let rows = sqlx::query(&format!(
        "SELECT version, description, checksum, status, started_at, finished_at, execution_ms, applied_by, \
         json_extract(progress, '$.purged') IS NOT NULL FROM {} ORDER BY rowid DESC LIMIT ?",
        table()
    ))
    .bind(limit)
    .fetch_all(connection)
    .await?;
    rows.iter().map(HistoryRow::from_row).collect()
}

/// Versions of runs that started more than `seconds` ago, oldest first.
pub async fn older_than(
    connection: &mut SqliteConnection,
    seconds: i64,
) -> Result<Vec<String>, sqlx::Error> {
    if !exists(&mut *connection).await? {
        return Ok(Vec::new());
    }
    sqlx::query_scalar(&format!(
        "SELECT version FROM {} WHERE started_at <= strftime('%Y-%m-%dT%H:%M:%SZ', 'now', ?) \
         ORDER BY rowid",
        table()
    ))
    .bind(format!("-{seconds} seconds"))
    .fetch_all(connection)
    .await
}

/// Records that the trash and backups of `version` were dropped.
pub async fn mark_purged(
    connection: &mut SqliteConnection,
    version: &str,
    tables: &[String],
) -> Result<(), sqlx::Error> {
    sqlx::query(&format!(
        "UPDATE {} SET progress = json_set(progress, '$.purged', json(?)) WHERE version = ?",
        table()
    ))
    .bind(serde_json::json!(tables).to_string())
    .bind(version)
    .execute(connection)
    .await
    .map(|_| ())
}

/// Whether the trash and backups of `version` were purged.
pub async fn purged(connection: &mut SqliteConnection, version: &str) -> Result<bool, sqlx::Error> {
    let found: Option<i64> = sqlx::query_scalar(&format!(
        "SELECT json_extract(progress, '$.purged') IS NOT NULL FROM {} WHERE version = ?",
        table()
    ))
    .bind(version)
    .fetch_optional(connection)
    .await?;
    Ok(found.unwrap_or(0) != 0)
}

/// Every recorded version.
pub async fn versions(connection: &mut SqliteConnection) -> Result<Vec<String>, sqlx::Error> {
    if !exists(&mut *connection).await? {
        return Ok(Vec::new());
    }
    sqlx::query_scalar(&format!("SELECT version FROM {}", table())).fetch_all(connection).await
}
