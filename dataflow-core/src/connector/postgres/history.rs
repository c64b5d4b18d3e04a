//! The history table `_dataflow_migrations`: one row per applied run; a run with nothing
//! to do writes nothing.

use crate::history::{applied_by, HistoryRow, RunProgress, RunStatus, StoredRun, TABLE};
use dataflow_schema::dialect::postgres::quote_ident;
use sqlx::PgConnection;

fn table(namespace: &str) -> String {
    format!("{}.{}", quote_ident(namespace), quote_ident(TABLE))
}

/// Creates the table if it does not exist.
pub async fn ensure(connection: &mut PgConnection, namespace: &str) -> Result<(), sqlx::Error> {
    let sql = format!(
        "CREATE TABLE IF NOT EXISTS {} (
            version varchar(64) PRIMARY KEY,
            description text NOT NULL,
            checksum text NOT NULL,
            plan jsonb NOT NULL,
            status text NOT NULL,
            progress jsonb NOT NULL DEFAULT '{{}}',
            started_at timestamptz NOT NULL DEFAULT clock_timestamp(),
            finished_at timestamptz,
            rolled_back_at timestamptz,
            execution_ms bigint,
            applied_by text NOT NULL
        )",
        table(namespace)
    );
    sqlx::query(&sql).execute(connection).await.map(|_| ())
}

/// `YYYYMMDDHHMMSS_<first 8 hex of checksum>` at the server's clock (UTC): a run's
/// version before uniqueness is checked.
pub async fn version_now<'c, E>(executor: E, checksum: &str) -> Result<String, sqlx::Error>
where
    E: sqlx::PgExecutor<'c>,
{
    let stamp: String =
        sqlx::query_scalar("SELECT to_char(now() AT TIME ZONE 'UTC', 'YYYYMMDDHH24MISS')")
            .fetch_one(executor)
            .await?;
    Ok(format!("{stamp}_{}", &checksum[..8.min(checksum.len())]))
}

/// The version for a run towards `checksum`: [`version_now`], with `_2`, `_3` … on a
/// collision.
pub async fn next_version(
    connection: &mut PgConnection,
    namespace: &str,
    checksum: &str,
) -> Result<String, sqlx::Error> {
    let base = version_now(&mut *connection, checksum).await?;
    let taken: Vec<String> = sqlx::query_scalar(&format!(
        "SELECT version FROM {} WHERE version LIKE $1",
        table(namespace)
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

/// Inserts a row for `version` with `row_status` (`running`, or `baseline` for adoption).
pub async fn insert(
    connection: &mut PgConnection,
    namespace: &str,
    version: &str,
    checksum: &str,
    description: &str,
    plan_json: &str,
    row_status: RunStatus,
) -> Result<(), sqlx::Error> {
    sqlx::query(&format!(
        "INSERT INTO {} (version, description, checksum, plan, status, applied_by) \
         VALUES ($1, $2, $3, $4::jsonb, $5, $6)",
        table(namespace)
    ))
    .bind(version)
    .bind(description)
    .bind(checksum)
    .bind(plan_json)
    .bind(row_status.as_str())
    .bind(applied_by())
    .execute(connection)
    .await
    .map(|_| ())
}

/// The stored status and plan of `version`, if the row exists.
pub async fn stored_plan(
    connection: &mut PgConnection,
    namespace: &str,
    version: &str,
) -> Result<Option<StoredRun>, sqlx::Error> {
    let row: Option<(String, String)> = sqlx::query_as(&format!(
        "SELECT status, plan::text FROM {} WHERE version = $1",
        table(namespace)
    ))
    .bind(version)
    .fetch_optional(connection)
    .await?;
    row.map(|(status, plan)| Ok(StoredRun { status: RunStatus::decode(&status)?, plan }))
        .transpose()
}

/// Applied versions newer than `version`, newest first.
pub async fn applied_after(
    connection: &mut PgConnection,
    namespace: &str,
    version: &str,
) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar(&format!(
        // Versions share a second's resolution; the start time (and insertion order) decides.
        "SELECT version FROM {t} WHERE status = $2 \
           AND (started_at, version) > (SELECT started_at, version FROM {t} WHERE version = $1) \
         ORDER BY started_at DESC, version DESC",
        t = table(namespace)
    ))
    .bind(version)
    .bind(RunStatus::Applied.as_str())
    .fetch_all(connection)
    .await
}

/// A rolled-back run towards `checksum`, if any (its target must not be re-applied
/// silently: the next replica would undo the rollback).
pub async fn rolled_back_target(
    connection: &mut PgConnection,
    namespace: &str,
    checksum: &str,
) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar(&format!(
        "SELECT version FROM {} WHERE checksum = $1 AND status = $2 ORDER BY version DESC LIMIT 1",
        table(namespace)
    ))
    .bind(checksum)
    .bind(RunStatus::RolledBack.as_str())
    .fetch_optional(connection)
    .await
}

/// Marks `version` rolled back.
pub async fn mark_rolled_back(
    connection: &mut PgConnection,
    namespace: &str,
    version: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(&format!(
        "UPDATE {} SET status = $2, rolled_back_at = now() WHERE version = $1",
        table(namespace)
    ))
    .bind(version)
    .bind(RunStatus::RolledBack.as_str())
    .execute(connection)
    .await
    .map(|_| ())
}

/// Marks a run finished with `status` (and an error in `progress` when it failed).
pub async fn finish(
    connection: &mut PgConnection,
    namespace: &str,
    version: &str,
    final_status: RunStatus,
    execution_ms: i64,
    error: Option<&str>,
) -> Result<(), sqlx::Error> {
    let progress = serde_json::json!({ "error": error }).to_string();
    sqlx::query(&format!(
        "UPDATE {} SET status = $2, finished_at = now(), execution_ms = $3, \
         progress = progress || $4::jsonb WHERE version = $1",
        table(namespace)
    ))
    .bind(version)
    .bind(final_status.as_str())
    .bind(execution_ms)
    .bind(progress)
    .execute(connection)
    .await
    .map(|_| ())
}

/// Replaces the recorded plan of `version` (with what the run left added).
pub async fn set_plan(
    connection: &mut PgConnection,
    namespace: &str,
    version: &str,
    plan_json: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(&format!("UPDATE {} SET plan = $2::jsonb WHERE version = $1", table(namespace)))
        .bind(version)
        .bind(plan_json)
        .execute(connection)
        .await
        .map(|_| ())
}

/// Whether the history table exists yet.
pub async fn exists(connection: &mut PgConnection, namespace: &str) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar("SELECT to_regclass($1) IS NOT NULL")
        .bind(table(namespace))
        .fetch_one(connection)
        .await
}

