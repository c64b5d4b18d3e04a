//! What a run did: [`MigrationReport`] for `auto_migrate`, [`ApplyReport`] for applying
//! a plan, [`BackfillStats`] per fill, [`RollbackAnalysis`] before undoing a run — the
//! same words for every database.

use dataflow_schema::{Plan, SafetySummary};
use serde::Serialize;

/// What `auto_migrate` did.
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct MigrationReport {
    /// The history version written, when something was applied.
    pub version: Option<String>,
    /// Whether the plan was applied.
    pub applied: bool,
    /// The plan (empty when there was nothing to do).
    pub plan: Plan,
    /// Time spent waiting for the migration lock.
    pub lock_wait_ms: u128,
    /// Lock-timeout retries of steps.
    pub retries: u32,
    /// Per group (transaction) of steps: how long it took.
    pub timings: Vec<GroupTiming>,
    /// Fills run in keyset batches: rows, batches, vacuums, time, where each resumed.
    pub backfills: Vec<BackfillStats>,
    /// Total time.
    pub elapsed_ms: u128,
    /// What the plan could lose and block (the preview's safety summary).
    pub safety: SafetySummary,
}

/// What rolling back a run would do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct RollbackAnalysis {
    /// Every step has down SQL.
    pub fully_reversible: bool,
    /// Values the run changed or deleted that the rollback does not restore.
    pub data_loss_warning: Option<String>,
    /// The steps that cannot be undone, and why.
    pub irreversible_ops: Vec<String>,
    /// The statements the rollback runs, last step's first (shown before a person confirms).
    pub down_sql: Vec<String>,
}

impl RollbackAnalysis {
    /// What rolling back a run that went on from failed ones undoes: `newest`'s steps,
    /// then those of each run in `earlier` (newest first, each plan holding only the steps
    /// it finished).
    pub fn of_runs(newest: &Plan, earlier: &[Plan]) -> RollbackAnalysis {
        let mut all = newest.clone();
        // Oldest first, as `of` undoes the last step first.
        all.steps = earlier.iter().rev().chain([newest]).flat_map(|p| p.steps.clone()).collect();
        RollbackAnalysis::of(&all)
    }

    /// What rolling back `plan` undoes.
    pub fn of(plan: &Plan) -> RollbackAnalysis {
        let irreversible_ops: Vec<String> = plan
            .steps
            .iter()
            .filter_map(|s| match &s.down {
                dataflow_schema::Rollback::Irreversible { reason } => Some(format!(
                    "step {} · {} · {}: {reason}",
                    s.number,
                    s.table,
                    s.operation.label()
                )),
                dataflow_schema::Rollback::Sql(_) => None,
            })
            .collect();
        let lossy: Vec<String> = plan
            .steps
            .iter()
            .filter(|s| s.risk.hazards.contains(&dataflow_schema::Hazard::DeletesData))
            .map(|s| format!("step {} · {} · {}", s.number, s.table, s.operation.label()))
            .collect();
        let down_sql = plan
            .steps
            .iter()
            .rev()
            .flat_map(|s| match &s.down {
                dataflow_schema::Rollback::Sql(statements) => statements.clone(),
                dataflow_schema::Rollback::Irreversible { .. } => Vec::new(),
            })
            .collect();
        RollbackAnalysis {
            down_sql,
            fully_reversible: irreversible_ops.is_empty(),
            data_loss_warning: (!lossy.is_empty()).then(|| {
                format!(
                    "values these steps changed or deleted are not restored: {}",
                    lossy.join(", ")
                )
            }),
            irreversible_ops,
        }
    }
}

/// What applying did.
#[derive(Debug, Clone, serde::Serialize)]
#[non_exhaustive]
pub struct ApplyReport {
    /// Steps applied.
    pub steps: usize,
    /// Groups (transactions) committed.
    pub groups: usize,
    /// Lock-timeout retries that were needed.
    pub retries: u32,
    /// Wall-clock time.
    pub elapsed_ms: u128,
    /// Per group (transaction): its steps and how long it took, retries included.
    pub timings: Vec<GroupTiming>,
    /// Every fill run in keyset batches.
    pub backfills: Vec<BackfillStats>,
}

/// How long one group of steps took.
#[derive(Debug, Clone, serde::Serialize)]
#[non_exhaustive]
pub struct GroupTiming {
    /// The group number.
    pub group: usize,
    /// Its step numbers.
    pub steps: Vec<usize>,
    /// Milliseconds, lock-timeout retries included.
    pub ms: u128,
}

/// What a fill did.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[non_exhaustive]
pub struct BackfillStats {
    /// The plan step it belongs to.
    pub step: usize,
    /// The table filled.
    pub table: String,
    /// Rows walked (this run).
    pub rows: u64,
    /// Rows changed (this run).
    pub changed: u64,
    /// Batches committed (this run).
    pub batches: u64,
    /// `VACUUM`s run.
    pub vacuums: u64,
    /// Wall-clock milliseconds.
    pub ms: u64,
    /// Where it resumed from, when an earlier run had been stopped part-way.
    pub resumed_after: Option<Vec<String>>,
}

impl BackfillStats {
    /// Average milliseconds per batch.
    pub fn average_batch_ms(&self) -> f64 {
        if self.batches == 0 {
            0.0
        } else {
            self.ms as f64 / self.batches as f64
        }
    }
}
