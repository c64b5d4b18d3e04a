//! The history table on MySQL/MariaDB: the same `_dataflow_migrations` columns as on
//! PostgreSQL (JSON as LONGTEXT). DDL commits itself, so a
//! run is recorded step by step: the row is written `running` before the first step, its
//! `progress` names the step being run and the steps done, and it is marked `applied`
//! after the last. A killed run leaves `running` with the exact step it was in.

use crate::history::{applied_by, HistoryRow, RunProgress, RunStatus, StoredRun, TABLE};
use dataflow_schema::dialect::mysql::quote_ident;
use sqlx::{MySqlConnection, Row};

fn table() -> String {
    quote_ident(TABLE)
}

/// Creates the table if it does not exist.
pub async fn ensure(connection: &mut MySqlConnection) -> Result<(), sqlx::Error> {
    let sql = format!(
        "CREATE TABLE IF NOT EXISTS {} (
            seq bigint NOT NULL AUTO_INCREMENT UNIQUE,
            version varchar(64) NOT NULL PRIMARY KEY,
            description longtext NOT NULL,
            checksum varchar(64) NOT NULL,
            plan longtext NOT NULL,
            status varchar(16) NOT NULL,
            progress longtext NOT NULL,
            started_at datetime(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
            finished_at datetime(6) NULL,
            rolled_back_at datetime(6) NULL,
            execution_ms bigint NULL,
            applied_by varchar(255) NOT NULL
        )",
        table()
    );
    sqlx::query(&sql).execute(connection).await.map(|_| ())
}

/// Whether the history table exists yet.
pub async fn exists(connection: &mut MySqlConnection) -> Result<bool, sqlx::Error> {
    let found: Option<i64> = sqlx::query_scalar(
        "SELECT 1 FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?",
    )
    .bind(TABLE)
    .fetch_optional(connection)
    .await?;
    Ok(found.is_some())
}

