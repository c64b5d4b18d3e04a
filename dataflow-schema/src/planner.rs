//! The planner: from a current and a desired schema to an ordered, rated, reversible
//! [`Plan`] — shape for the database, validate, diff, merge rebuilds, online recipes,
//! render, rate and group each change, asking the dialect's rules (`Dialect::rules`)
//! wherever databases differ.

use crate::change::{Change, Phase};
use crate::checksum::{canonical_json, schema_checksum, sha256_hex};
use crate::dialect::{is_small, Dialect, SqlDialect};
use crate::diff::diff;
use crate::error::PlanError;
use crate::model::{Backfill, Column, QualifiedName, Schema, TableStats};
use crate::plan::{steps_fingerprint, LockLevel, Plan, PlanOptions, Step};
use crate::risk::{Assessment, Hazard, RiskLevel};
use crate::validate::validate_schema;

/// Plans the migration from `current` to `desired` without a database.
///
/// `current` is usually a `schema.json` snapshot (with row estimates); without estimates
/// tables are treated as large. The result is deterministic: equal inputs give
/// byte-identical plans.
pub fn plan_offline(
    current: &Schema,
    desired: &Schema,
    dialect: Dialect,
    options: &PlanOptions,
) -> Result<Plan, PlanError> {
    let rules = dialect.rules();
    // SQLite and MySQL first give the schema the form they can hold (and say what they
    // cannot keep).
    let (shaped, mut shape_warnings) = match rules.shape(desired)? {
        Some((shaped, warnings)) => (Some(shaped), warnings),
        None => (None, Vec::new()),
    };
    let desired = shaped.as_ref().unwrap_or(desired);
    validate_schema(desired, dialect)?;
    // `public.users` and `users` are the same table; clone only when a side spells it.
    let (current_owned, desired_owned) = (rules.unqualified(current), rules.unqualified(desired));
    let current = current_owned.as_ref().unwrap_or(current);
    let desired = desired_owned.as_ref().unwrap_or(desired);
    let mut changes = diff(current, desired);
    // Changes one statement covers are merged into it (SQLite's table rebuilds, MySQL's
    // whole-column MODIFY): each is checked before it is merged.
    for change in &changes {
        check_fillable(change, stats_for(change, current, desired))?;
    }
    changes = rules.coalesce(current, desired, changes);
    let created: Vec<QualifiedName> = changes
        .iter()
        .filter(|c| matches!(c, Change::CreateTable(_)))
        .map(|c| c.subject().clone())
        .collect();
    let creates: Vec<&QualifiedName> = created.iter().collect();
    // Populated tables get the online recipes (see `postgres::online`).
    let populated = |change: &Change| {
        !creates.contains(&change.subject())
            && !is_small(stats_for(change, current, desired), options)
    };
    changes = rules.online(changes, &|table: &QualifiedName| {
        !created.contains(table) && !is_small(current.table(table).and_then(|t| t.stats), options)
    });
    // A type swap re-creates what uses the column as it is when the swap runs (after the
    // plan's earlier drops and default changes), so the schema is followed step by step.
    let mut running: Option<Schema> =
        rules.follows_the_running_schema(&changes).then(|| current.clone());
    let mut steps = Vec::with_capacity(changes.len());
    let mut group = 0;
    let mut last_group_key: Option<(Phase, &QualifiedName)> = None;
    for (index, change) in changes.iter().enumerate() {
        let stats = stats_for(change, current, desired);
        check_fillable(change, stats)?;
        // Not every change has an online form (a deferrable unique constraint has none).
        let online = if populated(change) {
            rules.concurrent(change, running.as_ref().unwrap_or(current))
        } else {
            None
        };
        if let Some(state) = &mut running {
            // Best effort: a change that does not fit leaves the state as it was.
            let _ = crate::apply::apply_change(state, change);
        }
        let concurrent = online.is_some();
        let rendered = match online {
            Some(online) => online,
            None => rules.render(change, current, desired),
        };
        let mut risk = rules.rate_online(change, concurrent, rules.assess(change, stats));
        // A statement that makes the changes it carries is as risky as the worst of them.
        for carried in carried(change) {
            risk = risk.combined(rules.assess(carried, stats));
        }
        if creates.contains(&change.subject()) && !matches!(change, Change::CreateTable(_)) {
            risk = on_new_table(risk);
        }
        // A step that scans without blocking (CONCURRENTLY, VALIDATE) runs on its own,
        // never inside a transaction holding the table's instant locks.
        // Where DDL commits itself (MySQL), every step is its own group, recorded when done.
        let alone = concurrent
            || !rules.transactional_ddl()
            || matches!(change, Change::ValidateConstraint { .. });
        let key = (change.phase(), change.subject());
        if alone || last_group_key != Some(key) {
            group += 1;
            last_group_key = if alone { None } else { Some(key) };
        }
        steps.push(Step {
            number: index + 1,
            group,
            change: index,
            table: change.subject().to_string(),
            operation: change.operation(),
            details: std::iter::once(change)
                .chain(carried(change))
                .map(|c| details(c, rules))
                .collect::<Vec<_>>()
                .join("; "),
            shown_level: risk.shown_level(options),
            transactional: !concurrent && rules.transactional_ddl(),
            lock: if concurrent { LockLevel::ShareUpdateExclusive } else { lock_of(change, &risk) },
            instant_lock: if concurrent { rules.instant_lock(change) } else { None },
            // CONCURRENTLY builds and VALIDATE scans take as long as the table needs and
            // block neither reads nor writes: no timeout (one would cancel them half-way).
            statement_timeout_ms: if concurrent
                || matches!(change, Change::ValidateConstraint { .. })
            {
                0
            } else {
                risk.estimated_ms.map_or(30_000, |ms| ms.saturating_mul(3).max(30_000))
            },
            batched: if concurrent {
                rules.batched(change, &rendered.up, current.table(change.subject()))
            } else {
                None
            },
            risk,
            up: rendered.up,
            down: rendered.down,
        });
    }
    let plan_checksum = sha256_hex(&canonical_json(&steps_fingerprint(&steps)));
    Ok(Plan {
        dialect,
        from_checksum: schema_checksum(current),
        to_checksum: schema_checksum(desired),
        plan_checksum,
        warnings: {
            let mut all = warnings(desired);
            all.append(&mut shape_warnings);
            all
        },
        changes,
        steps,
    })
}

