//! Risk on MySQL/MariaDB (RISK.md §3). Every ALTER takes the table's exclusive metadata
//! lock briefly at its start and end (bounded by `lock_wait_timeout`); what differs is
//! whether the work in between lets writes through (`INSTANT`, `INPLACE … LOCK=NONE`) or
//! copies the table while writes wait (`COPY … LOCK=SHARED`), and whether it can fail on
//! existing rows or lose data.

use crate::change::Change;
use crate::model::{ColumnType, TableStats};
use crate::risk::Hazard::*;
use crate::risk::{Assessment, RiskLevel::*};

/// Rows copied per second by a table copy, a rough first estimate.
const ROWS_PER_SEC: u64 = 200_000;

/// Rates `change` given the size of its table (`None`: unknown, treated as large).
pub fn assess(change: &Change, stats: Option<TableStats>) -> Assessment {
    let mut rated = rate(change);
    let Some(stats) = stats else { return rated };
    rated.estimated_rows = stats.rows;
    rated.estimated_bytes = stats.bytes;
    if let Some(rows) = stats.rows {
        let scans = rated.lock_bound || rated.can_fail_on_data;
        rated.estimated_ms = Some(if scans { rows * 1000 / ROWS_PER_SEC } else { 0 });
    }
    rated
}

/// Bytes a character takes at most in utf8mb4.
const UTF8MB4: u32 = 4;

/// Whether a type change is done in place without blocking writes: a `varchar` that
/// grows within the same length-prefix size (≤ 255 bytes, or > 255 on both sides), or an
/// enum that gains values at its end.
pub fn is_online_type_change(from: &ColumnType, to: &ColumnType) -> bool {
    match (from, to) {
        (ColumnType::Varchar(a), ColumnType::Varchar(b)) => {
            b >= a && ((a * UTF8MB4 <= 255) == (b * UTF8MB4 <= 255))
        }
        (ColumnType::Other(a), ColumnType::Other(b)) => match (enum_body(a), enum_body(b)) {
            (Some(a), Some(b)) => b.starts_with(a) && b[a.len()..].starts_with(','),
            _ => false,
        },
        _ => false,
    }
}

fn enum_body(ty: &str) -> Option<&str> {
    ty.strip_prefix("enum(")?.strip_suffix(')')
}

/// Whether every value of `from` fits `to` unchanged.
fn widens(from: &ColumnType, to: &ColumnType) -> bool {
    use ColumnType::*;
    match (from, to) {
        (SmallInt, Integer | BigInt) | (Integer, BigInt) | (Real, Double) => true,
        (Varchar(a), Varchar(b)) | (Char(a), Char(b)) => b >= a,
        (Varchar(_) | Char(_), Text) => true,
        (
            Numeric { precision: Some(p1), scale: Some(s1) },
            Numeric { precision: Some(p2), scale: Some(s2) },
        ) => s2 >= s1 && p2 - s2 >= p1 - s1,
        _ => is_online_type_change(from, to),
    }
}