/// The version for a run towards `checksum`: `YYYYMMDDHHMMSS_<8 hex>` (UTC), `_2`… on
/// a collision.
pub async fn next_version(
    connection: &mut MySqlConnection,
    checksum: &str,
) -> Result<String, sqlx::Error> {
    let base = version_now(&mut *connection, checksum).await?;
    let taken: Vec<String> = sqlx::query_scalar(&format!(
        "SELECT CAST(version AS CHAR) FROM {} WHERE version LIKE ?",
        table()
    ))
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

/// `YYYYMMDDHHMMSS_<8 hex>` at the server's clock (UTC), before uniqueness is checked
/// (what previews name the trash after; the history table need not exist).
pub async fn version_now(
    connection: &mut MySqlConnection,
    checksum: &str,
) -> Result<String, sqlx::Error> {
    let stamp: String =
        sqlx::query_scalar("SELECT CAST(DATE_FORMAT(UTC_TIMESTAMP(), '%Y%m%d%H%i%s') AS CHAR)")
            .fetch_one(connection)
            .await?;
    Ok(format!("{stamp}_{}", &checksum[..8.min(checksum.len())]))
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
    /// `running` or `baseline`.
    pub status: RunStatus,
}

/// Records a run as it starts (or a baseline, finished at once).
pub async fn insert(connection: &mut MySqlConnection, row: &NewRow<'_>) -> Result<(), sqlx::Error> {
    // A run's end and duration are written when it ends (a run left `running` has none).
    let (finished, ms) = if row.status == RunStatus::Baseline {
        ("UTC_TIMESTAMP(6)", "0")
    } else {
        ("NULL", "NULL")
    };
    sqlx::query(&format!(
        "INSERT INTO {} (version, description, checksum, plan, status, progress, started_at, finished_at, execution_ms, applied_by) \
         VALUES (?, ?, ?, ?, ?, '{{}}', UTC_TIMESTAMP(6), {finished}, {ms}, ?)",
        table()
    ))
    .bind(row.version)
    .bind(row.description)
    .bind(row.checksum)
    .bind(row.plan)
    .bind(row.status.as_str())
    .bind(applied_by())
    .execute(connection)
    .await
    .map(|_| ())
}

/// Writes `progress` of `version`.
pub async fn set_progress(
    connection: &mut MySqlConnection,
    version: &str,
    progress: &RunProgress,
) -> Result<(), sqlx::Error> {
    sqlx::query(&format!("UPDATE {} SET progress = ? WHERE version = ?", table()))
        .bind(serde_json::to_string(progress).unwrap_or_else(|_| "{}".into()))
        .bind(version)
        .execute(connection)
        .await
        .map(|_| ())
}

/// The recorded progress of `version`.
pub async fn progress(
    connection: &mut MySqlConnection,
    version: &str,
) -> Result<RunProgress, sqlx::Error> {
    let text: Option<String> = sqlx::query_scalar(&format!(
        "SELECT CAST(progress AS CHAR) FROM {} WHERE version = ?",
        table()
    ))
    .bind(version)
    .fetch_optional(connection)
    .await?;
    Ok(text.as_deref().map(RunProgress::parse).unwrap_or_default())
}

/// Marks `version` finished with `state` (`applied` or `failed`).
pub async fn finish(
    connection: &mut MySqlConnection,
    version: &str,
    state: RunStatus,
    execution_ms: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(&format!(
        "UPDATE {} SET status = ?, finished_at = UTC_TIMESTAMP(6), execution_ms = ? WHERE version = ?",
        table()
    ))
    .bind(state.as_str())
    .bind(execution_ms)
    .bind(version)
    .execute(connection)
    .await
    .map(|_| ())
}

/// Closes runs left `running` by a migrator that died (only the lock holder calls
/// this): a run whose every step is recorded done, or whose target is the schema the
/// database has now (`reached`: its last statement finished after its process died),
/// becomes `applied`; any other `failed`, keeping its progress. Returns `(version,
/// status)`.
pub async fn close_interrupted(
    connection: &mut MySqlConnection,
    reached: Option<&str>,
) -> Result<Vec<(String, RunStatus)>, sqlx::Error> {
    let rows = sqlx::query(&format!(
        "SELECT CAST(version AS CHAR), CAST(plan AS CHAR), CAST(progress AS CHAR), \
         CAST(checksum AS CHAR) FROM {} WHERE status = ? ORDER BY seq",
        table()
    ))
    .bind(RunStatus::Running.as_str())
    .fetch_all(&mut *connection)
    .await?;
    let mut closed = Vec::new();
    for row in rows {
        let (version, plan, progress, checksum): (String, String, String, String) =
            (row.try_get(0)?, row.try_get(1)?, row.try_get(2)?, row.try_get(3)?);
        let steps = serde_json::from_str::<dataflow_schema::Plan>(&plan).map(|p| p.steps.len());
        let progress = RunProgress::parse(&progress);
        let finished = steps.is_ok_and(|n| progress.done.len() == n && progress.running.is_none())
            || reached == Some(checksum.as_str());
        let state = if finished { RunStatus::Applied } else { RunStatus::Failed };
        sqlx::query(&format!(
            "UPDATE {} SET status = ?, finished_at = UTC_TIMESTAMP(6) WHERE version = ?",
            table()
        ))
        .bind(state.as_str())
        .bind(&version)
        .execute(&mut *connection)
        .await?;
        closed.push((version, state));
    }
    Ok(closed)
}

/// Whether a run is left to close: one recorded `running`, or — with `reached` — the
/// newest run, `failed` on its way to the schema the database now has (the history
/// table may not exist yet).
pub async fn any_to_close(
    connection: &mut MySqlConnection,
    reached: Option<&str>,
) -> Result<bool, sqlx::Error> {
    if !exists(&mut *connection).await? {
        return Ok(false);
    }
    let found: Option<i64> = sqlx::query_scalar(&format!(
        "SELECT 1 FROM {t} WHERE status = ? OR (status = ? AND checksum = ? \
         AND seq = (SELECT max(seq) FROM {t})) LIMIT 1",
        t = table()
    ))
    .bind(RunStatus::Running.as_str())
    .bind(RunStatus::Failed.as_str())
    .bind(reached.unwrap_or_default())
    .fetch_optional(connection)
    .await?;
    Ok(found.is_some())
}

/// With nothing left to do: the newest run, if it is `failed` and its target is the
/// schema the database has now (`reached`), becomes `applied`. Its last statement
/// committed but its end was not recorded (an interrupt between the two closed it as
/// failed), or what was left was done since: either way the change it recorded is there,
/// and its rollback must undo it. Returns its version.
pub async fn settle_reached(
    connection: &mut MySqlConnection,
    reached: &str,
) -> Result<Option<String>, sqlx::Error> {
    let newest: Option<(String, String, String)> = sqlx::query_as(&format!(
        "SELECT CAST(version AS CHAR), CAST(status AS CHAR), CAST(checksum AS CHAR) FROM {} \
         ORDER BY seq DESC LIMIT 1",
        table()
    ))
    .fetch_optional(&mut *connection)
    .await?;
    let Some((version, status, checksum)) = newest else { return Ok(None) };
    if status != RunStatus::Failed.as_str() || checksum != reached {
        return Ok(None);
    }
    sqlx::query(&format!("UPDATE {} SET status = ? WHERE version = ?", table()))
        .bind(RunStatus::Applied.as_str())
        .bind(&version)
        .execute(connection)
        .await?;
    Ok(Some(version))
}

/// Replaces the recorded plan of `version` (with what the run left added).
pub async fn set_plan(
    connection: &mut MySqlConnection,
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

/// The recorded plan and status of `version`.
pub async fn stored_plan(
    connection: &mut MySqlConnection,
    version: &str,
) -> Result<Option<StoredRun>, sqlx::Error> {
    let row = sqlx::query(&format!(
        "SELECT CAST(plan AS CHAR), CAST(status AS CHAR) FROM {} WHERE version = ?",
        table()
    ))
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
    connection: &mut MySqlConnection,
) -> Result<Vec<crate::orphans::Created>, sqlx::Error> {
    if !exists(&mut *connection).await? {
        return Ok(Vec::new());
    }
    let plans: Vec<String> = sqlx::query_scalar(&format!(
        "SELECT CAST(plan AS CHAR) FROM {} WHERE status IN (?, ?) ORDER BY seq",
        table()
    ))
    .bind(RunStatus::Applied.as_str())
    .bind(RunStatus::Baseline.as_str())
    .fetch_all(connection)
    .await?;
    Ok(crate::orphans::created_in(plans.iter().map(String::as_str)))
}

/// Applied runs recorded after `version`, newest first.
pub async fn applied_after(
    connection: &mut MySqlConnection,
    version: &str,
) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar(&format!(
        "SELECT CAST(version AS CHAR) FROM {t} WHERE status = ? \
         AND seq > (SELECT seq FROM {t} WHERE version = ?) ORDER BY seq DESC",
        t = table()
    ))
    .bind(RunStatus::Applied.as_str())
    .bind(version)
    .fetch_all(connection)
    .await
}

/// The run `version` goes on from: the newest run before it, when that one failed (or
/// was interrupted) on its way to the same target `checksum`.
pub async fn resumed_run(
    connection: &mut MySqlConnection,
    version: &str,
    checksum: &str,
) -> Result<Option<String>, sqlx::Error> {
    let newest: Option<(String, String, String)> = sqlx::query_as(&format!(
        "SELECT CAST(version AS CHAR), CAST(status AS CHAR), CAST(checksum AS CHAR) FROM {} \
         WHERE version <> ? ORDER BY seq DESC LIMIT 1",
        table()
    ))
    .bind(version)
    .fetch_optional(connection)
    .await?;
    Ok(newest.and_then(|(earlier, status, target)| {
        (status == RunStatus::Failed.as_str() && target == checksum).then_some(earlier)
    }))
}

/// The rolled-back run whose target was `checksum`, if any.
pub async fn rolled_back_target(
    connection: &mut MySqlConnection,
    checksum: &str,
) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar(&format!(
        "SELECT CAST(version AS CHAR) FROM {} WHERE status = ? AND checksum = ? ORDER BY seq DESC LIMIT 1",
        table()
    ))
    .bind(RunStatus::RolledBack.as_str())
    .bind(checksum)
    .fetch_optional(connection)
    .await
}

