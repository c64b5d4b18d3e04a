//! PostgreSQL risk facts, one function per change kind, following RISK.md §2 (row
//! numbers in comments) and the project's policies (ARCHITECTURE.md, "Decisions") (hinted renames are MEDIUM; SQL from
//! model attributes carries IS_USER_GENERATED without raising the level).

use crate::change::Change;
use crate::model::{Backfill, Column, ColumnType, DefaultExpr, TableStats};
use crate::risk::{Assessment, Hazard::*, RiskLevel::*};
pub use crate::type_change::{classify_type_change, TypeChange};

/// Rates one change (direct forms).
pub fn assess(change: &Change, stats: Option<TableStats>) -> Assessment {
    let assessment = rate(change);
    with_estimates(assessment, change, stats)
}

fn rate(change: &Change) -> Assessment {
    match change {
        Change::CreateNamespace { .. } => Assessment::new(Safe).reason("creates an empty schema"),
        Change::RebuildTable { .. } => {
            Assessment::new(High).reason("a table rebuild is a SQLite step; PostgreSQL alters in place")
        }
        Change::ValidateConstraint { .. } => Assessment::new(Safe)
            .hazards(&[ImpactsDatabasePerformance])
            .reason("VALIDATE CONSTRAINT scans existing rows without blocking reads or writes (rows 15b/16b)")
            .reason("fails if an existing row violates it; new rows are already checked")
            .can_fail_on_data(),
        Change::CreateEnum(_) => Assessment::new(Safe).reason("creates a type; nothing uses it yet"),
        Change::AlterEnum { from, to, .. } => {
            if super::render::appended_values(from, to).is_some() {
                // Row 20. The value is committed in its own group before anything uses it.
                Assessment::new(Safe).reason(
                    "ALTER TYPE … ADD VALUE takes no table lock; PostgreSQL has no DROP VALUE, so undoing it re-creates the type and rewrites the columns using it",
                )
            } else {
                Assessment::new(High)
                    .hazards(&[AcquiresAccessExclusiveLock, DeletesData, ImpactsDatabasePerformance])
                    .reason("values are removed or reordered: the type is re-created and every column using it rewritten")
                    .reason("fails if a row still holds a removed value")
                    .can_fail_on_data()
            }
        }
        Change::DropEnum(_) => Assessment::new(Safe)
            .hazards(&[HasUntrackableDependencies])
            .reason("drops a type no column uses any more"),
        Change::CreateSequence(_) => Assessment::new(Safe).reason("creates a sequence (row 21a)"),
        Change::AlterSequence { .. } => Assessment::new(Safe).reason("changes sequence options; its current value is kept"),
        Change::DropSequence(_) => Assessment::new(High)
            .hazards(&[DeletesData, HasUntrackableDependencies])
            .reason("the counter state is lost; re-creating it restarts the numbering (row 21b)"),
        Change::CreateTable(_) => Assessment::new(Safe).reason("creates a new, empty table (row 1)"),
        Change::DropTable(_) => Assessment::new(High)
            .hazards(&[AcquiresAccessExclusiveLock, DeletesData, HasUntrackableDependencies])
            .reason("every row of the table is deleted (row 2)"),
        Change::RenameTable { .. } => Assessment::new(Medium)
            .hazards(&[AcquiresAccessExclusiveLock, HasUntrackableDependencies])
            .reason("renamed as hinted by renamed_from; code still using the old name breaks (row 9)"),
        Change::RenameColumn { .. } => Assessment::new(Medium)
            .hazards(&[AcquiresAccessExclusiveLock, HasUntrackableDependencies])
            .reason("renamed as hinted by renamed_from; code still using the old name breaks (row 8)"),
        Change::RenameIndex { .. } => Assessment::new(Safe).reason("renames an index; same definition (row 9a)"),
        Change::RenameConstraint { .. } => Assessment::new(Safe)
            .hazards(&[AcquiresAccessExclusiveLock])
            .reason("renames a constraint; same definition, catalog-only"),
        Change::DropForeignKey { .. } => Assessment::new(Medium)
            .hazards(&[AcquiresAccessExclusiveLock, Correctness])
            .reason("the referential guarantee is gone; locks both tables briefly (row 17)"),
        Change::AddForeignKey { .. } => Assessment::new(Medium)
            .hazards(&[AcquiresShareRowExclusiveLock])
            .reason("validates every row while writes to both tables are blocked; fails on orphan rows (row 16a)")
            .lock_bound()
            .can_fail_on_data(),
        Change::DropIndex { index, .. } if index.invalid => Assessment::new(Safe)
            .hazards(&[AcquiresAccessExclusiveLock])
            .reason("drops an INVALID index left by a failed concurrent build: it served no reads and guaranteed nothing"),
        Change::DropIndex { index, .. } => {
            let mut a = Assessment::new(Safe)
                .hazards(&[AcquiresAccessExclusiveLock, IndexDropped])
                .reason("queries using the index may become scans (row 19a)");
            if index.unique {
                a = a.at_least(High).hazards(&[Correctness]).reason(
                    "the uniqueness guarantee is gone: INSERT … ON CONFLICT on these columns starts failing",
                );
            }
            a
        }
        Change::AddIndex { index, .. } => {
            let mut a = Assessment::new(Medium)
                .hazards(&[AcquiresShareLock, IndexBuild])
                .reason("CREATE INDEX blocks writes while it builds (row 18a)")
                .lock_bound();
            if index.unique {
                a = a.reason("fails on duplicate rows").can_fail_on_data();
            }
            if index.predicate.is_some() || index.parts.iter().any(|p| matches!(p, crate::model::IndexPart::Expression(_))) {
                a = a.hazards(&[IsUserGenerated]).reason("uses SQL written in the model (predicate or expression)");
            }
            a
        }
        Change::DropUnique { .. } => Assessment::new(High)
            .hazards(&[AcquiresAccessExclusiveLock, IndexDropped, Correctness])
            .reason("the uniqueness guarantee is gone: INSERT … ON CONFLICT on these columns starts failing (row 17)"),
        Change::AddUnique { .. } => Assessment::new(Medium)
            .hazards(&[AcquiresAccessExclusiveLock, IndexBuild])
            .reason("builds the index while reads and writes are blocked; fails on duplicates (row 14a)")
            .lock_bound()
            .can_fail_on_data(),
        Change::DropExclusion { .. } => Assessment::new(Medium)
            .hazards(&[AcquiresAccessExclusiveLock, IndexDropped, Correctness])
            .reason("the exclusion guarantee is gone and its index dropped (row 17)"),
        Change::AddExclusion { .. } => Assessment::new(Medium)
            .hazards(&[AcquiresAccessExclusiveLock, IndexBuild])
            .reason("builds the constraint's index while reads and writes are blocked; fails on conflicting rows")
            .lock_bound()
            .can_fail_on_data(),
        Change::DropCheck { .. } => Assessment::new(Medium)
            .hazards(&[AcquiresAccessExclusiveLock, Correctness])
            .reason("the check no longer guards new rows (row 17)"),
        Change::AddCheck { .. } => Assessment::new(Medium)
            .hazards(&[AcquiresAccessExclusiveLock, IsUserGenerated])
            .reason("scans every row while reads and writes are blocked; fails on violating rows (row 15a)")
            .lock_bound()
            .can_fail_on_data(),
        Change::DropPrimaryKey { .. } => Assessment::new(High)
            .hazards(&[AcquiresAccessExclusiveLock, IndexDropped, Correctness])
            .reason("the primary key guarantee is gone; ON CONFLICT and logical replication rely on it (row 22c)"),
        Change::AddPrimaryKey { .. } => Assessment::new(Medium)
            .hazards(&[AcquiresAccessExclusiveLock, IndexBuild])
            .reason("builds the key's index while reads and writes are blocked; fails on duplicates or NULLs (row 22a)")
            .lock_bound()
            .can_fail_on_data(),
        Change::DropColumn { .. } => Assessment::new(High)
            .hazards(&[AcquiresAccessExclusiveLock, DeletesData, HasUntrackableDependencies])
            .reason("the column's values are deleted (row 7)"),
        Change::AddColumn { column, .. } => add_column(column),
        Change::AlterColumnType { from, to, from_collation, to_collation, .. } => {
            alter_type(from, to, from_collation != to_collation)
        }
        Change::SetDefault { to, .. } => {
            let a = Assessment::new(Safe)
                .hazards(&[AcquiresAccessExclusiveLock])
                .reason("affects new rows only; catalog-only (row 11)");
            user_sql_default(a, Some(to))
        }
        Change::DropDefault { .. } => Assessment::new(Safe)
            .hazards(&[AcquiresAccessExclusiveLock])
            .reason("affects new rows only; catalog-only (row 11)"),
        Change::DropNotNull { .. } => Assessment::new(Safe)
            .hazards(&[AcquiresAccessExclusiveLock])
            .reason("catalog-only (row 13)"),
        Change::SetNotNull { column, .. } => {
            let mut a = Assessment::new(Medium)
                .hazards(&[AcquiresAccessExclusiveLock])
                .reason("scans every row while reads and writes are blocked (row 12a)")
                .lock_bound();
            if column.backfill.is_some() || column.default.is_some() {
                a = a
                    .hazards(&[ImpactsDatabasePerformance])
                    .reason("existing NULLs are filled first, in the same transaction; a rollback keeps the filled values");
                a = user_sql_backfill(a, column);
            } else {
                a = a.reason("fails if any row is NULL: add `default` or `backfill` to fill them").can_fail_on_data();
            }
            a
        }
        Change::AlterIdentity { from, to, .. } => match (from, to) {
            (None, Some(_)) => Assessment::new(Safe)
                .hazards(&[AcquiresAccessExclusiveLock])
                .reason("adds an identity without a rewrite; its sequence starts after the largest value (row 5)"),
            (Some(_), None) => Assessment::new(Medium)
                .hazards(&[AcquiresAccessExclusiveLock, Correctness])
                .reason("the identity and its sequence are dropped: inserts without a value fail"),
            _ => Assessment::new(Safe)
                .hazards(&[AcquiresAccessExclusiveLock])
                .reason("changes whether explicit values are allowed; catalog-only"),
        },
        Change::SetComment { .. } => Assessment::new(Safe).reason("changes a comment only"),
    }
}

