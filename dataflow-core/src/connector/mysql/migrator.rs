//! `auto_migrate` on MySQL/MariaDB. DDL commits itself there, so a run cannot be one
//! transaction: under the `GET_LOCK` migration lock the migrator closes runs a dead
//! migrator left `running` (as `failed`, keeping their progress), re-plans from the live
//! schema — which resumes an interrupted run, since its finished steps are in the schema
//! — writes the history row `running`, and records each step before it starts and after
//! it ends. A failed run stops at its step; `rollback` runs the recorded down steps of
//! the steps it finished, newest first, recording each as it goes.

use crate::connector::mysql::history::{self as history, NewRow, Progress};
use crate::connector::mysql::{introspect_on, run_statement, MigrationLock, Mysql};
use crate::error::{Error, LeftBehind, Result};
use crate::history::{RunStatus, StoredRun};
use crate::options::Scope;
use crate::options::{MigrateOptions, Mode};
use crate::orphans;
use crate::policy::{check_risk, refuse_newer, retain_selected, Baseline};
use crate::report::{MigrationReport, RollbackAnalysis};
use dataflow_schema::introspect::mysql::Introspected;
use dataflow_schema::{plan_offline, Dialect, Plan, QualifiedName, Rollback, Schema};
use sqlx::MySqlConnection;
use std::time::{Duration, Instant};

fn history_error(db: &Mysql) -> impl Fn(sqlx::Error) -> Error + '_ {
    move |source| Error::History { url: db.url().to_owned(), source }
}

/// The plan from the live schema to `desired`, filtered by the options.
pub(crate) async fn plan(
    db: &Mysql,
    desired: &Schema,
    scope: Scope,
    options: &MigrateOptions,
) -> Result<Plan> {
    let mut connection = db.connection().await?;
    let created = created_tables(&mut connection, scope).await.map_err(history_error(db))?;
    let current = introspect_on(&mut connection, db.url()).await?;
    plan_against(&current, desired, scope, &created, options)
}

/// The tables history says dataflow created, where they matter: in model scope (orphans).
async fn created_tables(
    connection: &mut MySqlConnection,
    scope: Scope,
) -> std::result::Result<Vec<QualifiedName>, sqlx::Error> {
    match scope {
        Scope::Models => history::created_tables(connection).await,
        Scope::Database => Ok(Vec::new()),
    }
}