/// Marks `version` rolled back.
pub async fn mark_rolled_back(
    connection: &mut MySqlConnection,
    version: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(&format!(
        "UPDATE {} SET status = ?, rolled_back_at = UTC_TIMESTAMP(6) WHERE version = ?",
        table()
    ))
    .bind(RunStatus::RolledBack.as_str())
    .bind(version)
    .execute(connection)
    .await
    .map(|_| ())
}

/// Whether any run is recorded.
pub async fn is_empty(connection: &mut MySqlConnection) -> Result<bool, sqlx::Error> {
    let n: i64 = sqlx::query_scalar(&format!("SELECT count(*) FROM {}", table()))
        .fetch_one(connection)
        .await?;
    Ok(n == 0)
}

/// Rows, newest first.
pub async fn list(
    connection: &mut MySqlConnection,
    limit: Option<usize>,
) -> Result<Vec<HistoryRow>, sqlx::Error> {
    if !exists(&mut *connection).await? {
        return Ok(Vec::new());
    }
    let limit = limit.map_or(i64::MAX, |n| i64::try_from(n).unwrap_or(i64::MAX));
    let rows = sqlx::query(&format!(
        "SELECT CAST(version AS CHAR), CAST(description AS CHAR), CAST(checksum AS CHAR), \
         CAST(status AS CHAR), CAST(DATE_FORMAT(started_at, '%Y-%m-%dT%H:%i:%sZ') AS CHAR), \
         CAST(DATE_FORMAT(finished_at, '%Y-%m-%dT%H:%i:%sZ') AS CHAR), execution_ms, \
         CAST(applied_by AS CHAR), CAST(JSON_EXTRACT(progress, '$.purged') IS NOT NULL AS SIGNED) \
         FROM {} ORDER BY seq DESC LIMIT ?",
        table()
    ))
    .bind(limit)
    .fetch_all(connection)
    .await?;
    rows.iter().map(HistoryRow::from_row).collect()
}

