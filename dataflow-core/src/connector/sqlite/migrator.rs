//! `auto_migrate` on SQLite. Simpler than on PostgreSQL because SQLite has one writer and
//! transactional DDL: the migration lock is the `BEGIN EXCLUSIVE` write transaction, and
//! the re-plan, every step and the history row happen inside it — a run is recorded
//! exactly when its changes commit, and a killed run leaves nothing behind.
//!
//! Drops keep their data as on PostgreSQL (`dialect::sqlite::keep`), so rollbacks restore
//! rows and values until `purge`. Orphans are reported (and dropped with
//! `drop_orphans`) as on every database (`crate::orphans`). Not yet on SQLite
//! (documented): explicit plans.

use crate::connector::sqlite::history::{self as history, NewRow};
use crate::connector::sqlite::{report, Sqlite, WriteLock};
use crate::error::{Error, Result};
use crate::history::{RunStatus, StoredRun};
use crate::options::Scope;
use crate::options::{ApplyOptions, MigrateOptions, Mode};
use crate::orphans;
use crate::policy::{check_risk, refuse_newer, retain_selected, Baseline};
use crate::report::{MigrationReport, RollbackAnalysis};
use crate::reverse::reversed;
use dataflow_schema::{plan_offline, Dialect, Plan, QualifiedName, Schema};
use std::time::{Duration, Instant};

fn history_error(db: &Sqlite) -> impl Fn(sqlx::Error) -> Error + '_ {
    move |source| Error::History { url: db.url().to_owned(), source }
}

/// The plan from the live schema to `desired`, filtered by the options.
pub(crate) async fn plan(
    db: &Sqlite,
    desired: &Schema,
    scope: Scope,
    options: &MigrateOptions,
) -> Result<Plan> {
    // Given back before introspecting: an in-memory database has one connection.
    let (created, journal) = {
        let mut connection = db.connection().await?;
        let created = created_tables(&mut connection, scope).await.map_err(history_error(db))?;
        let journal: Option<String> = sqlx::query_scalar("PRAGMA journal_mode")
            .fetch_optional(&mut *connection)
            .await
            .ok()
            .flatten();
        (created, journal)
    };
    let current = db.introspect().await?;
    let mut plan = plan_against(&current, desired, scope, &created, options)?;
    let journal = journal.unwrap_or_default().to_ascii_lowercase();
    if !plan.is_empty() && journal != "wal" && !crate::connector::sqlite::in_memory(db.url()) {
        plan.warnings.push(format!(
            "SQLite journal_mode={journal}: while this plan runs, other connections can neither \
             read nor write the database (their reads wait up to their busy timeout, then fail \
             with \"database is locked\"); it waits for open reads to end (lock_timeout per \
             attempt, retried) and gives up, changing nothing, if they do not. \
             `PRAGMA journal_mode=WAL` (once, it is kept in the file) lets reads go on during a \
             migration"
        ));
    }
    Ok(plan)
}

/// The tables history says dataflow created, where they matter: in model scope (orphans).
async fn created_tables(
    connection: &mut sqlx::SqliteConnection,
    scope: Scope,
) -> std::result::Result<Vec<QualifiedName>, sqlx::Error> {
    match scope {
        Scope::Models => history::created_tables(connection).await,
        Scope::Database => Ok(Vec::new()),
    }
}

/// `created`: the tables history says dataflow created (model scope: orphans).
fn plan_against(
    current: &dataflow_schema::introspect::sqlite::Introspected,
    desired: &Schema,
    scope: Scope,
    created: &[QualifiedName],
    options: &MigrateOptions,
) -> Result<Plan> {
    let mut plan = match scope {
        Scope::Models => {
            orphans::plan_models(&current.schema, desired, created, Dialect::Sqlite, options)?
        }
        Scope::Database => plan_offline(&current.schema, desired, Dialect::Sqlite, &options.plan)?,
    };
    if !current.unmanaged.is_empty() {
        plan.warnings
            .push(format!("not managed by dataflow, left alone: {}", current.unmanaged.join(", ")));
    }
    retain_selected(&mut plan, options);
    Ok(plan)
}

