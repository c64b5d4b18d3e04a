//! `auto_migrate` on PostgreSQL: plan (the fast path: nothing to do, no lock), take the
//! advisory lock on a dedicated connection, close runs a dead migrator left `running`,
//! **re-introspect and re-plan under the lock** (a replica that waited finds nothing to
//! do), check the plan against the options (risk, reviewed checksum), record a history
//! row, apply the plan group by group, mark the row, release the lock on every path.

use crate::connector::postgres::backfill::Recorder;
use crate::connector::postgres::history;
use crate::connector::postgres::lock::{LockError, LockGuard};
use crate::connector::postgres::Postgres;
use crate::error::{Error, Result};
use crate::history::RunStatus;
use crate::options::{MigrateOptions, Mode};
use crate::orphans;
use crate::policy::{check_risk, print_preview, retain_selected, Baseline};
use crate::report::{ApplyReport, MigrationReport};
use dataflow_schema::introspect::postgres::DEFAULT_NAMESPACE;
use dataflow_schema::{plan_offline, Dialect, Operation, Plan, Schema};
use std::time::{Duration, Instant};
use tracing::Instrument;

pub(crate) fn lock_error(db: &Postgres, timeout: Duration, error: LockError) -> Error {
    match error {
        LockError::Timeout { holder } => {
            Error::LockTimeout { waited_ms: timeout.as_millis(), holder }
        }
        LockError::Database(source) => Error::Connect { url: db.url().to_owned(), source },
    }
}

/// What the database should look like.
#[derive(Debug, Clone)]
pub(crate) enum Target {
    /// Model mode: only tables the models name are touched.
    Models(Schema),
    /// DB-vs-DB mode: the target is the whole namespace.
    Namespace(Schema),
}

/// DB-vs-DB: brings the database to `target` (the whole namespace) through the migrator:
/// lock, re-plan under the lock, history, apply. What `dataflow apply` runs.
pub async fn migrate_to(
    db: &Postgres,
    target: Schema,
    options: MigrateOptions,
) -> Result<MigrationReport> {
    migrate(db, Target::Namespace(target), DEFAULT_NAMESPACE, options)
        .await
        .map_err(|error| crate::error::explain(error, db.url()))
}

pub(crate) async fn plan_for(
    db: &Postgres,
    target: &Target,
    options: &MigrateOptions,
) -> Result<Plan> {
    let mut plan = match target {
        Target::Models(desired) => plan_models_with_orphans(db, desired, options).await?,
        Target::Namespace(desired) => {
            let (current, desired) = db.current_for(desired).await?;
            plan_offline(&current.schema, &desired, Dialect::Postgres, &options.plan)?
        }
    };
    retain_selected(&mut plan, options);
    Ok(plan)
}

/// Model mode, plus orphans: tables history says dataflow created that no model names
/// any more are reported, and dropped (HIGH) only with `drop_orphans`.
pub(crate) async fn plan_models_with_orphans(
    db: &Postgres,
    desired: &Schema,
    options: &MigrateOptions,
) -> Result<Plan> {
    let (current, desired) = db.current_for(desired).await?;
    let created = {
        let mut connection = db.connection().await?;
        history::created_tables(&mut connection, DEFAULT_NAMESPACE)
            .await
            .map_err(|source| Error::History { url: db.url().to_owned(), source })?
    };
    let mut plan =
        orphans::plan_models(&current.schema, &desired, &created, Dialect::Postgres, options)?;
    super::warn_unmanaged(&mut plan, &current);
    Ok(plan)
}

/// Everything a run does happens inside one `migrate` span (target `dataflow::migrate`):
/// its events, and the `migration_lock`, `group` and `step` spans inside it.
pub(crate) async fn migrate(
    db: &Postgres,
    target: Target,
    history_namespace: &str,
    options: MigrateOptions,
) -> Result<MigrationReport> {
    let span = tracing::info_span!(
        target: "dataflow::migrate",
        "migrate",
        mode = ?options.mode,
        max_risk = %options.max_risk
    );
    migrate_in_span(db, target, history_namespace, options).instrument(span).await
}