/// `created`: the tables history says dataflow created (model scope: orphans).
fn plan_against(
    current: &Introspected,
    desired: &Schema,
    scope: Scope,
    created: &[QualifiedName],
    options: &MigrateOptions,
) -> Result<Plan> {
    let mut plan = match scope {
        Scope::Models => {
            orphans::plan_models(&current.schema, desired, created, Dialect::Mysql, options)?
        }
        Scope::Database => plan_offline(&current.schema, desired, Dialect::Mysql, &options.plan)?,
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
    db: &Mysql,
    desired: &Schema,
    scope: Scope,
    options: MigrateOptions,
) -> Result<MigrationReport> {
    let started = Instant::now();
    let finish = |plan: Plan, version: Option<String>, waited: Duration, applied: bool, retries| {
        MigrationReport {
            version,
            applied,
            safety: plan.safety(),
            timings: Vec::new(),
            backfills: Vec::new(),
            plan,
            lock_wait_ms: waited.as_millis(),
            retries,
            elapsed_ms: started.elapsed().as_millis(),
        }
    };
    // While another migrator holds the lock its statements are in flight (a killed one's
    // too: the server finishes the statement first), so what it changes would make the
    // preview stale: plan after it.
    if !matches!(options.mode, Mode::DryRun) {
        MigrationLock::wait_while_held(db, options.migration_lock_timeout).await?;
    }
    let preview = plan(db, desired, scope, &options).await?;
    match &options.mode {
        Mode::DryRun => {
            crate::policy::print_preview(&as_it_would_run(db, &preview, &options).await?, &options);
            return Ok(finish(preview, None, Duration::ZERO, false, 0));
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
            return Ok(finish(current, None, Duration::ZERO, false, 0));
        }
        Mode::AutoConfirm | Mode::Interactive(_) => {}
    }
    // The fast path: nothing to do, no lock taken (ten replicas do not queue) — unless a
    // dead migrator left its run `running`, which is closed under the lock first.
    if preview.is_empty() && (scope == Scope::Database || !needs_baseline(db, desired).await?) {
        close_interrupted_runs(db, &preview.to_checksum, options.migration_lock_timeout).await?;
        return Ok(finish(preview, None, Duration::ZERO, false, 0));
    }
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
    let mut lock = MigrationLock::acquire(db, options.migration_lock_timeout).await?;
    let waited = lock.waited;
    let outcome = migrate_locked(
        db,
        desired,
        scope,
        &options,
        expected.as_deref(),
        lock.connection(),
        started,
    )
    .await;
    lock.release().await;
    let (plan, version, retries) = outcome?;
    let applied = version.is_some() && !plan.is_empty();
    let report = finish(plan, version, waited, applied, retries);
    tracing::info!(
        target: "dataflow::migrate",
        version = report.version.as_deref().unwrap_or("-"),
        steps = report.plan.steps.len(),
        ms = report.elapsed_ms as u64,
        "migration finished"
    );
    Ok(report)
}

/// `plan` as a run would execute it: drops rewritten to keep their data.
pub(crate) async fn as_it_would_run(
    db: &Mysql,
    plan: &Plan,
    options: &MigrateOptions,
) -> Result<Plan> {
    let mut plan = plan.clone();
    if options.backup_before_destructive && !plan.is_empty() {
        let mut connection = db.dedicated().await?;
        let version = history::version_now(&mut connection, &plan.to_checksum)
            .await
            .map_err(history_error(db))?;
        dataflow_schema::dialect::mysql::keep::keep_data(&mut plan, &version);
    }
    Ok(plan)
}

/// Under the lock: close interrupted runs, adopt, re-plan, check, record and apply step
/// by step. Returns the plan, the version recorded and the lock-timeout retries.
async fn migrate_locked(
    db: &Mysql,
    desired: &Schema,
    scope: Scope,
    options: &MigrateOptions,
    expected: Option<&str>,
    connection: &mut MySqlConnection,
    started: Instant,
) -> Result<(Plan, Option<String>, u32)> {
    let history_error = history_error(db);
    history::ensure(connection).await.map_err(&history_error)?;
    close_interrupted(connection, None, &history_error).await?;
    let current = introspect_on(connection, db.url()).await?;
    let adopted = match scope {
        Scope::Models => {
            adopt(connection, &current.schema, desired).await.map_err(&history_error)?
        }
        Scope::Database => None,
    };
    let created = created_tables(connection, scope).await.map_err(&history_error)?;
    let plan = plan_against(&current, desired, scope, &created, options)?;
    if plan.is_empty() {
        return Ok((plan, adopted, 0));
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
        if let Some(version) = history::rolled_back_target(connection, &plan.to_checksum)
            .await
            .map_err(&history_error)?
        {
            return Err(Error::RolledBackTarget { version });
        }
    }
    let version =
        history::next_version(connection, &plan.to_checksum).await.map_err(&history_error)?;
    let mut plan = plan;
    if options.backup_before_destructive {
        dataflow_schema::dialect::mysql::keep::keep_data(&mut plan, &version);
    }
    let description = plan.summary();
    let row = NewRow {
        version: &version,
        description: &description,
        checksum: &plan.to_checksum,
        plan: &plan.to_json(),
        status: RunStatus::Running,
    };
    history::insert(connection, &row).await.map_err(&history_error)?;
    // Going on from a run that failed (or was interrupted) on its way to this target:
    // this run owns the whole change, and its rollback undoes that run's steps too.
    let resumes = history::resumed_run(connection, &version, &plan.to_checksum)
        .await
        .map_err(&history_error)?;
    let mut progress = Progress { resumes, ..Progress::default() };
    let mut retries = 0;
    for step in &plan.steps {
        progress.running = Some(step.number);
        history::set_progress(connection, &version, &progress).await.map_err(&history_error)?;
        let span = tracing::info_span!(target: "dataflow::apply", "step", number = step.number, table = %step.table, operation = step.operation.label());
        let _entered = span.enter();
        for statement in &step.up {
            match run_statement(connection, step, statement, &options.apply, options.max_risk).await
            {
                Ok(run) => {
                    retries += run.retries;
                    if let Some(sql) = run.fell_back_to {
                        progress.fallbacks.push(format!("step {}: {sql}", step.number));
                    }
                }
                Err((statement, source)) => {
                    progress.error = Some(source.to_string());
                    let elapsed = elapsed_ms(started);
                    // Best effort: the error below matters more than a failed record.
                    let _ = history::set_progress(connection, &version, &progress).await;
                    let _ = history::finish(connection, &version, RunStatus::Failed, elapsed).await;
                    return Err(Error::StepFailed {
                        step: step.number,
                        what: format!("{} · {}", step.table, step.operation.label()),
                        statement,
                        left: LeftBehind::EarlierSteps { version },
                        source,
                    });
                }
            }
        }
        progress.running = None;
        progress.done.push(step.number);
        history::set_progress(connection, &version, &progress).await.map_err(&history_error)?;
    }
    history::finish(connection, &version, RunStatus::Applied, elapsed_ms(started))
        .await
        .map_err(&history_error)?;
    // What `status` compares the live schema with later, to show what changed.
    let after = introspect_on(connection, db.url()).await?.schema;
    let recorded = crate::history::with_schema_after(&plan.to_json(), &after);
    history::set_plan(connection, &version, &recorded).await.map_err(&history_error)?;
    Ok((plan, Some(version), retries))
}

/// With nothing to do (the database has the schema of checksum `reached`): closes the
/// runs a dead migrator left `running`, if any, under the lock — `applied` when their
/// target is `reached` — and settles a newest `failed` run whose target is `reached` as
/// `applied`, so the history tells the truth. One query when there is nothing to close.
pub(crate) async fn close_interrupted_runs(
    db: &Mysql,
    reached: &str,
    lock_timeout: Duration,
) -> Result<()> {
    let mut connection = db.connection().await?;
    if !history::any_to_close(&mut connection, Some(reached)).await.map_err(history_error(db))? {
        return Ok(());
    }
    drop(connection);
    let mut lock = MigrationLock::acquire(db, lock_timeout).await?;
    let closed = async {
        close_interrupted(lock.connection(), Some(reached), &history_error(db)).await?;
        let settled = history::settle_reached(lock.connection(), reached)
            .await
            .map_err(history_error(db))?;
        if let Some(version) = settled {
            tracing::warn!(target: "dataflow::migrate", version, "a failed run's target is the live schema: recorded as applied");
        }
        Ok(())
    }
    .await;
    lock.release().await;
    closed
}

/// Closes the runs a dead migrator left `running` (under the lock), saying so.
async fn close_interrupted(
    connection: &mut MySqlConnection,
    reached: Option<&str>,
    history_error: &impl Fn(sqlx::Error) -> Error,
) -> Result<()> {
    for (version, state) in
        history::close_interrupted(connection, reached).await.map_err(history_error)?
    {
        tracing::warn!(target: "dataflow::migrate", version, state = state.as_str(), "closed a run a stopped migrator left running");
    }
    Ok(())
}

fn elapsed_ms(started: Instant) -> i64 {
    i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX)
}

