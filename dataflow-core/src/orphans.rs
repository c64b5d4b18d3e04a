//! Orphans: tables dataflow created (an applied or baseline history row's plan creates
//! them) that no model names any more. Model mode leaves every table no model names
//! alone; an orphan is reported as such, and dropped (HIGH, kept in the trash) only with
//! `drop_orphans`. The same rule on every database: each history module reads the
//! recorded plans, this module decides.

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

/// The tables the recorded plans (history rows' `plan` JSON) create. A plan that cannot
/// be read names none: an unreadable row never makes a table droppable.
#[cfg(any(feature = "sqlite", feature = "mysql"))]
pub(crate) fn created_in<'a>(plans: impl IntoIterator<Item = &'a str>) -> Vec<QualifiedName> {
    let mut created: Vec<QualifiedName> = Vec::new();
    for plan in plans {
        let Ok(plan) = serde_json::from_str::<serde_json::Value>(plan) else { continue };
        let changes = plan.get("changes").and_then(|c| c.as_array()).into_iter().flatten();
        for change in
            changes.filter(|c| c.get("kind").and_then(|k| k.as_str()) == Some("create_table"))
        {
            let name = change.get("name").cloned().map(serde_json::from_value::<QualifiedName>);
            if let Some(Ok(name)) = name {
                if !created.contains(&name) {
                    created.push(name);
                }
            }
        }
    }
    created
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
        let created = created_in(plans.iter().map(String::as_str));
        assert_eq!(created, ["a", "b", "c"].map(QualifiedName::new));
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