/// The newest rows first (all of them without a limit). An absent table is empty history.
pub async fn list(
    connection: &mut PgConnection,
    namespace: &str,
    limit: Option<usize>,
) -> Result<Vec<HistoryRow>, sqlx::Error> {
    if !exists(&mut *connection, namespace).await? {
        return Ok(Vec::new());
    }
    let limit = limit.map_or(i64::MAX, |l| i64::try_from(l).unwrap_or(i64::MAX));
    let rows = sqlx::query(&format!(
        "SELECT version, description, checksum, status, \
                to_char(started_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), \
                to_char(finished_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), \
                execution_ms, applied_by, (progress ? 'purged')::int::int8 \
         FROM {} ORDER BY started_at DESC, version DESC LIMIT $1",
        table(namespace)
    ))
    .bind(limit)
    .fetch_all(connection)
    .await?;
    rows.iter().map(HistoryRow::from_row).collect()
}

/// What each applied (or adopted) run created, with its model set (read in the server, so
/// large recorded plans stay there): a table of this model set's runs that no model names
/// any more is an orphan (`crate::orphans`).
pub async fn created_tables(
    connection: &mut PgConnection,
    namespace: &str,
) -> Result<Vec<crate::orphans::Created>, sqlx::Error> {
    if !exists(&mut *connection, namespace).await? {
        return Ok(Vec::new());
    }
    let rows: Vec<(Option<String>, Option<String>)> = sqlx::query_as(&format!(
        "SELECT created::text, (plan -> 'model_tables')::text FROM ( \
           SELECT plan, (SELECT jsonb_agg(c -> 'name') FROM jsonb_array_elements( \
             CASE jsonb_typeof(plan -> 'changes') WHEN 'array' THEN plan -> 'changes' ELSE '[]' END) c \
             WHERE c ->> 'kind' = 'create_table') AS created \
           FROM {} WHERE status IN ('applied', 'baseline')) runs WHERE created IS NOT NULL",
        table(namespace)
    ))
    .fetch_all(connection)
    .await?;
    Ok(rows
        .iter()
        .map(|(created, models)| {
            crate::orphans::Created::from_json(created.as_deref(), models.as_deref())
        })
        .collect())
}

/// Whether the history has no rows (or no table yet).
pub async fn is_empty(connection: &mut PgConnection, namespace: &str) -> Result<bool, sqlx::Error> {
    Ok(list(connection, namespace, Some(1)).await?.is_empty())
}