/// Model mode: the part of `current` the models own, and warnings about the rest.
///
/// The engine alters or drops only tables a model names (by name or `renamed_from`),
/// and drops only enum types and sequences a model names; everything else in the
/// database is reported and left alone. DB-vs-DB mode does not
/// use this: there the target describes the whole namespace.
pub fn scope_to_models(current: &Schema, desired: &Schema) -> (Schema, Vec<String>) {
    let owned: std::collections::BTreeSet<&QualifiedName> = desired
        .tables
        .iter()
        .flat_map(|t| std::iter::once(&t.name).chain(&t.renamed_from))
        .collect();
    let named = |name: &QualifiedName| owned.contains(name);
    let mut scoped = current.clone();
    let mut warnings = Vec::new();
    scoped.tables.retain(|table| {
        let keep = named(&table.name);
        if !keep {
            warnings.push(format!("table {} is not named by any model: left alone", table.name));
        }
        keep
    });
    scoped.enums.retain(|e| desired.enum_type(&e.name).is_some());
    scoped.sequences.retain(|s| desired.sequences.iter().any(|d| d.name == s.name));
    (scoped, warnings)
}

/// Model mode: every foreign key must reference a table a model names or the database
/// has — otherwise the plan would create the table and then fail at the key (PostgreSQL),
/// or leave a key to nothing (SQLite). Refused before anything runs.
pub fn check_referenced_tables(current: &Schema, desired: &Schema) -> Result<(), PlanError> {
    // `users` and `public.users` are the same table.
    let same = |a: &QualifiedName, b: &QualifiedName| {
        let namespace = |n: &QualifiedName| n.schema.clone().filter(|s| s != "public");
        a.name == b.name && namespace(a) == namespace(b)
    };
    let known = |target: &QualifiedName| {
        desired.tables.iter().chain(&current.tables).any(|t| same(&t.name, target))
    };
    for table in &desired.tables {
        if let Some(fk) = table.foreign_keys.iter().find(|fk| !known(&fk.ref_table)) {
            return Err(PlanError::UnknownReferencedTable {
                table: table.name.to_string(),
                constraint: fk.name.clone(),
                target: fk.ref_table.to_string(),
            });
        }
    }
    Ok(())
}