/// Whether this is a first run on a database that already holds some of the models'
/// tables (then a baseline row is recorded).
async fn needs_baseline(db: &Mysql, desired: &Schema) -> Result<bool> {
    let mut connection = db.connection().await?;
    let history_error = history_error(db);
    if history::exists(&mut connection).await.map_err(&history_error)?
        && !history::is_empty(&mut connection).await.map_err(&history_error)?
    {
        return Ok(false);
    }
    let current = introspect_on(&mut connection, db.url()).await?;
    Ok(desired.tables.iter().any(|t| current.schema.table(&t.name).is_some()))
}

/// Adoption: on a first run, the models' tables that already exist are recorded as a
/// `baseline` row; differences are planned as usual.
async fn adopt(
    connection: &mut MySqlConnection,
    current: &Schema,
    desired: &Schema,
) -> std::result::Result<Option<String>, sqlx::Error> {
    if !history::is_empty(connection).await? {
        return Ok(None);
    }
    let Some(baseline) = Baseline::of(current, desired) else { return Ok(None) };
    let version = history::next_version(connection, &baseline.checksum).await?;
    let row = NewRow {
        version: &version,
        description: &baseline.description,
        checksum: &baseline.checksum,
        plan: &baseline.record,
        status: RunStatus::Baseline,
    };
    history::insert(connection, &row).await?;
    Ok(Some(version))
}