/// Closes the runs this process recorded `running` (it is abandoning them: see
/// interrupt.rs): `applied` when every step is recorded done, else `failed` with
/// `note`. Returns each version with its new status.
pub async fn close_own_running(
    connection: &mut MySqlConnection,
    note: &str,
) -> Result<Vec<(String, RunStatus)>, sqlx::Error> {
    if !exists(&mut *connection).await? {
        return Ok(Vec::new());
    }
    let rows: Vec<(String, String)> = sqlx::query_as(&format!(
        "SELECT CAST(version AS CHAR), CAST(plan AS CHAR) FROM {} \
         WHERE status = ? AND applied_by = ? ORDER BY seq",
        table()
    ))
    .bind(RunStatus::Running.as_str())
    .bind(applied_by())
    .fetch_all(&mut *connection)
    .await?;
    let mut closed = Vec::new();
    for (version, plan) in rows {
        let mut progress = progress(&mut *connection, &version).await?;
        let steps = serde_json::from_str::<dataflow_schema::Plan>(&plan).map(|p| p.steps.len());
        // Every step recorded done: it finished before the interrupt took effect.
        let finished = steps.is_ok_and(|n| progress.done.len() == n && progress.running.is_none());
        if !finished {
            progress.error = Some(note.to_owned());
            set_progress(&mut *connection, &version, &progress).await?;
        }
        let status = if finished { RunStatus::Applied } else { RunStatus::Failed };
        finish(&mut *connection, &version, status, 0).await?;
        closed.push((version, status));
    }
    Ok(closed)
}

/// Versions of runs that started more than `seconds` ago, oldest first.
pub async fn older_than(
    connection: &mut MySqlConnection,
    seconds: i64,
) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar(&format!(
        "SELECT CAST(version AS CHAR) FROM {} \
         WHERE started_at <= UTC_TIMESTAMP(6) - INTERVAL ? SECOND ORDER BY seq",
        table()
    ))
    .bind(seconds)
    .fetch_all(connection)
    .await
}

/// Every recorded version.
pub async fn versions(connection: &mut MySqlConnection) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar(&format!("SELECT CAST(version AS CHAR) FROM {}", table()))
        .fetch_all(connection)
        .await
}

/// The trash and backup tables in the current database.
pub async fn kept_tables(connection: &mut MySqlConnection) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT CAST(table_name AS CHAR) FROM information_schema.tables \
         WHERE table_schema = DATABASE() \
         AND (table_name LIKE '\\_dataflow\\_trash\\_%' OR table_name LIKE '\\_dataflow\\_backup\\_%') \
         ORDER BY table_name",
    )
    .fetch_all(connection)
    .await
}
