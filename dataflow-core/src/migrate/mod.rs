//! The one migrator, for every database, over the [`Connector`] contract:
//!
//! plan (the fast path: nothing to do, no lock) → confirm (before the lock, or under it on
//! PostgreSQL) → take the lock → adopt existing tables (baseline) → **re-plan under the
//! lock** (a replica that waited finds nothing to do) → close runs a dead migrator left
//! `running` → refuse (reviewed checksum, risk, rolled-back target, rows a new constraint
//! rejects) → name the run → keep dropped data → run and record it as the database must
//! → record the schema it left → release the lock on every path.
//!
//! Rolling back, analysing a rollback and purging are in [`undo`].

pub(crate) mod undo;

use crate::connector::contract::{Connector, Current, Idle};
use crate::error::{Error, Result};
use crate::history::HistoryRow;
use crate::options::{MigrateOptions, Mode, Scope};
use crate::orphans;
use crate::policy::{check_risk, print_preview, retain_selected, Baseline};
use crate::report::{ApplyReport, MigrationReport};
use dataflow_schema::{plan_offline, Plan, Schema};
use std::time::{Duration, Instant};
use tracing::Instrument;

/// The plan from the live schema to `desired`, filtered by the options, with its warnings
/// (orphans, what is left alone).
pub(crate) async fn plan<C: Connector>(
    db: &C,
    desired: &Schema,
    scope: Scope,
    options: &MigrateOptions,
) -> Result<Plan> {
    let current = db.read(desired, scope).await?;
    plan_against::<C>(current, desired, scope, options)
}

fn plan_against<C: Connector>(
    current: Current,
    desired: &Schema,
    scope: Scope,
    options: &MigrateOptions,
) -> Result<Plan> {
    let desired = current.desired.as_ref().unwrap_or(desired);
    let mut plan = match scope {
        Scope::Models => {
            orphans::plan_models(&current.schema, desired, &current.created, C::DIALECT, options)?
        }
        Scope::Database => plan_offline(&current.schema, desired, C::DIALECT, &options.plan)?,
    };
    if !current.unmanaged.is_empty() {
        plan.warnings
            .push(format!("not managed by dataflow, left alone: {}", current.unmanaged.join(", ")));
    }
    retain_selected(&mut plan, options);
    if !plan.is_empty() {
        plan.warnings.extend(current.caveats);
    }
    Ok(plan)
}

/// Brings the database to `desired` (see the module docs). Everything a run does happens
/// inside one `migrate` span (target `dataflow::migrate`): its events, and the
/// `migration_lock`, `group` and `step` spans inside it.
pub(crate) async fn migrate<C: Connector>(
    db: &C,
    desired: &Schema,
    scope: Scope,
    options: MigrateOptions,
) -> Result<MigrationReport> {
    let span = tracing::info_span!(
        target: "dataflow::migrate",
        "migrate",
        mode = ?options.mode,
        max_risk = %options.max_risk
    );
    migrate_in_span(db, desired, scope, options).instrument(span).await
}

