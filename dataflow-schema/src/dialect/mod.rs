//! SQL dialects. Only renderers produce SQL text (invariant 2): every identifier goes
//! through the dialect's quoting function, every literal through its literal function.

pub mod mysql;
pub mod postgres;
mod rules;
pub mod sqlite;

pub(crate) use rules::is_small;
pub use rules::{CatalogLimits, SqlDialect};

/// What a data-keeping rewrite of a drop gives: up SQL, down SQL, the reason shown.
pub(crate) type Kept = (Vec<String>, Vec<String>, String);

/// Rewrites the plan's drops to keep their data (invariant 6, ARCHITECTURE.md), each dialect
/// saying how through `keep` (given the change and its step; `None` leaves it): the step
/// gets the new up and down SQL, loses `DELETES_DATA` and says where the data is kept.
pub(crate) fn keep_drops(
    plan: &mut crate::plan::Plan,
    keep: impl Fn(&crate::change::Change, &crate::plan::Step) -> Option<Kept>,
) {
    for step in &mut plan.steps {
        let Some(change) = plan.changes.get(step.change) else { continue };
        if let Some((up, down, reason)) = keep(change, step) {
            step.up = up;
            step.down = crate::plan::Rollback::Sql(down);
            step.risk.hazards.retain(|h| *h != crate::risk::Hazard::DeletesData);
            step.risk.reasons.push(reason);
        }
    }
    plan.refresh_checksum();
}

pub use crate::dialects::Dialect;

/// Rates one change for `dialect`, given the size of the table it works on (`None` =
/// unknown, treated as large; a table created in the same plan has 0 rows).
pub fn assess(
    change: &crate::change::Change,
    stats: Option<crate::model::TableStats>,
    dialect: Dialect,
) -> crate::risk::Assessment {
    dialect.rules().assess(change, stats)
}