/// Brings the database to `desired` (see the module docs).
pub(crate) async fn migrate(
    db: &Sqlite,
    desired: &Schema,
    scope: Scope,
    options: MigrateOptions,
) -> Result<MigrationReport> {
    let started = Instant::now();
    let finish =
        |plan: Plan, version: Option<String>, waited: Duration, applied: bool| MigrationReport {
            version,
            applied,
            safety: plan.safety(),
            timings: if applied { report(&plan, started).timings } else { Vec::new() },
            backfills: Vec::new(),
            plan,
            lock_wait_ms: waited.as_millis(),
            retries: 0,
            elapsed_ms: started.elapsed().as_millis(),
        };
    let preview = plan(db, desired, scope, &options).await?;
    match &options.mode {
        Mode::DryRun => {
            crate::policy::print_preview(&as_it_would_run(db, &preview, &options).await?, &options);
            return Ok(finish(preview, None, Duration::ZERO, false));
        }
        Mode::WaitOnly => {
            let deadline = options.deadline.unwrap_or(options.migration_lock_timeout);
            let mut current = preview;
            while !current.is_empty() {
                if started.elapsed() >= deadline {
                    return Err(Error::Deadline {
                        waited_ms: started.elapsed().as_millis(),
                        pending: current.steps.len(),
                    });
                }
                tokio::time::sleep(Duration::from_millis(250)).await;
                current = plan(db, desired, scope, &options).await?;
            }
            return Ok(finish(current, None, Duration::ZERO, false));
        }
        Mode::AutoConfirm | Mode::Interactive(_) => {}
    }
    if preview.is_empty() && (scope == Scope::Database || !needs_baseline(db, desired).await?) {
        return Ok(finish(preview, None, Duration::ZERO, false));
    }
    // A person confirms before the write lock is taken (holding it would stop the
    // application's writes while they read); under the lock the plan must not differ.
    let mut expected = options.expected_plan.clone();
    if let Mode::Interactive(confirm) = &options.mode {
        if !preview.is_empty() {
            check_risk(&preview, options.max_risk)?;
            crate::policy::print_preview(&as_it_would_run(db, &preview, &options).await?, &options);
            if !confirm(&preview) {
                return Err(Error::Declined);
            }
            expected.get_or_insert_with(|| preview.plan_checksum.clone());
        }
    }
    let mut lock = WriteLock::acquire(db, options.migration_lock_timeout, &options.apply).await?;
    let waited = lock.waited;
    match migrate_locked(db, desired, scope, &options, expected.as_deref(), &mut lock, started)
        .await
    {
        Ok((plan, version)) => {
            if version.is_some() {
                lock.commit().await?;
            } else {
                lock.rollback().await;
            }
            let applied = version.is_some() && !plan.is_empty();
            let report = finish(plan, version, waited, applied);
            tracing::info!(
                target: "dataflow::migrate",
                version = report.version.as_deref().unwrap_or("-"),
                steps = report.plan.steps.len(),
                ms = report.elapsed_ms as u64,
                "migration finished"
            );
            Ok(report)
        }
        Err(error) => {
            lock.rollback().await;
            Err(error)
        }
    }
}

/// `plan` as a run would execute it: with `backup_before_destructive`, drops rewritten to
/// keep their data (named after a version of this moment), for previews made before the
/// write lock is taken. The checksum to pin stays the one of `plan`.
pub(crate) async fn as_it_would_run(
    db: &Sqlite,
    plan: &Plan,
    options: &MigrateOptions,
) -> Result<Plan> {
    let mut plan = plan.clone();
    if options.backup_before_destructive {
        let stamp: String = sqlx::query_scalar("SELECT strftime('%Y%m%d%H%M%S', 'now')")
            .fetch_one(db.pool())
            .await
            .map_err(history_error(db))?;
        let version = format!("{stamp}_{}", &plan.to_checksum[..8.min(plan.to_checksum.len())]);
        dataflow_schema::dialect::sqlite::keep::keep_data(&mut plan, &version);
    }
    Ok(plan)
}

