//! Undoing runs, for every database: a rollback (one run, or every run newer than a
//! version), what a rollback would do, and the purge of old runs' kept data.
//!
//! A run that went on from a failed one towards the same target owns the whole change:
//! its rollback undoes its own steps, then the failed run's finished steps, newest first
//! (`chain`). Nothing is undone when any step of the chain cannot be.

use crate::connector::contract::Connector;
use crate::error::{Error, Result};
use crate::history::RunStatus;
use crate::options::{ApplyOptions, MigrateOptions};
use crate::policy::refuse_newer;
use crate::report::RollbackAnalysis;
use dataflow_schema::Plan;
use std::time::Duration;

/// How long a rollback or a purge waits for the migration lock.
const LOCK_WAIT: Duration = Duration::from_secs(15 * 60);

/// Undoes `version` with its recorded down steps (under the migration lock); refuses
/// while newer applied runs build on it unless `out_of_order`.
pub(crate) async fn rollback_migration<C: Connector>(
    db: &C,
    version: &str,
    out_of_order: bool,
) -> Result<()> {
    let options = MigrateOptions::default();
    let mut lock = db.lock(LOCK_WAIT, &ApplyOptions::default()).await?;
    let outcome = async {
        if !out_of_order {
            let newer = db.applied_after(C::locked(&mut lock), version).await?;
            refuse_newer(version, newer)?;
        }
        rollback_locked(db, &mut lock, version, &options).await
    }
    .await;
    finish(db, lock, outcome).await
}

/// Rolls back every applied run newer than `version`, newest first.
pub(crate) async fn rollback_to_version<C: Connector>(
    db: &C,
    version: &str,
) -> Result<Vec<String>> {
    let options = MigrateOptions::default();
    let mut lock = db.lock(LOCK_WAIT, &ApplyOptions::default()).await?;
    let outcome = async {
        let newer = db.applied_after(C::locked(&mut lock), version).await?;
        for later in &newer {
            rollback_locked(db, &mut lock, later, &options).await?;
        }
        Ok(newer)
    }
    .await;
    finish(db, lock, outcome).await
}

/// Keeps what was done under the lock when `outcome` is a success (SQLite commits),
/// gives it up otherwise; returns `outcome`.
async fn finish<C: Connector, T>(db: &C, lock: C::Lock, outcome: Result<T>) -> Result<T> {
    match outcome {
        Ok(value) => {
            db.unlock(lock, true).await?;
            Ok(value)
        }
        Err(error) => {
            let _ = db.unlock(lock, false).await;
            Err(error)
        }
    }
}

/// Under the lock: undoes `version` and the failed runs it went on from, marking each.
async fn rollback_locked<C: Connector>(
    db: &C,
    lock: &mut C::Lock,
    version: &str,
    options: &MigrateOptions,
) -> Result<()> {
    let runs = chain(db, C::locked(lock), version).await?;
    // All or nothing: refused before any step when a step of the chain cannot be undone.
    for (_, plan) in &runs {
        crate::reverse::refuse_irreversible(plan)?;
    }
    for (run, plan) in runs {
        db.undo(lock, &run, &plan, options).await?;
        db.mark_rolled_back(C::locked(lock), &run).await?;
    }
    Ok(())
}

/// `version` and the failed runs it went on from, newest first, each with its plan cut
/// to the steps still to undo: what its rollback undoes. Refuses a run that cannot be
/// rolled back, or whose kept data was purged.
async fn chain<C: Connector>(
    db: &C,
    conn: &mut C::Conn,
    version: &str,
) -> Result<Vec<(String, Plan)>> {
    let mut runs = Vec::new();
    let mut next = Some(version.to_owned());
    while let Some(run) = next {
        let (status, plan) = stored_plan(db, conn, &run).await?;
        // The newest run must be one a rollback applies to; the runs it went on from
        // are failed by definition.
        let undoable = status == RunStatus::Applied
            || (status == RunStatus::Failed && (C::UNDOES_FAILED_RUNS || run != version));
        if !undoable {
            return Err(Error::NotRollbackable { version: run, status });
        }
        // Its kept data is gone: the chain cannot be undone with it (refused before any
        // step, and before a rollback shows what it would run).
        if db.purged(conn, &run).await? {
            let purged = (run != version).then(|| run.clone());
            return Err(Error::Purged { version: version.to_owned(), purged });
        }
        let (plan, resumes) = db.still_to_undo(conn, &run, status, plan).await?;
        next = resumes;
        runs.push((run, plan));
    }
    Ok(runs)
}

/// The recorded status and plan of `version`.
async fn stored_plan<C: Connector>(
    db: &C,
    conn: &mut C::Conn,
    version: &str,
) -> Result<(RunStatus, Plan)> {
    let run = db
        .stored_run(conn, version)
        .await?
        .ok_or_else(|| Error::UnknownVersion { version: version.to_owned() })?;
    if run.plan.starts_with("{\"explicit\"") {
        return Err(Error::ExplicitPlan { version: version.to_owned() });
    }
    let plan = serde_json::from_str(&run.plan)
        .map_err(|source| Error::CorruptHistory { version: version.to_owned(), source })?;
    Ok((run.status, plan))
}

/// What rolling back `version` would do: whether every step can be undone, and which
/// cannot — over the whole chain it would undo.
pub(crate) async fn analyze_rollback<C: Connector>(
    db: &C,
    version: &str,
) -> Result<RollbackAnalysis> {
    let mut reader = db.reader().await?;
    let mut plans: Vec<Plan> =
        chain(db, C::read_with(&mut reader), version).await?.into_iter().map(|(_, p)| p).collect();
    // Never empty: the chain starts with `version` itself (or is an error).
    let newest = plans.remove(0);
    Ok(RollbackAnalysis::of_runs(&newest, &plans))
}

/// Drops the trash tables, column backups and kept types of runs started longer than
/// `older_than` ago (under the lock) and returns their names. Those runs can no longer
/// be rolled back with their data, so their rollback is refused from then on.
pub(crate) async fn purge<C: Connector>(db: &C, older_than: Duration) -> Result<Vec<String>> {
    let mut lock = db.lock(LOCK_WAIT, &ApplyOptions::default()).await?;
    let outcome = purge_locked(db, C::locked(&mut lock), older_than).await;
    finish(db, lock, outcome).await
}

async fn purge_locked<C: Connector>(
    db: &C,
    conn: &mut C::Conn,
    older_than: Duration,
) -> Result<Vec<String>> {
    if !db.has_history(conn).await? {
        return Ok(Vec::new());
    }
    let seconds = i64::try_from(older_than.as_secs()).unwrap_or(i64::MAX);
    let old = db.older_than(conn, seconds).await?;
    let all = db.versions(conn).await?;
    let kept = db.kept(conn).await?;
    let mut dropped = Vec::new();
    for version in old {
        let mut names = Vec::new();
        for object in kept.iter().filter(|k| crate::history::owner(&k.name, &all) == Some(&version))
        {
            if db.drop_kept(conn, object).await? {
                names.push(object.shown.clone());
            }
        }
        if names.is_empty() {
            continue;
        }
        db.mark_purged(conn, &version, &names).await?;
        dropped.extend(names);
    }
    Ok(dropped)
}
