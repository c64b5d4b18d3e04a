//! A plan turned around, for rollbacks on every dialect.

use crate::error::{Error, Result};
use dataflow_schema::{Plan, Rollback};

/// `plan` turned around: every step's down statements, last step first.
pub fn reversed(plan: &Plan) -> Result<Plan> {
    if let Some(step) = plan.steps.iter().find(|s| matches!(s.down, Rollback::Irreversible { .. }))
    {
        let Rollback::Irreversible { reason } = &step.down else { unreachable!() };
        return Err(Error::Irreversible {
            step: step.number,
            what: format!("{} · {}", step.table, step.operation.label()),
            reason: reason.clone(),
        });
    }
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