/// Marks runs left `running` by a migrator that died (killed, crashed, connection lost):
/// whoever holds the lock now knows no one else is running. A run whose target the
/// database has `reached` (the checksum of an empty plan's target: it died after its
/// last step, before recording it) becomes `applied`; the others `failed` — their
/// committed groups stay, and the next plan, computed from the live schema, resumes the
/// rest. Returns the versions marked with their new status.
pub async fn close_interrupted(
    connection: &mut PgConnection,
    namespace: &str,
    reached: Option<&str>,
) -> Result<Vec<(String, RunStatus)>, sqlx::Error> {
    let failed = serde_json::json!({ "error": "interrupted: the migrator stopped before finishing; the next run re-planned from the live schema" })
        .to_string();
    let applied = serde_json::json!({ "note": "the migrator stopped after its last step, before recording it; the next run found the database at this target" })
        .to_string();
    let closed: Vec<(String, String)> = sqlx::query_as(&format!(
        "UPDATE {} SET finished_at = now(), \
           status = CASE WHEN checksum = $3 OR {ALL_STEPS_DONE} THEN $1 ELSE $2 END, \
           progress = progress || CASE WHEN checksum = $3 OR {ALL_STEPS_DONE} THEN $5 ELSE $6 END::jsonb \
         WHERE status = $4 RETURNING version, status",
        table(namespace)
    ))
    .bind(RunStatus::Applied.as_str())
    .bind(RunStatus::Failed.as_str())
    .bind(reached)
    .bind(RunStatus::Running.as_str())
    .bind(applied)
    .bind(failed)
    .fetch_all(connection)
    .await?;
    closed.into_iter().map(|(version, status)| Ok((version, RunStatus::decode(&status)?))).collect()
}

/// Whether a run is recorded `running` (a migrator is applying, or one died doing so).
pub async fn any_running(
    connection: &mut PgConnection,
    namespace: &str,
) -> Result<bool, sqlx::Error> {
    if !exists(&mut *connection, namespace).await? {
        return Ok(false);
    }
    sqlx::query_scalar(&format!(
        "SELECT EXISTS (SELECT 1 FROM {} WHERE status = $1)",
        table(namespace)
    ))
    .bind(RunStatus::Running.as_str())
    .fetch_one(connection)
    .await
}

/// Versions started longer ago than `older_than_seconds`, with whether they were purged.
pub async fn older_than(
    connection: &mut PgConnection,
    namespace: &str,
    older_than_seconds: i64,
) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar(&format!(
        "SELECT version FROM {} WHERE started_at < now() - make_interval(secs => $1) \
         ORDER BY started_at",
        table(namespace)
    ))
    .bind(older_than_seconds as f64)
    .fetch_all(connection)
    .await
}

/// `UPDATE … SET progress = progress || $2::jsonb WHERE version = $1`: merges `$2` into
/// the progress of run `$1`.
pub fn progress_update(namespace: &str) -> String {
    format!("UPDATE {} SET progress = progress || $2::jsonb WHERE version = $1", table(namespace))
}

/// Adds the step numbers `$2` (a JSON array) to the run `$1`'s `progress.done`.
pub fn progress_done(namespace: &str) -> String {
    format!(
        "UPDATE {} SET progress = jsonb_set(progress, '{{done}}', \
         coalesce(progress -> 'done', '[]'::jsonb) || $2::jsonb) WHERE version = $1",
        table(namespace)
    )
}

/// Whether every step of the row's plan is recorded done (SQL over the row's columns).
/// An explicit plan's row has no `steps` array: never "all done" by this test.
const ALL_STEPS_DONE: &str = "coalesce(jsonb_array_length(progress -> 'done'), 0) \
    >= coalesce(jsonb_array_length(plan -> 'steps'), 2147483647)";

/// The newest value stored under progress key `$1` by any run.
pub fn progress_lookup(namespace: &str) -> String {
    format!(
        "SELECT progress -> $1 FROM {} WHERE progress ? $1 ORDER BY started_at DESC, version DESC LIMIT 1",
        table(namespace)
    )
}

/// Rows per millisecond of the newest fill recorded on this database (`None` when none
/// ran yet, or the history table does not exist).
pub async fn measured_fill_rate(connection: &mut PgConnection, namespace: &str) -> Option<f64> {
    let sql = format!(
        "SELECT (value ->> 'rows')::float8 / nullif((value ->> 'ms')::float8, 0) \
         FROM {}, jsonb_each(progress) WHERE key LIKE 'fill:%' AND value ? 'ms' \
         ORDER BY started_at DESC LIMIT 1",
        table(namespace)
    );
    sqlx::query_scalar::<_, Option<f64>>(&sql)
        .fetch_optional(connection)
        .await
        .ok()
        .flatten()
        .flatten()
        .filter(|rate| *rate > 0.0)
}

