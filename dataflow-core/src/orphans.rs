//! Orphans: tables dataflow created (an applied or baseline history row's plan creates
//! them) that no model names any more. Model mode leaves every table no model names
//! alone; an orphan is reported as such, and dropped (HIGH, kept in the trash) only with
//! `drop_orphans`. The same rule on every database: each history module reads the
//! recorded plans, this module decides.
//!
//! Orphans are a model set's own: each model-mode run records the tables its models
//! named (`model_tables`), and a table counts as created by this model set only when the
//! run that created it shared a table with it — so two applications with their own
//! models on one database never see each other's tables as orphans (nor drop them).
//! Runs recorded before `model_tables` existed belong to every model set.

use crate::error::Result;
use crate::options::MigrateOptions;
use dataflow_schema::{plan_offline, scope_to_models, Dialect, Plan, QualifiedName, Schema};

/// Model mode's plan: to the models, from the tables they own plus, with `drop_orphans`,
/// the orphans; warnings about every table left alone. `created`: the tables history
/// says dataflow created.
pub(crate) fn plan_models(
    current: &Schema,
    desired: &Schema,
    created: &[QualifiedName],
    dialect: Dialect,
    options: &MigrateOptions,
) -> Result<Plan> {
    dataflow_schema::check_referenced_tables(current, desired)?;
    let (scoped, warnings) = scope_with_orphans(current, desired, created, options.drop_orphans);
    let mut plan = plan_offline(&scoped, desired, dialect, &options.plan)?;
    plan.warnings.extend(warnings);
    Ok(plan)
}

/// The part of `current` the models own plus, with `drop_orphans`, the orphans (so the
/// plan drops them), and the warnings about the rest.
fn scope_with_orphans(
    current: &Schema,
    desired: &Schema,
    created: &[QualifiedName],
    drop_orphans: bool,
) -> (Schema, Vec<String>) {
    let (mut scoped, mut warnings) = scope_to_models(current, desired);
    for table in current.tables.iter().filter(|t| created.contains(&t.name)) {
        if scoped.table(&table.name).is_some() {
            continue;
        }
        warnings.retain(|w| !w.starts_with(&format!("table {} ", table.name)));
        if drop_orphans {
            scoped.tables.push(table.clone());
        } else {
            warnings.push(format!(
                "table {} is orphaned (dataflow created it, no model names it): left alone; \
                 drop_orphans drops it (HIGH, kept in the trash)",
                table.name
            ));
        }
    }
    scoped.canonicalize();
    (scoped, warnings)
}

/// The key under which a model-mode run records the tables its models named.
const MODEL_TABLES: &str = "model_tables";

/// What one applied (or baseline) run created, and the model set it ran for.
#[derive(Debug, Clone, PartialEq)]
pub struct Created {
    /// The tables it created.
    pub tables: Vec<QualifiedName>,
    /// The tables its models named; `None` for a run recorded before dataflow kept them,
    /// or a DB-vs-DB run.
    pub models: Option<Vec<QualifiedName>>,
}

impl Created {
    /// From the JSON of the run's created table names and of its `model_tables`.
    #[cfg(feature = "postgres")]
    pub(crate) fn from_json(tables: Option<&str>, models: Option<&str>) -> Created {
        Created {
            tables: tables.and_then(|t| serde_json::from_str(t).ok()).unwrap_or_default(),
            models: models.and_then(|m| serde_json::from_str(m).ok()),
        }
    }
}

/// `plan_json` with the tables `desired`'s models name under `model_tables`.
pub(crate) fn with_model_tables(plan_json: &str, desired: &Schema) -> String {
    let names: Vec<&QualifiedName> = desired.tables.iter().map(|t| &t.name).collect();
    crate::history::with_key(plan_json, MODEL_TABLES, serde_json::json!(names))
}

/// The tables this model set created: those of the runs that shared a table with
/// `desired` (by name or `renamed_from`), or that recorded no model set.
pub(crate) fn created_by(runs: &[Created], desired: &Schema) -> Vec<QualifiedName> {
    let ours = |name: &QualifiedName| {
        desired.tables.iter().any(|t| &t.name == name || t.renamed_from.contains(name))
    };
    let mut created: Vec<QualifiedName> = Vec::new();
    for run in runs {
        if let Some(models) = &run.models {
            if !models.iter().any(ours) {
                continue;
            }
        }
        for table in &run.tables {
            if !created.contains(table) {
                created.push(table.clone());
            }
        }
    }
    created
}