pub(crate) async fn migrate_in_span(
    db: &Postgres,
    target: Target,
    history_namespace: &str,
    options: MigrateOptions,
) -> Result<MigrationReport> {
    let started = Instant::now();
    let report =
        |plan: Plan, version, lock_wait: Duration, applied: Option<ApplyReport>| MigrationReport {
            version,
            applied: applied.is_some(),
            lock_wait_ms: lock_wait.as_millis(),
            retries: applied.as_ref().map_or(0, |a| a.retries),
            timings: applied.as_ref().map(|a| a.timings.clone()).unwrap_or_default(),
            backfills: applied.map(|a| a.backfills).unwrap_or_default(),
            elapsed_ms: started.elapsed().as_millis(),
            safety: plan.safety(),
            plan,
        };
    match &options.mode {
        Mode::DryRun => {
            let plan = plan_for(db, &target, &options).await?;
            print_preview(&as_it_would_run(db, &plan, &options).await?, &options);
            return Ok(report(plan, None, Duration::ZERO, None));
        }
        Mode::WaitOnly => {
            let deadline = options.deadline.unwrap_or(options.migration_lock_timeout);
            loop {
                let plan = plan_for(db, &target, &options).await?;
                if plan.is_empty() {
                    return Ok(report(plan, None, Duration::ZERO, None));
                }
                if started.elapsed() >= deadline {
                    return Err(Error::Deadline {
                        waited_ms: started.elapsed().as_millis(),
                        pending: plan.steps.len(),
                    });
                }
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
        }
        Mode::AutoConfirm | Mode::Interactive(_) => {}
    }
    // Fast path for the common startup: nothing to do, so no lock and no history (every
    // replica of a current deployment returns here). Anything else is re-planned under
    // the lock below, since another migrator may have changed the schema meanwhile.
    let preview = plan_for(db, &target, &options).await?;
    tracing::debug!(
        target: "dataflow::migrate",
        steps = preview.steps.len(),
        ms = started.elapsed().as_millis() as u64,
        "planned"
    );
    let mut lock_timeout = options.migration_lock_timeout;
    let mut only_closing = false;
    if preview.is_empty() && !needs_baseline(db, &target).await? {
        if !left_running(db, history_namespace).await? {
            return Ok(report(preview, None, Duration::ZERO, None));
        }
        // A run is recorded `running`. If the lock is free, its migrator died (maybe
        // after its last step, before recording it): the locked path closes it. A
        // migrator that just died may still hold the lock for a moment — its server
        // session ends after its process (a terminated backend exits asynchronously; one
        // whose client vanished finishes its statement first) — so the lock is waited
        // for briefly. Held beyond that, its migrator is alive: nothing to do here.
        lock_timeout = LEFT_RUNNING_GRACE.min(options.migration_lock_timeout);
        only_closing = true;
    }

    let connection = db.connection().await?.detach();
    let mut guard = match LockGuard::acquire(connection, lock_timeout).await {
        Ok(guard) => guard,
        Err(LockError::Timeout { holder, .. }) if only_closing => {
            tracing::warn!(
                target: "dataflow::migrate",
                holder = %holder,
                waited_ms = lock_timeout.as_millis() as u64,
                "nothing to do; a run is recorded running and its migrator still holds the lock"
            );
            return Ok(report(preview, None, Duration::ZERO, None));
        }
        Err(error) => return Err(lock_error(db, lock_timeout, error)),
    };
    let lock_wait = guard.waited;
    let outcome = migrate_locked(db, &target, history_namespace, &options, &mut guard).await;
    // Released on every path; an error here still leaves the lock to die with the session.
    let _ = guard.release().await;
    let (plan, version, applied) = outcome?;
    let report = report(plan, version, lock_wait, applied);
    tracing::info!(
        target: "dataflow::migrate",
        version = report.version.as_deref().unwrap_or("-"),
        steps = report.plan.steps.len(),
        retries = report.retries,
        lock_wait_ms = report.lock_wait_ms as u64,
        ms = report.elapsed_ms as u64,
        "migration finished"
    );
    Ok(report)
}

/// How long a migrator with nothing to do waits for the lock to close a run left
/// `running` before taking its holder for alive.
pub(crate) const LEFT_RUNNING_GRACE: Duration = Duration::from_secs(3);

/// Whether a run is recorded `running` (alive, or left by a migrator that died).
pub(crate) async fn left_running(db: &Postgres, history_namespace: &str) -> Result<bool> {
    let mut connection = db.connection().await?;
    history::any_running(&mut connection, history_namespace)
        .await
        .map_err(|source| Error::History { url: db.url().to_owned(), source })
}

/// Whether this is a first run on a database that already holds some of the models'
/// tables: then the migrator takes the lock to record a baseline.
pub(crate) async fn needs_baseline(db: &Postgres, target: &Target) -> Result<bool> {
    let Target::Models(desired) = target else { return Ok(false) };
    let mut connection = db.connection().await?;
    let empty = history::is_empty(&mut connection, DEFAULT_NAMESPACE)
        .await
        .map_err(|source| Error::History { url: db.url().to_owned(), source })?;
    if !empty {
        return Ok(false);
    }
    let namespaces = vec![DEFAULT_NAMESPACE.to_owned()];
    let current = db.introspect(&namespaces).await?;
    Ok(desired.tables.iter().any(|t| current.schema.table(&t.name).is_some()))
}

/// Adoption: on a first run, the models' tables that already exist are recorded as a
/// `baseline` row (never pending, never rolled back); differences are planned as usual.
pub(crate) async fn adopt(
    db: &Postgres,
    target: &Target,
    namespace: &str,
    guard: &mut LockGuard,
) -> Result<()> {
    let Target::Models(desired) = target else { return Ok(()) };
    let history_error = |source| Error::History { url: db.url().to_owned(), source };
    if !history::is_empty(guard.connection(), namespace).await.map_err(history_error)? {
        return Ok(());
    }
    let current = db.introspect(&[DEFAULT_NAMESPACE.to_owned()]).await?;
    let Some(baseline) = Baseline::of(&current.schema, desired) else { return Ok(()) };
    let version = history::next_version(guard.connection(), namespace, &baseline.checksum)
        .await
        .map_err(history_error)?;
    history::insert(
        guard.connection(),
        namespace,
        &version,
        &baseline.checksum,
        &baseline.description,
        &baseline.record,
        RunStatus::Baseline,
    )
    .await
    .map_err(history_error)
}

/// Under the lock: plan again, check, record, apply, record.
pub(crate) async fn migrate_locked(
    db: &Postgres,
    target: &Target,
    history_namespace: &str,
    options: &MigrateOptions,
    guard: &mut LockGuard,
) -> Result<(Plan, Option<String>, Option<ApplyReport>)> {
    let history_error = |source| Error::History { url: db.url().to_owned(), source };
    history::ensure(guard.connection(), history_namespace).await.map_err(history_error)?;
    adopt(db, target, history_namespace, guard).await?;
    let plan = plan_for(db, target, options).await?;
    // We hold the lock: a row still `running` belongs to a migrator that died. With
    // nothing left to do, a run for this very target got to its end.
    let reached = plan.is_empty().then_some(plan.to_checksum.as_str());
    let closed = history::close_interrupted(guard.connection(), history_namespace, reached)
        .await
        .map_err(history_error)?;
    for (version, state) in closed {
        tracing::warn!(target: "dataflow::migrate", version, state = state.as_str(), "closed a run a stopped migrator left running");
    }
    if plan.is_empty() {
        return Ok((plan, None, None));
    }
    if let Some(expected) = &options.expected_plan {
        if expected != &plan.plan_checksum {
            return Err(Error::PlanChanged {
                expected: expected.clone(),
                actual: plan.plan_checksum.clone(),
            });
        }
    }
    check_risk(&plan, options.max_risk)?;
    if !options.force {
        let rolled_back =
            history::rolled_back_target(guard.connection(), history_namespace, &plan.to_checksum)
                .await
                .map_err(history_error)?;
        if let Some(version) = rolled_back {
            return Err(Error::RolledBackTarget { version });
        }
    }
    if options.check_existing_rows {
        crate::connector::postgres::preflight::check(guard.connection(), &plan).await?;
    }
    let description = plan.summary();
    let mut plan = plan;
    let version = history::next_version(guard.connection(), history_namespace, &plan.to_checksum)
        .await
        .map_err(history_error)?;
    // Drops keep their data, named after this run (invariant 6). Before the preview, so
    // the person confirms the SQL that runs.
    if options.backup_before_destructive {
        dataflow_schema::dialect::postgres::keep::keep_data(&mut plan, &version);
    }
    if let Mode::Interactive(confirm) = &options.mode {
        print_preview(&plan, options);
        if !confirm(&plan) {
            return Err(Error::Declined);
        }
    }
    history::insert(
        guard.connection(),
        history_namespace,
        &version,
        &plan.to_checksum,
        &description,
        &plan.to_json(),
        RunStatus::Running,
    )
    .await
    .map_err(history_error)?;
    // Going on from a run that failed (or was interrupted) on its way to this target:
    // this run owns the whole change, and its rollback undoes that run's steps too.
    let resumed =
        history::resumed_run(guard.connection(), history_namespace, &version, &plan.to_checksum)
            .await
            .map_err(history_error)?;
    if let Some(earlier) = resumed {
        sqlx::query(&history::progress_update(history_namespace))
            .bind(&version)
            .bind(serde_json::json!({ "resumes": earlier }).to_string())
            .execute(guard.connection())
            .await
            .map_err(history_error)?;
    }
    let started = Instant::now();
    let (update, lookup, done) = (
        history::progress_update(history_namespace),
        history::progress_lookup(history_namespace),
        history::progress_done(history_namespace),
    );
    let recorder = Recorder { update: &update, lookup: &lookup, done: &done, version: &version };
    let applied = db.apply_recorded(&plan, &options.apply, Some(recorder)).await;
    let elapsed = i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
    match applied {
        Ok(report) => {
            history::finish(
                guard.connection(),
                history_namespace,
                &version,
                RunStatus::Applied,
                elapsed,
                None,
            )
            .await
            .map_err(history_error)?;
            // What `status` compares the live schema with later, to show what changed.
            let after = db.introspect(&target_namespaces(target)).await?.schema;
            history::set_plan(
                guard.connection(),
                history_namespace,
                &version,
                &crate::history::with_schema_after(&plan.to_json(), &after),
            )
            .await
            .map_err(history_error)?;
            Ok((plan, Some(version), Some(report)))
        }
        Err(error) => {
            let message = crate::error::report(&error);
            let _ = history::finish(
                guard.connection(),
                history_namespace,
                &version,
                RunStatus::Failed,
                elapsed,
                Some(&message),
            )
            .await;
            Err(error)
        }
    }
}

/// The namespaces a run towards `target` works in: the default one and the target's.
fn target_namespaces(target: &Target) -> Vec<String> {
    let (Target::Models(schema) | Target::Namespace(schema)) = target;
    let mut namespaces = vec![DEFAULT_NAMESPACE.to_owned()];
    namespaces.extend(schema.namespaces.iter().cloned());
    namespaces.sort();
    namespaces.dedup();
    namespaces
}

/// `plan` as a run would execute it: with `backup_before_destructive`, drops rewritten to
/// keep their data (named after a version of this moment). For previews made before the
/// lock is taken (dry runs, refusals); the checksum to pin stays the one of `plan`.
pub(crate) async fn as_it_would_run(
    db: &Postgres,
    plan: &Plan,
    options: &MigrateOptions,
) -> Result<Plan> {
    let mut plan = plan.clone();
    let drops = |s: &dataflow_schema::Step| {
        matches!(s.operation, Operation::DropTable | Operation::DropColumn)
    };
    if options.backup_before_destructive && plan.steps.iter().any(drops) {
        let version = history::version_now(db.pool(), &plan.to_checksum)
            .await
            .map_err(|source| Error::History { url: db.url().to_owned(), source })?;
        dataflow_schema::dialect::postgres::keep::keep_data(&mut plan, &version);
    }
    Ok(plan)
}