async fn migrate_in_span<C: Connector>(
    db: &C,
    desired: &Schema,
    scope: Scope,
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
    if !matches!(options.mode, Mode::DryRun) {
        db.before_planning(&options).await?;
    }
    let preview = plan(db, desired, scope, &options).await?;
    tracing::debug!(
        target: "dataflow::migrate",
        steps = preview.steps.len(),
        ms = started.elapsed().as_millis() as u64,
        "planned"
    );
    match &options.mode {
        Mode::DryRun => {
            print_preview(&as_it_would_run(db, &preview, &options).await?, &options);
            return Ok(report(preview, None, Duration::ZERO, None));
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
            return Ok(report(current, None, Duration::ZERO, None));
        }
        Mode::AutoConfirm | Mode::Interactive(_) => {}
    }
    // The fast path for the common start-up: nothing to do, so no lock and no history
    // (every replica of a current deployment returns here) — unless a run left behind is
    // to be closed. Anything else is re-planned under the lock below, since another
    // migrator may have changed the schema meanwhile.
    let mut lock_timeout = options.migration_lock_timeout;
    let mut only_closing = false;
    if preview.is_empty() && (scope == Scope::Database || !needs_baseline(db, desired).await?) {
        match db.when_idle(&preview.to_checksum, &options).await? {
            Idle::Done => return Ok(report(preview, None, Duration::ZERO, None)),
            Idle::CloseUnderLock(grace) => {
                lock_timeout = grace.min(options.migration_lock_timeout);
                only_closing = true;
            }
        }
    }
    let mut expected = options.expected_plan.clone();
    if let Mode::Interactive(confirm) = &options.mode {
        if !C::CONFIRMS_UNDER_LOCK && !preview.is_empty() {
            check_risk(&preview, options.max_risk)?;
            print_preview(&as_it_would_run(db, &preview, &options).await?, &options);
            if !confirm(&preview) {
                return Err(Error::Declined);
            }
            expected.get_or_insert_with(|| preview.plan_checksum.clone());
        }
    }
    let mut lock = match db.lock(lock_timeout, &options.apply).await {
        Ok(lock) => lock,
        Err(Error::LockTimeout { holder, .. }) if only_closing => {
            tracing::warn!(
                target: "dataflow::migrate",
                holder = %holder,
                waited_ms = lock_timeout.as_millis() as u64,
                "nothing to do; a run is recorded running and its migrator still holds the lock"
            );
            return Ok(report(preview, None, Duration::ZERO, None));
        }
        Err(error) => return Err(error),
    };
    let lock_wait = C::waited(&lock);
    let outcome =
        migrate_locked(db, desired, scope, &options, expected.as_deref(), &mut lock).await;
    let (plan, version, applied) = match outcome {
        Ok(done) => {
            db.unlock(lock, done.1.is_some()).await?;
            done
        }
        Err(error) => {
            // Released on every path; a failed release still ends with the lock's session.
            let _ = db.unlock(lock, false).await;
            return Err(error);
        }
    };
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

/// Under the lock: adopt, plan again, close interrupted runs, refuse, record, apply.
/// Returns the plan, the version recorded (a baseline's too) and what applying did.
async fn migrate_locked<C: Connector>(
    db: &C,
    desired: &Schema,
    scope: Scope,
    options: &MigrateOptions,
    expected: Option<&str>,
    lock: &mut C::Lock,
) -> Result<(Plan, Option<String>, Option<ApplyReport>)> {
    db.ensure_history(C::locked(lock)).await?;
    let current = db.read_locked(lock, desired, scope).await?;
    let adopted = match scope {
        Scope::Models => adopt(db, C::locked(lock), &current.schema, desired).await?,
        Scope::Database => None,
    };
    let plan = plan_against::<C>(current, desired, scope, options)?;
    // We hold the lock: a row still `running` belongs to a migrator that died. With
    // nothing left to do, a run for this very target got to its end.
    let reached = plan.is_empty().then_some(plan.to_checksum.as_str());
    for (version, state) in db.close_interrupted(C::locked(lock), reached).await? {
        tracing::warn!(target: "dataflow::migrate", version, state = state.as_str(), "closed a run a stopped migrator left running");
    }
    if plan.is_empty() {
        return Ok((plan, adopted, None));
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
        if let Some(version) = db.rolled_back_target(C::locked(lock), &plan.to_checksum).await? {
            return Err(Error::RolledBackTarget { version });
        }
    }
    db.preflight(lock, &plan, options).await?;
    let version = db.next_version(C::locked(lock), &plan.to_checksum).await?;
    let mut plan = plan;
    // Drops keep their data, named after this run (invariant 6). Before the preview, so
    // the person confirms the SQL that runs.
    if options.backup_before_destructive {
        C::DIALECT.rules().keep_data(&mut plan, &version);
    }
    if let Mode::Interactive(confirm) = &options.mode {
        if C::CONFIRMS_UNDER_LOCK {
            print_preview(&plan, options);
            if !confirm(&plan) {
                return Err(Error::Declined);
            }
        }
    }
    let applied = db.execute(lock, &plan, &version, options).await?;
    // What `status` compares the live schema with later, to show what changed.
    let after = db.read_locked(lock, desired, scope).await?.schema;
    let mut recorded = crate::history::with_schema_after(&plan.to_json(), &after);
    if scope == Scope::Models {
        // Whose tables these are: the orphans of this model set only (`crate::orphans`).
        recorded = orphans::with_model_tables(&recorded, desired);
    }
    db.set_plan(C::locked(lock), &version, &recorded).await?;
    Ok((plan, Some(version), Some(applied)))
}

/// Whether this is a first run on a database that already holds some of the models'
/// tables: then the migrator takes the lock to record a baseline.
async fn needs_baseline<C: Connector>(db: &C, desired: &Schema) -> Result<bool> {
    let recorded = {
        // Given back before reading the catalog: an in-memory SQLite has one connection.
        let mut reader = db.reader().await?;
        db.has_history(C::read_with(&mut reader)).await?
    };
    if recorded {
        return Ok(false);
    }
    let current = db.read(desired, Scope::Models).await?;
    Ok(desired.tables.iter().any(|t| current.schema.table(&t.name).is_some()))
}

/// Adoption: on a first run, the models' tables that already exist are recorded as a
/// `baseline` row (never pending, never rolled back); differences are planned as usual.
async fn adopt<C: Connector>(
    db: &C,
    conn: &mut C::Conn,
    current: &Schema,
    desired: &Schema,
) -> Result<Option<String>> {
    if db.has_history(conn).await? {
        return Ok(None);
    }
    let Some(baseline) = Baseline::of(current, desired) else { return Ok(None) };
    let version = db.next_version(conn, &baseline.checksum).await?;
    db.record_baseline(conn, &version, &baseline).await?;
    Ok(Some(version))
}

/// `plan` as a run would execute it: with `backup_before_destructive`, drops rewritten to
/// keep their data (named after a version of this moment). For previews made before the
/// lock is taken (dry runs, refusals, confirmations); the checksum to pin stays `plan`'s.
pub(crate) async fn as_it_would_run<C: Connector>(
    db: &C,
    plan: &Plan,
    options: &MigrateOptions,
) -> Result<Plan> {
    let mut plan = plan.clone();
    if options.backup_before_destructive && !plan.is_empty() {
        let version = db.version_now(&plan.to_checksum).await?;
        C::DIALECT.rules().keep_data(&mut plan, &version);
    }
    Ok(plan)
}

/// History rows, newest first.
pub(crate) async fn history<C: Connector>(db: &C, limit: Option<usize>) -> Result<Vec<HistoryRow>> {
    let mut reader = db.reader().await?;
    db.history_rows(C::read_with(&mut reader), limit).await
}

/// The schema the run `version` left, as recorded when it applied.
pub(crate) async fn recorded_schema<C: Connector>(db: &C, version: &str) -> Result<Option<Schema>> {
    let mut reader = db.reader().await?;
    let stored = db.stored_run(C::read_with(&mut reader), version).await?;
    Ok(stored.and_then(|run| crate::history::schema_after(&run.plan)))
}