/// Known STABLE defaults give every existing row the same value without a rewrite
/// (row 4a); known VOLATILE ones rewrite the table (row 5); anything else is unknown.
enum Volatility {
    /// A literal, maybe cast: the same value for every row, no function call.
    Constant,
    Stable,
    Volatile,
    Unknown,
}

/// Whether a default is known to be VOLATILE (each row gets its own value).
pub(crate) fn is_volatile_default(sql: &str) -> bool {
    matches!(default_volatility(sql), Volatility::Volatile)
}

fn default_volatility(sql: &str) -> Volatility {
    let normal: String = sql.to_ascii_lowercase().split_whitespace().collect();
    const STABLE: &[&str] = &[
        "now()",
        "current_timestamp",
        "current_date",
        "current_time",
        "localtimestamp",
        "localtime",
        "transaction_timestamp()",
        "statement_timestamp()",
        "current_user",
        "session_user",
    ];
    const VOLATILE: &[&str] = &[
        "clock_timestamp()",
        "gen_random_uuid()",
        "uuid_generate_v4()",
        "random()",
        "timeofday()",
    ];
    if crate::normalize::is_literal(sql) {
        Volatility::Constant
    } else if STABLE.contains(&normal.as_str()) {
        Volatility::Stable
    } else if VOLATILE.contains(&normal.as_str()) || normal.starts_with("nextval(") {
        Volatility::Volatile
    } else {
        Volatility::Unknown
    }
}

