//! The preview a person reads before a plan runs: the step table
//! with estimated rows and the reason for every MEDIUM/HIGH step, the SQL, the rollback
//! plan and a safety summary (data loss, locks and how long they are held, estimated rows
//! and time).
//!
//! Pure and deterministic for a given width, so it snapshots; whether to colour it and how
//! wide the terminal is are the caller's business.

use crate::change::Operation;
use crate::plan::{format_count, format_ms, LockLevel, Plan, Rollback, Step};
use crate::risk::{Hazard, RiskLevel};
use comfy_table::{ColumnConstraint, Width};
use serde::Serialize;
use std::fmt::{self, Write as _};

/// What the preview shows (`#[non_exhaustive]`: build it with the `with_…` setters).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct PreviewOptions {
    /// Print every step's SQL (default true).
    pub show_sql: bool,
    /// Print the statements a rollback would run (default true).
    pub show_rollback_plan: bool,
    /// Wrap the table to this many columns (default 100).
    pub width: u16,
    /// ANSI colours for the risk levels (default false: the caller decides, on a terminal
    /// and without `NO_COLOR`).
    pub color: bool,
}

crate::__with_setters!(PreviewOptions {
    with_show_sql => show_sql: bool,
    with_show_rollback_plan => show_rollback_plan: bool,
    with_width => width: u16,
    with_color => color: bool,
});

impl Default for PreviewOptions {
    fn default() -> Self {
        PreviewOptions { show_sql: true, show_rollback_plan: true, width: 100, color: false }
    }
}

/// A plan rendered for people (see the module docs). `Display` prints it.
#[derive(Debug, Clone, Copy)]
pub struct Preview<'a> {
    plan: &'a Plan,
    options: PreviewOptions,
}

impl Plan {
    /// The preview of this plan with `options`.
    pub fn preview(&self, options: PreviewOptions) -> Preview<'_> {
        Preview { plan: self, options }
    }

    /// What the plan can lose and block, for people and for JSON reports.
    pub fn safety(&self) -> SafetySummary {
        SafetySummary::of(self)
    }
}

/// How safe a plan is, in the terms an operator asks about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct SafetySummary {
    /// The highest level `max_risk` is checked against, if there are steps.
    pub highest_risk: Option<RiskLevel>,
    /// The highest level shown (lower when a step is MEDIUM only on large tables).
    pub highest_shown: Option<RiskLevel>,
    /// Steps that destroy data for good.
    pub data_loss: Vec<String>,
    /// Steps that drop something but keep its data (trash tables, column backups) so a
    /// rollback restores it until `dataflow purge`.
    pub data_kept: Vec<String>,
    /// Steps that cannot be rolled back, with the reason.
    pub irreversible: Vec<String>,
    /// Locks on existing tables, one per step that takes one.
    pub locks: Vec<LockHold>,
    /// Rows the plan scans or writes, summed over the steps whose table size is known.
    pub estimated_rows: u64,
    /// Rough total duration; `None` when a step's table size is unknown.
    pub estimated_ms: Option<u64>,
}

/// A lock one step takes on an existing table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct LockHold {
    /// The step number.
    pub step: usize,
    /// The table.
    pub table: String,
    /// The lock.
    pub lock: LockLevel,
    /// What the application cannot do meanwhile.
    pub blocks: &'static str,
    /// Held for about this long; 0 means an instant (a catalog change), `None` unknown.
    pub held_ms: Option<u64>,
}

impl SafetySummary {
    fn of(plan: &Plan) -> SafetySummary {
        let describe = |s: &Step| {
            format!("step {} ({} {}: {})", s.number, s.operation.label(), s.table, s.details)
        };
        let data_loss = plan
            .steps
            .iter()
            .filter(|s| s.risk.hazards.contains(&Hazard::DeletesData))
            .map(describe)
            .collect();
        let data_kept = plan
            .steps
            .iter()
            .filter(|s| matches!(s.operation, Operation::DropTable | Operation::DropColumn))
            .filter(|s| !s.risk.hazards.contains(&Hazard::DeletesData))
            .map(describe)
            .collect();
        let irreversible = plan
            .steps
            .iter()
            .filter_map(|s| match &s.down {
                Rollback::Irreversible { reason } => Some(format!("{}: {reason}", describe(s))),
                Rollback::Sql(_) => None,
            })
            .collect();
        let locks = plan.steps.iter().flat_map(lock_holds).collect();
        let estimated_rows = plan
            .steps
            .iter()
            .filter(|s| scans_or_writes(s))
            .filter_map(|s| s.risk.estimated_rows)
            .sum();
        let estimated_ms = plan.steps.iter().map(step_ms).sum();
        SafetySummary {
            highest_risk: plan.max_policy_level(),
            highest_shown: plan.steps.iter().map(|s| s.shown_level).max(),
            data_loss,
            data_kept,
            irreversible,
            locks,
            estimated_rows,
            estimated_ms,
        }
    }
}

