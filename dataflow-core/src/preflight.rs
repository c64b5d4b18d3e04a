//! Runs the constraint validator's probes ([`dataflow_schema::dialect::postgres::preflight`])
//! before a plan changes anything: a constraint that existing rows break is reported with
//! the row count and a sample, instead of failing half-way through the plan (or, for a
//! `NOT VALID` constraint, after it was added).

use crate::error::{Error, Result};
use dataflow_schema::dialect::postgres::preflight::{probes, Probe};
use dataflow_schema::Plan;
use serde::Serialize;

/// A constraint existing rows break.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Violation {
    /// The plan step that adds it.
    pub step: usize,
    /// The table.
    pub table: String,
    /// The constraint, e.g. `CHECK events_amount_check (amount >= 0)`.
    pub constraint: String,
    /// How many rows break it.
    pub rows: i64,
    /// Some of them (or their values).
    pub sample: Vec<String>,
    /// What to do about it.
    pub fix: String,
}

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

/// The message of [`Error::ConstraintViolations`].
pub(crate) fn describe(violations: &[Violation]) -> String {
    let mut text =
        String::from("existing rows break constraints the plan adds; nothing was changed:");
    for v in violations {
        text.push_str(&format!(
            "\n  step {} · {} · {}: {} row(s), e.g. {}\n    fix: {}",
            v.step,
            v.table,
            v.constraint,
            v.rows,
            v.sample.join(", "),
            v.fix
        ));
    }
    text
}