/// Under the write lock: adopt, re-plan, check, apply, record. Returns the plan and the
/// version recorded (none when there was nothing to do).
async fn migrate_locked(
    db: &Sqlite,
    desired: &Schema,
    scope: Scope,
    options: &MigrateOptions,
    expected: Option<&str>,
    lock: &mut WriteLock,
    started: Instant,
) -> Result<(Plan, Option<String>)> {
    let history_error = history_error(db);
    history::ensure(lock.connection()).await.map_err(&history_error)?;
    let current = lock.introspect(db.url()).await?;
    let adopted = match scope {
        Scope::Models => adopt(lock, &current.schema, desired).await.map_err(&history_error)?,
        Scope::Database => None,
    };
    let created = created_tables(lock.connection(), scope).await.map_err(&history_error)?;
    let plan = plan_against(&current, desired, scope, &created, options)?;
    if plan.is_empty() {
        return Ok((plan, adopted));
    }
    if let Some(expected) = expected {
        if expected != plan.plan_checksum {
            return Err(Error::PlanChanged {
                expected: expected.to_owned(),
                actual: plan.plan_checksum.clone(),
            });
        }
    }
    check_risk(&plan, options.max_risk)?;
    if !options.force {
        if let Some(version) = history::rolled_back_target(lock.connection(), &plan.to_checksum)
            .await
            .map_err(&history_error)?
        {
            return Err(Error::RolledBackTarget { version });
        }
    }
    let version = history::next_version(lock.connection(), &plan.to_checksum)
        .await
        .map_err(&history_error)?;
    let mut plan = plan;
    // Drops keep their data, named after this run (invariant 6).
    if options.backup_before_destructive {
        dataflow_schema::dialect::sqlite::keep::keep_data(&mut plan, &version);
    }
    lock.run(&plan).await?;
    // What `status` compares the live schema with later, to show what changed.
    let after = lock.introspect(db.url()).await?.schema;
    let recorded = crate::history::with_schema_after(&plan.to_json(), &after);
    let description = plan.summary();
    let row = NewRow {
        version: &version,
        description: &description,
        checksum: &plan.to_checksum,
        plan: &recorded,
        status: RunStatus::Applied,
        execution_ms: i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX),
    };
    history::insert(lock.connection(), &row).await.map_err(&history_error)?;
    Ok((plan, Some(version)))
}

/// Whether this is a first run on a database that already holds some of the models'
/// tables (then a baseline row is recorded).
async fn needs_baseline(db: &Sqlite, desired: &Schema) -> Result<bool> {
    let recorded = {
        // Given back before introspecting: an in-memory database has one connection.
        let mut connection = db.connection().await?;
        let history_error = history_error(db);
        history::exists(&mut connection).await.map_err(&history_error)?
            && !history::is_empty(&mut connection).await.map_err(&history_error)?
    };
    if recorded {
        return Ok(false);
    }
    let current = db.introspect().await?;
    Ok(desired.tables.iter().any(|t| current.schema.table(&t.name).is_some()))
}

/// Adoption: on a first run, the models' tables that already exist are recorded as a
/// `baseline` row; differences are planned as usual.
async fn adopt(
    lock: &mut WriteLock,
    current: &Schema,
    desired: &Schema,
) -> std::result::Result<Option<String>, sqlx::Error> {
    if !history::is_empty(lock.connection()).await? {
        return Ok(None);
    }
    let Some(baseline) = Baseline::of(current, desired) else { return Ok(None) };
    let version = history::next_version(lock.connection(), &baseline.checksum).await?;
    let row = NewRow {
        version: &version,
        description: &baseline.description,
        checksum: &baseline.checksum,
        plan: &baseline.record,
        status: RunStatus::Baseline,
        execution_ms: 0,
    };
    history::insert(lock.connection(), &row).await?;
    Ok(Some(version))
}

/// DB-vs-DB on SQLite: brings the database to `target` (the whole database) through the
/// migrator. What `dataflow apply --db sqlite://…` runs.
pub async fn migrate_sqlite_to(
    db: &Sqlite,
    target: Schema,
    options: MigrateOptions,
) -> Result<MigrationReport> {
    migrate(db, &target, Scope::Database, options).await
}

/// History rows, newest first.
pub(crate) async fn history_rows(
    db: &Sqlite,
    limit: Option<usize>,
) -> Result<Vec<crate::history::HistoryRow>> {
    let mut connection = db.connection().await?;
    history::list(&mut connection, limit).await.map_err(history_error(db))
}

/// The plan `version` applied; refuses unless it is applied.
async fn stored_plan(
    connection: &mut sqlx::SqliteConnection,
    db: &Sqlite,
    version: &str,
) -> Result<Plan> {
    if !history::exists(&mut *connection).await.map_err(history_error(db))? {
        return Err(Error::UnknownVersion { version: version.to_owned() });
    }
    let Some(StoredRun { plan: json, status: state }) =
        history::stored_plan(connection, version).await.map_err(history_error(db))?
    else {
        return Err(Error::UnknownVersion { version: version.to_owned() });
    };
    if state != RunStatus::Applied {
        return Err(Error::NotRollbackable { version: version.to_owned(), status: state });
    }
    serde_json::from_str(&json)
        .map_err(|source| Error::CorruptHistory { version: version.to_owned(), source })
}