/// Whether the step reads or writes every row (a scan, rewrite, index build or backfill)
/// rather than only changing the catalog.
fn scans_or_writes(step: &Step) -> bool {
    let risk = &step.risk;
    risk.lock_bound
        || risk.can_fail_on_data
        || risk.hazards.contains(&Hazard::ImpactsDatabasePerformance)
        || risk.hazards.contains(&Hazard::IndexBuild)
}

/// A catalog-only step takes an instant whatever the table size; the rest need the size.
fn step_ms(step: &Step) -> Option<u64> {
    match step.risk.estimated_ms {
        Some(ms) => Some(ms),
        None if !scans_or_writes(step) => Some(0),
        None => None,
    }
}

/// The locks `step` takes on a table that already has rows (a table created by the plan
/// blocks nobody): the one held while it runs, and a stronger one for an instant.
fn lock_holds(step: &Step) -> Vec<LockHold> {
    if step.risk.estimated_rows == Some(0) || step.operation == Operation::CreateTable {
        return Vec::new();
    }
    let held_ms = if scans_or_writes(step) { step.risk.estimated_ms } else { Some(0) };
    [(step.lock, held_ms), (step.instant_lock.unwrap_or(LockLevel::None), Some(0))]
        .into_iter()
        .filter_map(|(lock, held_ms)| {
            let blocks = match lock {
                LockLevel::None => return None,
                LockLevel::ShareUpdateExclusive => "other schema changes only",
                LockLevel::Share | LockLevel::ShareRowExclusive => "writes",
                LockLevel::AccessExclusive => "reads and writes",
            };
            Some(LockHold { step: step.number, table: step.table.clone(), lock, blocks, held_ms })
        })
        .collect()
}

impl fmt::Display for Preview<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let plan = self.plan;
        if plan.steps.is_empty() {
            return writeln!(f, "No changes.");
        }
        let paint = Paint(self.options.color);
        let count = |level| {
            let n = plan.steps.iter().filter(|s| s.shown_level == level).count();
            let text = format!("{n} {level}");
            if n == 0 {
                text
            } else {
                paint.level(level, &text)
            }
        };
        writeln!(
            f,
            "{} plan: {} step(s) — {}, {}, {}",
            plan.dialect,
            plan.steps.len(),
            count(RiskLevel::Safe),
            count(RiskLevel::Medium),
            count(RiskLevel::High),
        )?;
        writeln!(f, "{}", self.table())?;
        for warning in &plan.warnings {
            writeln!(f, "warning: {warning}")?;
        }
        if self.options.show_sql {
            writeln!(f, "\nSQL:")?;
            for step in &plan.steps {
                writeln!(
                    f,
                    "-- step {} · {} · {}",
                    step.number,
                    step.table,
                    step.operation.label()
                )?;
                for statement in &step.up {
                    writeln!(f, "{statement};")?;
                }
            }
        }
        if self.options.show_rollback_plan {
            writeln!(
                f,
                "\nRollback plan (`dataflow rollback <version>` runs it, last step first):"
            )?;
            for step in plan.steps.iter().rev() {
                writeln!(f, "-- undo step {} · {}", step.number, step.table)?;
                match &step.down {
                    Rollback::Sql(statements) => {
                        for statement in statements {
                            writeln!(f, "{statement};")?;
                        }
                    }
                    Rollback::Irreversible { reason } => writeln!(
                        f,
                        "--   {}: {reason}",
                        paint.level(RiskLevel::High, "irreversible")
                    )?,
                }
            }
        }
        write!(f, "\n{}", summary_text(&plan.safety(), paint))
    }
}

const HEADER: [&str; 6] = ["#", "Table", "Operation", "Details", "Rows", "Risk"];

impl Preview<'_> {
    fn table(&self) -> comfy_table::Table {
        let mut table = comfy_table::Table::new();
        table
            .load_preset(comfy_table::presets::ASCII_FULL_CONDENSED)
            .set_content_arrangement(comfy_table::ContentArrangement::Dynamic)
            .set_width(self.options.width)
            .set_header(HEADER);
        let rows: Vec<[String; 6]> = self
            .plan
            .steps
            .iter()
            .map(|step| {
                [
                    step.number.to_string(),
                    step.table.clone(),
                    step.operation.label().to_owned(),
                    step.details.clone(),
                    rows_cell(step),
                    risk_with_reasons(step),
                ]
            })
            .collect();
        // Wrap between words only: a column is never narrower than its longest word, so an
        // identifier is never cut in two (the table grows past the width instead).
        let widest_word = |column: usize| {
            rows.iter()
                .map(|row| row[column].as_str())
                .chain([HEADER[column]])
                .flat_map(str::split_whitespace)
                .map(|word| word.chars().count())
                .max()
                .unwrap_or(0)
        };
        let constraints: Vec<ColumnConstraint> = (0..HEADER.len())
            .map(|column| {
                let padded = u16::try_from(widest_word(column) + 2).unwrap_or(u16::MAX);
                ColumnConstraint::LowerBoundary(Width::Fixed(padded))
            })
            .collect();
        table.set_constraints(constraints);
        for row in rows {
            table.add_row(row);
        }
        table
    }
}