fn user_sql_default(a: Assessment, default: Option<&DefaultExpr>) -> Assessment {
    match default {
        Some(DefaultExpr::Sql(_)) => a.hazards(&[IsUserGenerated]),
        _ => a,
    }
}

fn user_sql_backfill(a: Assessment, column: &Column) -> Assessment {
    let a = user_sql_default(a, column.default.as_ref());
    match &column.backfill {
        Some(Backfill::Sequence { .. } | Backfill::ForeignKeyValue(_)) | None => a,
        Some(_) => a.hazards(&[IsUserGenerated]),
    }
}

fn add_column(column: &Column) -> Assessment {
    let base = Assessment::new(Safe).hazards(&[AcquiresAccessExclusiveLock]);
    if let Some(backfill) = &column.backfill {
        let a = base
            .at_least(Medium)
            .hazards(&[ImpactsDatabasePerformance])
            .reason(match backfill {
                Backfill::Sequence { .. } => "numbers existing rows in primary-key order with one UPDATE under the table lock",
                _ => "fills existing rows with one UPDATE under the table lock",
            })
            .lock_bound();
        return user_sql_backfill(a, column);
    }
    if column.identity.is_some() {
        return base
            .at_least(Medium)
            .hazards(&[IndexBuild, ImpactsDatabasePerformance])
            .reason("an identity column rewrites the table and every index while reads and writes are blocked (row 5)")
            .lock_bound();
    }
    match &column.default {
        None if column.nullable => base.reason("nullable without a default: catalog-only, no rewrite (row 3)"),
        None => base
            .at_least(Medium)
            .reason("NOT NULL without a default or backfill fails if the table has rows (row 6a): add `default`, `backfill`, or make it Option<…>")
            .can_fail_on_data(),
        Some(DefaultExpr::Literal(_)) => base.reason("constant default: catalog-only, no rewrite (row 4/6b)"),
        Some(DefaultExpr::Sql(sql)) => {
            let a = base.hazards(&[IsUserGenerated]);
            match default_volatility(sql) {
                Volatility::Constant => a.reason("constant default: catalog-only, no rewrite (row 4/6b)"),
                Volatility::Stable => a.reason(
                    "stable default: no rewrite, but every existing row gets the same value, not its creation time (row 4a)",
                ),
                Volatility::Volatile => a
                    .at_least(Medium)
                    .hazards(&[ImpactsDatabasePerformance])
                    .reason("volatile default: rewrites the table while reads and writes are blocked (row 5)")
                    .lock_bound(),
                Volatility::Unknown => a
                    .at_least(Medium)
                    .reason("cannot tell whether the default is volatile; a volatile default rewrites the table (row 5)")
                    .lock_bound(),
            }
        }
    }
}