/// Undoes `version` in one transaction with its recorded down steps; refuses while newer
/// applied runs build on it unless `out_of_order`.
pub(crate) async fn rollback_migration(
    db: &Sqlite,
    version: &str,
    out_of_order: bool,
) -> Result<()> {
    let mut lock =
        WriteLock::acquire(db, Duration::from_secs(15 * 60), &ApplyOptions::default()).await?;
    let outcome = async {
        if !out_of_order {
            let newer = history::applied_after(lock.connection(), version)
                .await
                .map_err(history_error(db))?;
            refuse_newer(version, newer)?;
        }
        rollback_locked(db, &mut lock, version).await
    }
    .await;
    lock.finish(outcome).await
}

async fn rollback_locked(db: &Sqlite, lock: &mut WriteLock, version: &str) -> Result<()> {
    if history::purged(lock.connection(), version).await.map_err(history_error(db))? {
        return Err(Error::Purged { version: version.to_owned() });
    }
    let plan = stored_plan(lock.connection(), db, version).await?;
    lock.run(&reversed(&plan)?).await?;
    history::mark_rolled_back(lock.connection(), version).await.map_err(history_error(db))
}

/// Rolls back every applied run newer than `version`, newest first, in one transaction.
pub(crate) async fn rollback_to_version(db: &Sqlite, version: &str) -> Result<Vec<String>> {
    let mut lock =
        WriteLock::acquire(db, Duration::from_secs(15 * 60), &ApplyOptions::default()).await?;
    let outcome = async {
        let newer =
            history::applied_after(lock.connection(), version).await.map_err(history_error(db))?;
        for later in &newer {
            rollback_locked(db, &mut lock, later).await?;
        }
        Ok(newer)
    }
    .await;
    lock.finish(outcome).await
}

/// Drops the trash tables and column backups of runs started longer than `older_than`
/// ago and returns their names; those runs can no longer be rolled back with their data.
pub(crate) async fn purge(db: &Sqlite, older_than: Duration) -> Result<Vec<String>> {
    let mut lock =
        WriteLock::acquire(db, Duration::from_secs(15 * 60), &ApplyOptions::default()).await?;
    let outcome = async {
        let seconds = i64::try_from(older_than.as_secs()).unwrap_or(i64::MAX);
        let error = history_error(db);
        let old = history::older_than(lock.connection(), seconds).await.map_err(&error)?;
        let all = history::versions(lock.connection()).await.map_err(&error)?;
        let kept: Vec<String> = sqlx::query_scalar(
            "SELECT name FROM sqlite_schema WHERE type = 'table' \
             AND (name LIKE '\\_dataflow\\_trash\\_%' ESCAPE '\\' \
                  OR name LIKE '\\_dataflow\\_backup\\_%' ESCAPE '\\')",
        )
        .fetch_all(lock.connection())
        .await
        .map_err(&error)?;
        let mut dropped = Vec::new();
        for version in old {
            let tables: Vec<String> = kept
                .iter()
                .filter(|t| crate::history::owner(t, &all) == Some(&version))
                .cloned()
                .collect();
            if tables.is_empty() {
                continue;
            }
            for table in &tables {
                let drop =
                    format!("DROP TABLE {}", dataflow_schema::dialect::sqlite::quote_ident(table));
                sqlx::query(&drop).execute(lock.connection()).await.map_err(&error)?;
            }
            history::mark_purged(lock.connection(), &version, &tables).await.map_err(&error)?;
            dropped.extend(tables);
        }
        Ok(dropped)
    }
    .await;
    lock.finish(outcome).await
}

/// What rolling back `version` would do.
pub(crate) async fn analyze_rollback(db: &Sqlite, version: &str) -> Result<RollbackAnalysis> {
    let mut connection = db.connection().await?;
    let plan = stored_plan(&mut connection, db, version).await?;
    Ok(RollbackAnalysis::of(&plan))
}

/// Compile-time check: the migrator's futures can run on a multi-threaded runtime.
#[allow(dead_code)]
fn futures_are_send(db: &Sqlite, desired: &Schema) {
    fn send<T: Send>(_: T) {}
    send(migrate(db, desired, Scope::Models, MigrateOptions::default()));
    send(rollback_migration(db, "v", false));
}