/// Plans the migration from a live or snapshot schema to a set of models: like
/// [`plan_offline`], restricted to what the models own (see [`scope_to_models`]).
pub fn plan_models(
    current: &Schema,
    desired: &Schema,
    dialect: Dialect,
    options: &PlanOptions,
) -> Result<Plan, PlanError> {
    check_referenced_tables(current, desired)?;
    let (owned, warnings) = scope_to_models(current, desired);
    let mut plan = plan_offline(&owned, desired, dialect, options)?;
    plan.warnings.extend(warnings);
    Ok(plan)
}

/// A table this plan creates is empty when its indexes and keys are added: what would
/// scan or block on a populated table is SAFE here, and cannot fail on data.
/// The changes `change`'s statement also makes (see `Change::AlterColumnType::also`).
fn carried(change: &Change) -> &[Change] {
    match change {
        Change::AlterColumnType { also, .. } => also,
        _ => &[],
    }
}

fn on_new_table(mut risk: Assessment) -> Assessment {
    if risk.level == RiskLevel::Medium && (risk.lock_bound || risk.can_fail_on_data) {
        risk.level = RiskLevel::Safe;
        risk.lock_bound = false;
        risk.can_fail_on_data = false;
        // What the statement would do to a populated table (scan it, block writes) does
        // not happen here: those reasons and the performance hazard would contradict this.
        risk.reasons =
            vec!["the table is created empty by this plan: nothing to scan; its locks (and a \
                  referenced table's) are taken for an instant"
                .into()];
        risk.hazards.retain(|h| *h != crate::risk::Hazard::ImpactsDatabasePerformance);
    }
    risk
}

/// The size of the table a change works on: 0 rows for a table the plan creates,
/// the current table's estimate otherwise (looked up under its old name after a rename).
fn stats_for(change: &Change, current: &Schema, desired: &Schema) -> Option<TableStats> {
    let empty = Some(TableStats { rows: Some(0), bytes: Some(0) });
    match change {
        Change::CreateTable(_) => return empty,
        Change::CreateNamespace { .. }
        | Change::CreateEnum(_)
        | Change::AlterEnum { .. }
        | Change::DropEnum(_)
        | Change::CreateSequence(_)
        | Change::AlterSequence { .. }
        | Change::DropSequence(_) => return None,
        _ => {}
    }
    let name = change.subject();
    if let Some(table) = current.table(name) {
        return table.stats;
    }
    let desired_table = desired.table(name)?;
    match desired_table.renamed_from.iter().find_map(|old| current.table(old)) {
        Some(old) => old.stats,
        None => empty,
    }
}

/// A NOT NULL column without any value for existing rows cannot be added to a table the
/// statistics say is populated: refuse before anything runs.
fn check_fillable(change: &Change, stats: Option<TableStats>) -> Result<(), PlanError> {
    let populated = stats.and_then(|s| s.rows).filter(|rows| *rows > 0);
    match change {
        Change::AddColumn { table, column, .. } => {
            let no_value = !column.nullable
                && column.default.is_none()
                && column.backfill.is_none()
                && column.identity.is_none();
            if let (true, Some(rows)) = (no_value, populated) {
                return Err(PlanError::NotNullWithoutValue {
                    table: table.clone(),
                    column: column.name.clone(),
                    rows,
                });
            }
            check_sequence_backfill(table, column, change)
        }
        Change::SetNotNull { table, column, .. } => check_sequence_backfill(table, column, change),
        _ => Ok(()),
    }
}