/// What each recorded plan (history rows' `plan` JSON) created, with its model set. A
/// plan that cannot be read created nothing: an unreadable row never makes a table
/// droppable.
#[cfg(any(feature = "sqlite", feature = "mysql"))]
pub(crate) fn created_in<'a>(plans: impl IntoIterator<Item = &'a str>) -> Vec<Created> {
    let mut runs = Vec::new();
    for plan in plans {
        let Ok(plan) = serde_json::from_str::<serde_json::Value>(plan) else { continue };
        let changes = plan.get("changes").and_then(|c| c.as_array()).into_iter().flatten();
        let tables = changes
            .filter(|c| c.get("kind").and_then(|k| k.as_str()) == Some("create_table"))
            .filter_map(|c| c.get("name").cloned())
            .filter_map(|name| serde_json::from_value::<QualifiedName>(name).ok())
            .collect();
        let models = plan.get(MODEL_TABLES).and_then(|m| serde_json::from_value(m.clone()).ok());
        runs.push(Created { tables, models });
    }
    runs
}

#[cfg(test)]
mod tests {
    use super::*;
    use dataflow_schema::{Change, Column, ColumnType, Table};

    fn table(name: &str) -> Table {
        let mut table = Table::new(QualifiedName::new(name));
        table.columns.push(Column::new("id", ColumnType::BigInt));
        table
    }

    fn recorded(tables: &[&str]) -> String {
        let changes: Vec<Change> = tables.iter().map(|t| Change::CreateTable(table(t))).collect();
        serde_json::json!({ "changes": changes, "steps": [] }).to_string()
    }

    #[test]
    fn created_tables_are_read_from_recorded_plans_and_garbage_names_none() {
        let plans = [recorded(&["a", "b"]), "not json".to_owned(), recorded(&["b", "c"])];
        let runs = created_in(plans.iter().map(String::as_str));
        let desired = Schema { tables: vec![table("z")], ..Schema::default() };
        assert_eq!(created_by(&runs, &desired), ["a", "b", "c"].map(QualifiedName::new));
    }

    /// Two model sets on one database: each one's created tables are its own.
    #[test]
    fn a_model_set_owns_the_tables_its_own_runs_created() {
        let billing = Schema { tables: vec![table("invoices")], ..Schema::default() };
        let shop = Schema { tables: vec![table("orders")], ..Schema::default() };
        let runs: Vec<Created> = [
            with_model_tables(&recorded(&["invoices", "ledger"]), &{
                let mut s = billing.clone();
                s.tables.push(table("ledger"));
                s
            }),
            with_model_tables(&recorded(&["orders", "carts"]), &{
                let mut s = shop.clone();
                s.tables.push(table("carts"));
                s
            }),
            recorded(&["legacy"]),
        ]
        .iter()
        .flat_map(|plan| created_in([plan.as_str()]))
        .collect();
        let names = |tables: Vec<QualifiedName>| -> Vec<String> {
            tables.iter().map(|t| t.to_string()).collect()
        };
        // `ledger` left billing's models: billing's orphan, never shop's; a run recorded
        // without a model set belongs to both.
        assert_eq!(names(created_by(&runs, &billing)), ["invoices", "ledger", "legacy"]);
        assert_eq!(names(created_by(&runs, &shop)), ["orders", "carts", "legacy"]);
    }

    #[test]
    fn an_orphan_is_reported_and_dropped_only_when_asked() {
        let current = Schema {
            tables: vec![table("kept"), table("mine"), table("theirs")],
            ..Schema::default()
        };
        let desired = Schema { tables: vec![table("kept")], ..Schema::default() };
        let created = [QualifiedName::new("kept"), QualifiedName::new("mine")];

        let (scoped, warnings) = scope_with_orphans(&current, &desired, &created, false);
        let names: Vec<String> = scoped.tables.iter().map(|t| t.name.to_string()).collect();
        assert_eq!(names, ["kept"]);
        assert!(warnings.iter().any(|w| w.starts_with("table mine is orphaned")), "{warnings:?}");
        assert!(warnings.iter().any(|w| w.contains("table theirs is not named")), "{warnings:?}");

        let (scoped, warnings) = scope_with_orphans(&current, &desired, &created, true);
        let names: Vec<String> = scoped.tables.iter().map(|t| t.name.to_string()).collect();
        assert_eq!(names, ["kept", "mine"], "the orphan is in scope, so the plan drops it");
        assert!(!warnings.iter().any(|w| w.contains("mine")), "{warnings:?}");
    }
}