/// DB-vs-DB on MySQL: brings the database to `target` (the whole database) through the
/// migrator. What `dataflow apply --db mysql://…` runs.
pub async fn migrate_mysql_to(
    db: &Mysql,
    target: Schema,
    options: MigrateOptions,
) -> Result<MigrationReport> {
    migrate(db, &target, Scope::Database, options)
        .await
        .map_err(|error| crate::error::explain(error, db.url()))
}

/// History rows, newest first.
pub(crate) async fn history_rows(
    db: &Mysql,
    limit: Option<usize>,
) -> Result<Vec<crate::history::HistoryRow>> {
    let mut connection = db.dedicated().await?;
    history::list(&mut connection, limit).await.map_err(history_error(db))
}

/// The plan `version` ran and the steps it finished: all of an applied run, the recorded
/// ones of a failed run.
async fn stored_run(
    connection: &mut MySqlConnection,
    db: &Mysql,
    version: &str,
) -> Result<(Plan, Progress)> {
    let unknown = || Error::UnknownVersion { version: version.to_owned() };
    if !history::exists(connection).await.map_err(history_error(db))? {
        return Err(unknown());
    }
    let StoredRun { plan: json, status: state } = history::stored_plan(connection, version)
        .await
        .map_err(history_error(db))?
        .ok_or_else(unknown)?;
    if state != RunStatus::Applied && state != RunStatus::Failed {
        return Err(Error::NotRollbackable { version: version.to_owned(), status: state });
    }
    let plan: Plan = serde_json::from_str(&json)
        .map_err(|source| Error::CorruptHistory { version: version.to_owned(), source })?;
    let mut progress = history::progress(connection, version).await.map_err(history_error(db))?;
    if state == RunStatus::Applied {
        progress.done = plan.steps.iter().map(|s| s.number).collect();
    }
    Ok((plan, progress))
}

/// Undoes `version`: the down steps of the steps it finished, newest first, each
/// recorded when done (a rollback stopped half-way goes on where it stopped).
pub(crate) async fn rollback_migration(
    db: &Mysql,
    version: &str,
    options: &MigrateOptions,
    out_of_order: bool,
) -> Result<()> {
    let mut lock = MigrationLock::acquire(db, options.migration_lock_timeout).await?;
    let outcome = async {
        if !out_of_order {
            let newer = history::applied_after(lock.connection(), version)
                .await
                .map_err(history_error(db))?;
            refuse_newer(version, newer)?;
        }
        rollback_locked(db, lock.connection(), version, options).await
    }
    .await;
    lock.release().await;
    outcome
}

/// Undoes `version`, then the failed runs it went on from (`Progress::resumes`), newest
/// first: a run that completed an interrupted change owns all of it. Nothing is undone
/// when a step of any of them cannot be.
async fn rollback_locked(
    db: &Mysql,
    connection: &mut MySqlConnection,
    version: &str,
    options: &MigrateOptions,
) -> Result<()> {
    let runs = resumed_chain(connection, db, version).await?;
    for (_, plan, progress) in &runs {
        for step in still_to_undo(plan, progress) {
            if let Rollback::Irreversible { reason } = &step.down {
                return Err(Error::Irreversible {
                    step: step.number,
                    what: format!("{} · {}", step.table, step.operation.label()),
                    reason: reason.clone(),
                });
            }
        }
    }
    for (run, plan, progress) in runs {
        undo_run(db, connection, &run, &plan, progress, options).await?;
    }
    Ok(())
}