fn check_sequence_backfill(
    table: &QualifiedName,
    column: &Column,
    change: &Change,
) -> Result<(), PlanError> {
    let primary_key = match change {
        Change::AddColumn { primary_key, .. } | Change::SetNotNull { primary_key, .. } => {
            primary_key
        }
        _ => return Ok(()),
    };
    if matches!(column.backfill, Some(Backfill::Sequence { .. })) && primary_key.is_empty() {
        return Err(PlanError::BackfillNeedsPrimaryKey {
            table: table.clone(),
            column: column.name.clone(),
        });
    }
    Ok(())
}

fn lock_of(change: &Change, risk: &Assessment) -> LockLevel {
    let has = |h| risk.hazards.contains(&h);
    if let Change::ValidateConstraint { .. } = change {
        // Reads and writes go on; only other schema changes wait (RISK.md rows 15b/16b).
        LockLevel::ShareUpdateExclusive
    } else if has(Hazard::AcquiresAccessExclusiveLock) {
        LockLevel::AccessExclusive
    } else if has(Hazard::AcquiresShareRowExclusiveLock) {
        LockLevel::ShareRowExclusive
    } else if has(Hazard::AcquiresShareLock) {
        LockLevel::Share
    } else {
        LockLevel::None
    }
}

fn warnings(desired: &Schema) -> Vec<String> {
    desired
        .tables
        .iter()
        .filter(|t| t.primary_key.is_none())
        .map(|t| {
            format!(
                "table {} has no primary key: backfills and batched data migrations need one",
                t.name
            )
        })
        .collect()
}

fn column_summary(column: &Column, rules: &dyn SqlDialect) -> String {
    let mut text = format!("{} {}", column.name, rules.type_name(&column.ty));
    text.push_str(if column.nullable { " NULL" } else { " NOT NULL" });
    if let Some(default) = &column.default {
        text.push_str(&format!(" DEFAULT {}", rules.default_text(default)));
    }
    if column.identity.is_some() {
        text.push_str(" IDENTITY");
    }
    if column.backfill.is_some() {
        text.push_str(" (backfilled)");
    }
    text
}

/// `1 column`, `3 columns`.
fn column_count(n: usize) -> String {
    if n == 1 {
        "1 column".to_owned()
    } else {
        format!("{n} columns")
    }
}

fn columns_text(columns: &[String]) -> String {
    columns.join(", ")
}

