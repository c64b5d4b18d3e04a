//! What every database's migrator decides the same way: which steps it may run (the
//! risk policy, the table and operation filters), what a first run on an existing
//! database adopts (the baseline row), and how the preview is shown.

use crate::error::{Error, Result};
use crate::options::MigrateOptions;
use dataflow_schema::{Plan, RiskLevel, Schema};

/// Refuses a plan with steps above `max_risk` (CORRECTNESS counts as HIGH), listing them.
pub(crate) fn check_risk(plan: &Plan, max_risk: RiskLevel) -> Result<()> {
    let above: Vec<&dataflow_schema::Step> =
        plan.steps.iter().filter(|s| s.policy_level() > max_risk).collect();
    let Some(needed) = above.iter().map(|s| s.policy_level()).max() else { return Ok(()) };
    let steps = above
        .iter()
        .map(|s| {
            let level = s.policy_level();
            let why = s.risk.reasons.first().map(|r| format!(": {r}")).unwrap_or_default();
            format!("step {} · {} · {} · {level}{why}", s.number, s.table, s.operation.label())
        })
        .collect();
    Err(Error::RiskRefused { max_risk, needed, steps })
}

/// Keeps the steps `include_tables` and `exclude_operations` allow.
pub(crate) fn retain_selected(plan: &mut Plan, options: &MigrateOptions) {
    if !options.include_tables.is_empty() || !options.exclude_operations.is_empty() {
        let included = |table: &str| {
            options.include_tables.is_empty()
                || options
                    .include_tables
                    .iter()
                    .any(|t| t == table || table.rsplit('.').next() == Some(t))
        };
        plan.retain(|step| {
            included(&step.table) && !options.exclude_operations.contains(&step.operation)
        });
    }
}

/// The history row that adopts the models' tables a database already holds.
pub(crate) struct Baseline {
    /// Checksum of the adopted tables.
    pub checksum: String,
    /// `adopted existing tables: …`.
    pub description: String,
    /// The row's plan: the adopted tables as created, so they can become orphans later.
    pub record: String,
}

impl Baseline {
    /// `None` when none of the models' tables exists yet.
    pub fn of(current: &Schema, desired: &Schema) -> Option<Baseline> {
        let (owned, _) = dataflow_schema::scope_to_models(current, desired);
        if owned.tables.is_empty() {
            return None;
        }
        let names: Vec<String> = owned.tables.iter().map(|t| t.name.to_string()).collect();
        let changes: Vec<dataflow_schema::Change> =
            owned.tables.iter().cloned().map(dataflow_schema::Change::CreateTable).collect();
        Some(Baseline {
            checksum: dataflow_schema::schema_checksum(&owned),
            description: format!("adopted existing tables: {}", names.join(", ")),
            record: crate::orphans::with_model_tables(
                &serde_json::json!({ "changes": changes, "steps": [] }).to_string(),
                desired,
            ),
        })
    }
}

/// The preview on stderr, as wide and colourful as the terminal allows.
pub(crate) fn print_preview(plan: &Plan, options: &MigrateOptions) {
    crate::terminal::print_preview(plan, options.show_sql, options.show_rollback_plan);
}

/// Refuses to undo `version` alone while `newer` applied runs (newest first) build on it.
pub(crate) fn refuse_newer(version: &str, newer: Vec<String>) -> Result<()> {
    if newer.is_empty() {
        return Ok(());
    }
    Err(Error::NewerApplied { version: version.to_owned(), newer })
}