/// Records that the trash and backups of `version` were dropped.
pub async fn mark_purged(
    connection: &mut PgConnection,
    namespace: &str,
    version: &str,
    tables: &[String],
) -> Result<(), sqlx::Error> {
    sqlx::query(&progress_update(namespace))
        .bind(version)
        .bind(serde_json::json!({ "purged": tables }).to_string())
        .execute(connection)
        .await
        .map(|_| ())
}

/// Whether the trash and backups of `version` were purged.
pub async fn purged(
    connection: &mut PgConnection,
    namespace: &str,
    version: &str,
) -> Result<bool, sqlx::Error> {
    let found: Option<bool> = sqlx::query_scalar(&format!(
        "SELECT progress ? 'purged' FROM {} WHERE version = $1",
        table(namespace)
    ))
    .bind(version)
    .fetch_optional(connection)
    .await?;
    Ok(found.unwrap_or(false))
}

/// Every recorded version.
pub async fn versions(
    connection: &mut PgConnection,
    namespace: &str,
) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar(&format!("SELECT version FROM {}", table(namespace)))
        .fetch_all(connection)
        .await
}

/// Closes the runs this process recorded `running` (it is abandoning them: see
/// interrupt.rs): `applied` when every step is recorded done, else `failed` with
/// `note`. Returns each version with its new status.
pub async fn close_own_running(
    connection: &mut PgConnection,
    namespace: &str,
    note: &str,
) -> Result<Vec<(String, RunStatus)>, sqlx::Error> {
    if !exists(&mut *connection, namespace).await? {
        return Ok(Vec::new());
    }
    // Every step recorded done: it finished before the interrupt took effect.
    let error = serde_json::json!({ "error": note }).to_string();
    let closed: Vec<(String, String)> = sqlx::query_as(&format!(
        "UPDATE {} SET finished_at = now(), \
           status = CASE WHEN {ALL_STEPS_DONE} THEN $5 ELSE $1 END, \
           progress = CASE WHEN {ALL_STEPS_DONE} THEN progress ELSE progress || $2::jsonb END \
         WHERE status = $3 AND applied_by = $4 RETURNING version, status",
        table(namespace)
    ))
    .bind(RunStatus::Failed.as_str())
    .bind(error)
    .bind(RunStatus::Running.as_str())
    .bind(applied_by())
    .bind(RunStatus::Applied.as_str())
    .fetch_all(connection)
    .await?;
    closed.into_iter().map(|(version, status)| Ok((version, RunStatus::decode(&status)?))).collect()
}

/// The run `version` goes on from: the newest run before it, when that one failed (or
/// was interrupted) on its way to the same target `checksum`. Its finished steps are
/// part of the change `version` completes, so `version`'s rollback undoes them too.
pub async fn resumed_run(
    connection: &mut PgConnection,
    namespace: &str,
    version: &str,
    checksum: &str,
) -> Result<Option<String>, sqlx::Error> {
    let newest: Option<(String, String, String)> = sqlx::query_as(&format!(
        "SELECT version, status, checksum FROM {} WHERE version <> $1 \
         ORDER BY started_at DESC, version DESC LIMIT 1",
        table(namespace)
    ))
    .bind(version)
    .fetch_optional(connection)
    .await?;
    Ok(newest.and_then(|(earlier, status, target)| {
        (status == RunStatus::Failed.as_str() && target == checksum).then_some(earlier)
    }))
}

/// The recorded progress of `version` (none when there is no such row).
pub async fn progress(
    connection: &mut PgConnection,
    namespace: &str,
    version: &str,
) -> Result<RunProgress, sqlx::Error> {
    let text: Option<String> = sqlx::query_scalar(&format!(
        "SELECT progress::text FROM {} WHERE version = $1",
        table(namespace)
    ))
    .bind(version)
    .fetch_optional(connection)
    .await?;
    Ok(text.as_deref().map(RunProgress::parse).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_kept_table_belongs_to_the_longest_version() {
        let versions = vec!["20261123_ab".to_owned(), "20261123_ab_2".to_owned()];
        assert_eq!(
            crate::history::owner("_dataflow_backup_20261123_ab_2_users_x", &versions),
            Some(&versions[1])
        );
        assert_eq!(
            crate::history::owner("_dataflow_trash_20261123_ab_users", &versions),
            Some(&versions[0])
        );
        assert_eq!(crate::history::owner("_dataflow_trash_other_users", &versions), None);
    }
}