/// One line describing a change for the preview table.
fn details(change: &Change, rules: &dyn SqlDialect) -> String {
    use crate::model::IndexPart;
    match change {
        Change::CreateNamespace { name } => name.name.clone(),
        Change::ValidateConstraint { name, .. } => name.clone(),
        Change::RebuildTable { covers, .. } => {
            let mut labels: Vec<&str> = covers.iter().map(|op| op.label()).collect();
            labels.dedup();
            format!("copies the rows to: {}", labels.join(", ").to_lowercase())
        }
        Change::CreateEnum(e) => format!("{} ({})", e.name, e.values.join(", ")),
        Change::AlterEnum { from, to, .. } => {
            format!("{}: ({}) → ({})", to.name, from.values.join(", "), to.values.join(", "))
        }
        Change::DropEnum(e) => format!("{} ({})", e.name, e.values.join(", ")),
        Change::CreateSequence(s) | Change::DropSequence(s) => {
            format!("{} start {} increment {}", s.name, s.start, s.increment)
        }
        Change::AlterSequence { from, to } => format!(
            "{}: start {} → {}, increment {} → {}",
            to.name, from.start, to.start, from.increment, to.increment
        ),
        Change::CreateTable(t) => {
            let columns = t.columns.iter().map(|c| c.name.as_str()).collect::<Vec<_>>().join(", ");
            format!("{} ({columns})", column_count(t.columns.len()))
        }
        Change::DropTable(t) => column_count(t.columns.len()),
        Change::RenameTable { from, to } => format!("{from} → {to}"),
        Change::RenameColumn { from, to, .. }
        | Change::RenameIndex { from, to, .. }
        | Change::RenameConstraint { from, to, .. } => format!("{from} → {to}"),
        Change::DropForeignKey { foreign_key: fk, .. }
        | Change::AddForeignKey { foreign_key: fk, .. } => format!(
            "{} ({}) → {} ({})",
            fk.name,
            columns_text(&fk.columns),
            fk.ref_table,
            columns_text(&fk.ref_columns)
        ),
        Change::DropIndex { index, .. } | Change::AddIndex { index, .. } => {
            let parts = index
                .parts
                .iter()
                .map(|p| match p {
                    IndexPart::Column(c) => c.clone(),
                    IndexPart::Expression(e) => format!("({e})"),
                })
                .collect::<Vec<_>>()
                .join(", ");
            let mut text = format!("{} ({parts})", index.name);
            if index.unique {
                text.push_str(" unique");
            }
            if index.method != crate::model::IndexMethod::Btree {
                text.push_str(&format!(" using {}", index.method.as_sql()));
            }
            if let Some(predicate) = &index.predicate {
                text.push_str(&format!(" where {predicate}"));
            }
            text
        }
        Change::DropUnique { unique, .. } | Change::AddUnique { unique, .. } => {
            format!("{} ({})", unique.name, columns_text(&unique.columns))
        }
        Change::DropExclusion { exclusion, .. } | Change::AddExclusion { exclusion, .. } => {
            format!("{} ({})", exclusion.name, exclusion.definition)
        }
        Change::DropCheck { check, .. } | Change::AddCheck { check, .. } => {
            format!("{} ({})", check.name, check.expression)
        }
        Change::DropPrimaryKey { primary_key, .. } | Change::AddPrimaryKey { primary_key, .. } => {
            format!("{} ({})", primary_key.name, columns_text(&primary_key.columns))
        }
        Change::DropColumn { column, .. } | Change::AddColumn { column, .. } => {
            column_summary(column, rules)
        }
        Change::AlterColumnType { column, from, to, from_collation, to_collation, .. } => {
            let mut text = format!("{column}: {} → {}", rules.type_name(from), rules.type_name(to));
            if from_collation != to_collation {
                text.push_str(&format!(
                    ", collation {} → {}",
                    from_collation.as_deref().unwrap_or("default"),
                    to_collation.as_deref().unwrap_or("default")
                ));
            }
            text
        }
        Change::SetDefault { column, from, to, .. } => format!(
            "{column}: {} → {}",
            from.as_ref().map(|d| rules.default_text(d)).unwrap_or_else(|| "none".into()),
            rules.default_text(to)
        ),
        Change::DropDefault { column, from, .. } => {
            format!("{column}: {} → none", rules.default_text(from))
        }
        Change::DropNotNull { column, .. } => format!("{column}: NOT NULL → NULL"),
        Change::SetNotNull { column, .. } => {
            let fill = if column.backfill.is_some() {
                ", NULLs backfilled"
            } else if column.default.is_some() {
                ", NULLs set to the default"
            } else {
                ""
            };
            format!("{}: NULL → NOT NULL{fill}", column.name)
        }
        Change::AlterIdentity { column, from, to, .. } => {
            let name = |i: &Option<crate::model::Identity>| match i {
                None => "none",
                Some(crate::model::Identity::ByDefault) => "by default",
                Some(crate::model::Identity::Always) => "always",
                Some(crate::model::Identity::Serial) => "serial",
            };
            format!("{column}: identity {} → {}", name(from), name(to))
        }
        Change::SetComment { column, to, .. } => format!(
            "{}{}",
            column.as_deref().map(|c| format!("{c}: ")).unwrap_or_default(),
            to.as_deref().map(|t| format!("{t:?}")).unwrap_or_else(|| "removed".into())
        ),
    }
}
