//! Runs the constraint validator's probes ([`dataflow_schema::dialect::postgres::preflight`])
//! before a plan changes anything: a constraint that existing rows break is reported with
//! the row count and a sample, instead of failing half-way through the plan (or, for a
//! `NOT VALID` constraint, after it was added).

use crate::error::Violation;
use crate::error::{Error, Result};
use dataflow_schema::dialect::postgres::preflight::{probes, Probe};
use dataflow_schema::Plan;

/// Counts, for every constraint `plan` adds to a populated table, the rows that break it.
pub async fn violations(
    connection: &mut sqlx::PgConnection,
    plan: &Plan,
) -> Result<Vec<Violation>> {
    let mut found = Vec::new();
    for probe in probes(plan) {
        let failed = |statement: &str, source| Error::Preflight {
            step: probe.step,
            what: format!("{} · {}", probe.table, probe.constraint),
            statement: statement.to_owned(),
            source,
        };
        let rows: i64 = sqlx::query_scalar(&probe.count_sql)
            .fetch_one(&mut *connection)
            .await
            .map_err(|e| failed(&probe.count_sql, e))?;
        tracing::debug!(
            target: "dataflow::preflight",
            step = probe.step,
            table = %probe.table,
            constraint = %probe.constraint,
            rows,
            "existing rows checked"
        );
        if rows == 0 {
            continue;
        }
        let sample: Vec<String> = sqlx::query_scalar(&probe.sample_sql)
            .fetch_all(&mut *connection)
            .await
            .map_err(|e| failed(&probe.sample_sql, e))?;
        let Probe { step, table, constraint, fix, .. } = probe;
        found.push(Violation { step, table, constraint, rows, sample, fix });
    }
    Ok(found)
}

/// Fails with [`Error::ConstraintViolations`] when existing rows break a new constraint.
pub async fn check(connection: &mut sqlx::PgConnection, plan: &Plan) -> Result<()> {
    let violations = violations(connection, plan).await?;
    if violations.is_empty() {
        Ok(())
    } else {
        Err(Error::ConstraintViolations { violations })
    }
}