/// `version` and the failed runs it went on from (`Progress::resumes`), newest first, each
/// with its plan and progress: what its rollback undoes.
async fn resumed_chain(
    connection: &mut MySqlConnection,
    db: &Mysql,
    version: &str,
) -> Result<Vec<(String, Plan, Progress)>> {
    let mut runs = Vec::new();
    let mut next = Some(version.to_owned());
    while let Some(run) = next {
        let (plan, progress) = stored_run(connection, db, &run).await?;
        next = progress.resumes.clone();
        runs.push((run, plan, progress));
    }
    Ok(runs)
}

/// The steps of `plan` finished and not yet undone, newest first.
fn still_to_undo<'p>(plan: &'p Plan, progress: &Progress) -> Vec<&'p dataflow_schema::Step> {
    plan.steps
        .iter()
        .rev()
        .filter(|s| progress.done.contains(&s.number) && !progress.undone.contains(&s.number))
        .collect()
}

/// Runs the down steps of what `version` finished, newest first, each recorded when done
/// (a rollback stopped half-way goes on where it stopped), and marks it rolled back.
async fn undo_run(
    db: &Mysql,
    connection: &mut MySqlConnection,
    version: &str,
    plan: &Plan,
    mut progress: Progress,
    options: &MigrateOptions,
) -> Result<()> {
    for step in still_to_undo(plan, &progress) {
        let Rollback::Sql(statements) = &step.down else { continue };
        for statement in statements {
            run_statement(connection, step, statement, &options.apply, options.max_risk)
                .await
                .map_err(|(statement, source)| Error::StepFailed {
                    step: step.number,
                    what: format!("rollback of {} · {}", step.table, step.operation.label()),
                    statement,
                    left: LeftBehind::EarlierSteps { version: version.to_owned() },
                    source,
                })?;
        }
        progress.undone.push(step.number);
        history::set_progress(connection, version, &progress).await.map_err(history_error(db))?;
    }
    history::mark_rolled_back(connection, version).await.map_err(history_error(db))
}

/// Rolls back every applied run newer than `version`, newest first.
pub(crate) async fn rollback_to_version(
    db: &Mysql,
    version: &str,
    options: &MigrateOptions,
) -> Result<Vec<String>> {
    let mut lock = MigrationLock::acquire(db, options.migration_lock_timeout).await?;
    let outcome = async {
        let connection = lock.connection();
        let newer = history::applied_after(connection, version).await.map_err(history_error(db))?;
        for later in &newer {
            rollback_locked(db, connection, later, options).await?;
        }
        Ok(newer)
    }
    .await;
    lock.release().await;
    outcome
}

/// What rolling back `version` would do.
pub(crate) async fn analyze_rollback(db: &Mysql, version: &str) -> Result<RollbackAnalysis> {
    let mut connection = db.dedicated().await?;
    let mut plans: Vec<Plan> = resumed_chain(&mut connection, db, version)
        .await?
        .into_iter()
        .map(|(_, mut plan, progress)| {
            let keep: Vec<usize> =
                still_to_undo(&plan, &progress).iter().map(|s| s.number).collect();
            plan.steps.retain(|s| keep.contains(&s.number));
            plan
        })
        .collect();
    // Never empty: the chain starts with `version` itself (or is an error).
    let newest = plans.remove(0);
    Ok(RollbackAnalysis::of_runs(&newest, &plans))
}

/// Compile-time check: the migrator's futures can run on a multi-threaded runtime.
#[allow(dead_code)]
fn futures_are_send(db: &Mysql, desired: &Schema) {
    fn send<T: Send>(_: T) {}
    send(migrate(db, desired, Scope::Models, MigrateOptions::default()));
    send(rollback_migration(db, "v", &MigrateOptions::default(), false));
}