fn rows_cell(step: &Step) -> String {
    match step.risk.estimated_rows {
        Some(rows) => format!("~{}", format_count(rows)),
        None => "?".to_owned(),
    }
}

/// The shown level, and for anything above SAFE the reasons, so nobody applies a MEDIUM
/// or HIGH step without reading why.
fn risk_with_reasons(step: &Step) -> String {
    let mut text = step.shown_level.to_string();
    if step.shown_level != step.risk.level {
        text.push_str(&format!(" (tiny table; {} when large)", step.risk.level));
    }
    if step.policy_level() > step.shown_level {
        text.push_str(" (counts as HIGH: changes meaning)");
    }
    if step.policy_level() > RiskLevel::Safe {
        for reason in &step.risk.reasons {
            text.push_str(&format!("\n- {reason}"));
        }
    }
    text
}

fn summary_text(summary: &SafetySummary, paint: Paint) -> String {
    let mut out = String::from("Safety summary:\n");
    let shown = summary.highest_shown.unwrap_or(RiskLevel::Safe);
    let policy = summary.highest_risk.unwrap_or(RiskLevel::Safe);
    let _ = write!(out, "  Highest risk: {}", paint.level(shown, &shown.to_string()));
    let _ = if policy > shown {
        writeln!(out, " (max_risk counts it as {policy})")
    } else {
        writeln!(out)
    };
    if summary.data_loss.is_empty() {
        let _ = writeln!(out, "  Data loss: none");
    } else {
        let _ = writeln!(out, "  {}:", paint.level(RiskLevel::High, "Data lost for good"));
        for step in &summary.data_loss {
            let _ = writeln!(out, "    {step}");
        }
    }
    if !summary.data_kept.is_empty() {
        let _ = writeln!(out, "  Dropped but kept for rollback (until `dataflow purge`):");
        for step in &summary.data_kept {
            let _ = writeln!(out, "    {step}");
        }
    }
    if !summary.irreversible.is_empty() {
        let _ = writeln!(out, "  Irreversible:");
        for step in &summary.irreversible {
            let _ = writeln!(out, "    {step}");
        }
    }
    let (instant, held): (Vec<&LockHold>, Vec<&LockHold>) =
        summary.locks.iter().partition(|hold| hold.held_ms == Some(0));
    if summary.locks.is_empty() {
        let _ = writeln!(out, "  Locks: none on tables with rows");
    }
    if !instant.is_empty() {
        let _ = writeln!(
            out,
            "  Locks for an instant (each waits at most lock_timeout, then retries):"
        );
        let _ = writeln!(out, "    {}", lock_list(&instant));
    }
    if !held.is_empty() {
        let _ = writeln!(out, "  Locks held while the step runs:");
        for hold in held {
            let how_long = match hold.held_ms {
                Some(ms) => format!("~{}", format_ms(ms)),
                None => "for a scan of the table (size unknown)".to_owned(),
            };
            let _ = writeln!(
                out,
                "    step {} · {} · {} {how_long}\n      blocks {}",
                hold.step, hold.table, hold.lock, hold.blocks
            );
        }
    }
    let _ = match summary.estimated_ms {
        Some(0) if summary.estimated_rows == 0 => {
            writeln!(out, "  Estimated: catalog changes only, no rows scanned or written")
        }
        Some(ms) => writeln!(
            out,
            "  Estimated: ~{} rows scanned or written, ~{}",
            format_count(summary.estimated_rows),
            format_ms(ms)
        ),
        None => writeln!(
            out,
            "  Estimated: ~{} rows scanned or written, time unknown (a scanned table has no \
             size statistics)",
            format_count(summary.estimated_rows)
        ),
    };
    out
}

/// `step 1, 2 · ACCESS EXCLUSIVE` per lock level, steps in order.
fn lock_list(holds: &[&LockHold]) -> String {
    let mut levels: Vec<LockLevel> = holds.iter().map(|h| h.lock).collect();
    levels.sort();
    levels.dedup();
    levels
        .iter()
        .rev()
        .map(|level| {
            let steps: Vec<String> =
                holds.iter().filter(|h| h.lock == *level).map(|h| h.step.to_string()).collect();
            let noun = if steps.len() == 1 { "step" } else { "steps" };
            format!("{level} on {noun} {}", steps.join(", "))
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// Risk colours when enabled: SAFE green, MEDIUM yellow, HIGH bold red.
#[derive(Debug, Clone, Copy)]
struct Paint(bool);

impl Paint {
    fn level(self, level: RiskLevel, text: &str) -> String {
        if !self.0 {
            return text.to_owned();
        }
        let code = match level {
            RiskLevel::Safe => "32",
            RiskLevel::Medium => "33",
            RiskLevel::High => "1;31",
        };
        format!("\x1b[{code}m{text}\x1b[0m")
    }
}
