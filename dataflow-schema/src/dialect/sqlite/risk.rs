//! Risk on SQLite (RISK.md §4). SQLite has one writer: every DDL statement holds the
//! database's write lock while it runs (readers go on in WAL mode), so what matters is how
//! long a step runs — an instant catalog change, an index build, or a table rebuild that
//! copies every row — and whether it can lose data or fail on existing rows.

use crate::change::{Change, Operation};
use crate::model::TableStats;
use crate::risk::Hazard::*;
use crate::risk::{Assessment, RiskLevel::*};

/// Rows copied or scanned per second, a rough first estimate.
const ROWS_PER_SEC: u64 = 500_000;

/// Rates `change` given the size of its table (`None`: unknown, treated as large).
pub fn assess(change: &Change, stats: Option<TableStats>) -> Assessment {
    let rated = rate(change);
    let Some(stats) = stats else { return rated };
    let mut rated = rated;
    rated.estimated_rows = stats.rows;
    rated.estimated_bytes = stats.bytes;
    if let Some(rows) = stats.rows {
        let copies = rated.lock_bound || rated.can_fail_on_data;
        rated.estimated_ms = Some(if copies { rows * 1000 / ROWS_PER_SEC } else { 0 });
    }
    rated
}

fn rate(change: &Change) -> Assessment {
    let writes_blocked = [AcquiresShareLock];
    match change {
        Change::CreateTable(_) => Assessment::new(Safe).reason("creates an empty table"),
        Change::DropTable(_) => Assessment::new(High)
            .hazards(&[DeletesData, HasUntrackableDependencies])
            .reason("every row of the table is deleted"),
        Change::RenameTable { .. } => Assessment::new(Medium)
            .hazards(&[HasUntrackableDependencies])
            .reason("code using the old name breaks; SQLite rewrites references in other tables' foreign keys, triggers and views"),
        Change::RenameColumn { .. } => Assessment::new(Medium)
            .hazards(&[HasUntrackableDependencies])
            .reason("code using the old name breaks; SQLite rewrites references in indexes, triggers and views"),
        Change::AddColumn { .. } => Assessment::new(Safe)
            .hazards(&writes_blocked)
            .reason("ALTER TABLE ADD COLUMN changes the catalog only; no row is rewritten"),
        Change::DropColumn { .. } => Assessment::new(High)
            .hazards(&[DeletesData, ImpactsDatabasePerformance, AcquiresShareLock])
            .reason("the column's values are deleted; SQLite rewrites every row while writers wait")
            .lock_bound(),
        Change::AddIndex { index, .. } => {
            let mut rated = Assessment::new(Medium)
                .hazards(&[IndexBuild, AcquiresShareLock])
                .reason("builds the index by scanning the table while writers wait")
                .lock_bound();
            if index.unique {
                rated = rated.reason("fails on duplicate values").can_fail_on_data();
            }
            rated
        }
        Change::DropIndex { .. } => Assessment::new(Safe)
            .hazards(&[IndexDropped])
            .reason("queries that used the index may scan instead"),
        Change::RebuildTable { covers, .. } => rate_rebuild(covers),
        other => Assessment::new(High).reason(format!(
            "{} is not planned on SQLite (a rebuild covers it)",
            other.operation().label()
        )),
    }
}

/// A rebuild copies every row while writers wait; it is as risky as the worst change it
/// carries.
fn rate_rebuild(covers: &[Operation]) -> Assessment {
    let mut labels: Vec<String> = covers.iter().map(|op| op.label().to_lowercase()).collect();
    labels.dedup();
    let mut rated = Assessment::new(Medium)
        .hazards(&[ImpactsDatabasePerformance, AcquiresShareLock])
        .reason(format!(
            "SQLite cannot {} in place: the table is copied to a new one while writers wait \
             (readers go on in WAL mode)",
            labels.join(", ")
        ))
        .lock_bound();
    let has = |op: Operation| covers.contains(&op);
    if has(Operation::DropColumn) {
        rated = rated
            .at_least(High)
            .hazards(&[DeletesData])
            .reason("a dropped column's values are not copied");
    }
    if has(Operation::DropPrimaryKey)
        || has(Operation::DropUnique)
        || has(Operation::DropCheck)
        || has(Operation::DropForeignKey)
    {
        rated =
            rated.hazards(&[Correctness]).reason("a guarantee running code may rely on goes away");
    }
    if has(Operation::SetNotNull)
        || has(Operation::AddCheck)
        || has(Operation::AddUnique)
        || has(Operation::AddPrimaryKey)
        || has(Operation::AddForeignKey)
        || has(Operation::AlterColumnType)
    {
        rated = rated
            .reason(
                "the copy fails, changing nothing, if an existing row violates the new definition",
            )
            .can_fail_on_data();
    }
    rated
}