fn alter_type(from: &ColumnType, to: &ColumnType, collation_changed: bool) -> Assessment {
    let base = Assessment::new(Safe).hazards(&[AcquiresAccessExclusiveLock]);
    let a = match classify_type_change(from, to) {
        TypeChange::NoRewrite if from == to => base,
        TypeChange::NoRewrite => base.reason("widening: catalog-only, no rewrite (rows 10a/10b)"),
        TypeChange::Reinterpret => base
            .at_least(Medium)
            .hazards(&[Correctness])
            .reason("no rewrite with the session in UTC, but stored values are reinterpreted as UTC (row 10b): needs confirmation"),
        TypeChange::Rewrite => base
            .at_least(Medium)
            .hazards(&[IndexBuild, ImpactsDatabasePerformance])
            .reason("lossless, but rewrites the table and every index while reads and writes are blocked (row 10c)")
            .lock_bound(),
        TypeChange::Narrowing => base
            .at_least(High)
            .hazards(&[IndexBuild, Correctness])
            .reason("narrowing: rewrites the table and fails on values that do not fit (row 10d)")
            .can_fail_on_data(),
        TypeChange::Cast => base
            .at_least(High)
            .hazards(&[IndexBuild, DeletesData, Correctness])
            .reason("cross-type cast: rewrites the table, fails on un-castable values and may lose information (row 10e)")
            .can_fail_on_data(),
    };
    if collation_changed {
        a.at_least(Medium)
            .hazards(&[IndexBuild])
            .reason("a new collation rebuilds the column's indexes and changes sort order")
            .lock_bound()
    } else {
        a
    }
}

/// Rows scanned or written per second, rough figures for a first estimate; the
/// large-table work replaces them with measured rates.
const SCAN_ROWS_PER_SEC: u64 = 2_000_000;
const WRITE_ROWS_PER_SEC: u64 = 200_000;

fn with_estimates(mut a: Assessment, change: &Change, stats: Option<TableStats>) -> Assessment {
    let Some(stats) = stats else { return a };
    a.estimated_rows = stats.rows;
    a.estimated_bytes = stats.bytes;
    let Some(rows) = stats.rows else { return a };
    let writes = a.hazards.contains(&ImpactsDatabasePerformance) || a.hazards.contains(&IndexBuild);
    let scans = a.lock_bound || a.can_fail_on_data;
    let rate = if writes { WRITE_ROWS_PER_SEC } else { SCAN_ROWS_PER_SEC };
    a.estimated_ms = Some(if writes || scans { rows * 1000 / rate } else { 0 });
    if matches!(change, Change::CreateTable(_)) {
        a.estimated_ms = Some(0);
    }
    a
}

#[cfg(test)]
mod tests {
    #[test]
    fn literals_the_server_prints_are_constant_defaults() {
        for constant in [
            "0",
            "-1.5",
            "1e3",
            "'x'::text",
            "('2020-01-01'::date)",
            "true",
            "NULL::integer",
            "'it''s'::character varying",
            "'{}'::jsonb",
            "'a'::character varying(20)",
        ] {
            assert!(crate::normalize::is_literal(constant), "{constant}");
        }
        for not_constant in [
            "now()",
            "nextval('s'::regclass)",
            "'a'::text || 'b'",
            "lower('A')",
            "1 + 1",
            "'x'::text)::y(",
            "gen_random_uuid()",
            "",
        ] {
            assert!(!crate::normalize::is_literal(not_constant), "{not_constant}");
        }
    }
}
