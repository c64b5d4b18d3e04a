//! A plan turned around, for rollbacks on every dialect.

use crate::error::{Error, Result};
use dataflow_schema::{Plan, Rollback};

/// `plan` turned around: every step's down statements, last step first.
#[cfg(any(feature = "postgres", feature = "sqlite"))]
pub fn reversed(plan: &Plan) -> Result<Plan> {
    refuse_irreversible(plan)?;
    Ok(Plan {
        steps: plan
            .steps
            .iter()
            .rev()
            .map(|step| {
                let mut down = step.clone();
                down.up = match &step.down {
                    Rollback::Sql(statements) => statements.clone(),
                    Rollback::Irreversible { .. } => Vec::new(),
                };
                // The batches belong to the way up; the way down runs its statements.
                down.batched = None;
                down
            })
            .collect(),
        ..plan.clone()
    })
}

/// Refuses, naming it, the first step of `plan` that cannot be undone.
pub(crate) fn refuse_irreversible(plan: &Plan) -> Result<()> {
    for step in &plan.steps {
        if let Rollback::Irreversible { reason } = &step.down {
            return Err(Error::Irreversible {
                step: step.number,
                what: format!("{} · {}", step.table, step.operation.label()),
                reason: reason.clone(),
            });
        }
    }
    Ok(())
}