fn rate(change: &Change) -> Assessment {
    let copy = [AcquiresShareLock, ImpactsDatabasePerformance];
    match change {
        Change::CreateTable(_) => Assessment::new(Safe).reason("creates an empty table"),
        Change::DropTable(_) => Assessment::new(High)
            .hazards(&[DeletesData, HasUntrackableDependencies])
            .reason("every row of the table is deleted"),
        Change::RenameTable { .. } => Assessment::new(Medium)
            .hazards(&[HasUntrackableDependencies])
            .reason("code using the old name breaks"),
        Change::RenameColumn { .. } => Assessment::new(Medium)
            .hazards(&[HasUntrackableDependencies])
            .reason("code using the old name breaks; the rename itself is metadata only"),
        Change::AddColumn { column, .. } => {
            let staged = column.backfill.is_some()
                || matches!(&column.default, Some(crate::model::DefaultExpr::Sql(sql)) if !super::is_current_timestamp(sql));
            if staged {
                Assessment::new(Medium)
                    .hazards(&[ImpactsDatabasePerformance])
                    .reason("added instantly, then every row is updated and the column made NOT NULL in place (writes go on)")
                    .lock_bound()
            } else {
                Assessment::new(Safe).reason("ALGORITHM=INSTANT: no row is rewritten")
            }
        }
        Change::DropColumn { .. } => Assessment::new(High).hazards(&[DeletesData]).reason(
            "the column's values are deleted; the table is rebuilt in place (writes go on)",
        ),
        Change::AlterColumnType { from, to, .. } => {
            let mut rated = if is_online_type_change(from, to) {
                Assessment::new(Safe).reason("done in place without copying rows (writes go on)")
            } else {
                Assessment::new(Medium)
                    .hazards(&copy)
                    .reason("ALGORITHM=COPY: the table is copied while writes wait")
                    .lock_bound()
            };
            if !widens(from, to) {
                rated = rated
                    .at_least(High)
                    .hazards(&[DeletesData])
                    .reason(
                        "narrowing: values that do not fit fail the copy (strict mode) or are lost",
                    )
                    .can_fail_on_data();
            }
            rated
        }
        Change::SetDefault { .. } | Change::DropDefault { .. } => Assessment::new(Safe)
            .reason("changes the catalog only; existing rows keep their values"),
        Change::SetNotNull { .. } => Assessment::new(Medium)
            .hazards(&[ImpactsDatabasePerformance])
            .reason("the table is rebuilt in place (writes go on); fails on NULLs not filled")
            .lock_bound()
            .can_fail_on_data(),
        Change::DropNotNull { .. } => Assessment::new(Medium)
            .hazards(&[ImpactsDatabasePerformance])
            .reason("the table is rebuilt in place (writes go on)")
            .lock_bound(),
        Change::AlterIdentity { .. } => Assessment::new(Medium)
            .hazards(&copy)
            .reason("AUTO_INCREMENT changes copy the table while writes wait")
            .lock_bound(),
        Change::SetComment { .. } => Assessment::new(Safe).reason("metadata only"),
        Change::AddPrimaryKey { .. } => Assessment::new(Medium)
            .hazards(&[ImpactsDatabasePerformance])
            .reason("the table is rebuilt in place (writes go on); fails on duplicates or NULLs")
            .lock_bound()
            .can_fail_on_data(),
        Change::DropPrimaryKey { .. } => Assessment::new(High)
            .hazards(&[Correctness, AcquiresShareLock, ImpactsDatabasePerformance])
            .reason("ALGORITHM=COPY while writes wait; code relying on the key's uniqueness breaks")
            .lock_bound(),
        Change::AddIndex { index, .. } => {
            let mut rated = Assessment::new(Medium)
                .hazards(&[IndexBuild])
                .reason("built in place while reads and writes go on")
                .lock_bound();
            if index.unique {
                rated = rated.reason("fails on duplicate values").can_fail_on_data();
            }
            rated
        }
        Change::AddUnique { .. } => Assessment::new(Medium)
            .hazards(&[IndexBuild])
            .reason("built in place while reads and writes go on; fails on duplicate values")
            .lock_bound()
            .can_fail_on_data(),
        Change::DropIndex { .. } => Assessment::new(Safe)
            .hazards(&[IndexDropped])
            .reason("queries that used the index may scan instead"),
        Change::DropUnique { .. } => Assessment::new(High)
            .hazards(&[IndexDropped, Correctness])
            .reason("code relying on the values being unique (ON DUPLICATE KEY) breaks"),
        Change::RenameIndex { .. } => Assessment::new(Safe).reason("metadata only"),
        Change::RenameConstraint { .. } => Assessment::new(Medium)
            .hazards(&copy)
            .reason("MySQL cannot rename a constraint: it is dropped and added again (a copy)")
            .lock_bound(),
        Change::AddCheck { .. } => Assessment::new(Medium)
            .hazards(&copy)
            .reason("ALGORITHM=COPY checks every row while writes wait; fails on violating rows")
            .lock_bound()
            .can_fail_on_data(),
        Change::DropCheck { .. } => Assessment::new(Medium)
            .hazards(&[Correctness])
            .reason("rows the check refused are accepted from now on"),
        Change::AddForeignKey { .. } => Assessment::new(Medium)
            .hazards(&copy)
            .reason("ALGORITHM=COPY checks every row while writes wait; fails on orphans")
            .lock_bound()
            .can_fail_on_data(),
        Change::DropForeignKey { .. } => Assessment::new(Medium)
            .hazards(&[Correctness])
            .reason("orphans are accepted from now on"),
        other => Assessment::new(High)
            .reason(format!("{} is not supported on MySQL", other.operation().label())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varchar_growth_is_online_within_one_length_prefix() {
        assert!(is_online_type_change(&ColumnType::Varchar(10), &ColumnType::Varchar(63)));
        assert!(!is_online_type_change(&ColumnType::Varchar(63), &ColumnType::Varchar(64)));
        assert!(is_online_type_change(&ColumnType::Varchar(100), &ColumnType::Varchar(500)));
        assert!(!is_online_type_change(&ColumnType::Varchar(100), &ColumnType::Varchar(99)));
    }

    #[test]
    fn enum_values_appended_at_the_end_are_online() {
        let a = ColumnType::Other("enum('a','b')".into());
        let b = ColumnType::Other("enum('a','b','c')".into());
        assert!(is_online_type_change(&a, &b));
        assert!(!is_online_type_change(&b, &a));
    }
}
