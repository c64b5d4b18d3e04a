//! Plans: ordered steps with up and down SQL, risk, grouping, and a deterministic
//! rendering (`Display` for people and snapshots, `Serialize` for machines). How a plan
//! is made is `planner.rs`.

use crate::change::{Change, Operation};
use crate::checksum::{canonical_json, sha256_hex};
use crate::dialects::Dialect;
use crate::risk::{Assessment, RiskLevel};
use serde::{Deserialize, Serialize};
use std::fmt;

pub use crate::plan_options::PlanOptions;

/// How to undo a step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rollback {
    /// Statements that undo the step (data removed by the step is not restored by them;
    /// its hazards say so).
    Sql(Vec<String>),
    /// The step cannot be undone, and why.
    Irreversible {
        /// Why.
        reason: String,
    },
}

/// The strongest table lock a step takes (PostgreSQL names; RISK.md §2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum LockLevel {
    /// No lock on an existing table.
    None,
    /// Blocks nothing but other schema changes.
    ShareUpdateExclusive,
    /// Blocks writes.
    Share,
    /// Blocks writes, on the referenced table too.
    ShareRowExclusive,
    /// Blocks reads and writes.
    AccessExclusive,
}

impl fmt::Display for LockLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LockLevel::None => "none",
            LockLevel::ShareUpdateExclusive => "SHARE UPDATE EXCLUSIVE",
            LockLevel::Share => "SHARE",
            LockLevel::ShareRowExclusive => "SHARE ROW EXCLUSIVE",
            LockLevel::AccessExclusive => "ACCESS EXCLUSIVE",
        })
    }
}

/// One step of a plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Step {
    /// 1-based position.
    pub number: usize,
    /// Steps sharing a group run in one transaction (one table's instant changes).
    pub group: usize,
    /// Index into [`Plan::changes`].
    pub change: usize,
    /// The table (or type) it works on.
    pub table: String,
    /// The operation kind.
    pub operation: Operation,
    /// Human-readable details (`phone text NULL`, `age: integer → bigint`, …).
    pub details: String,
    /// The rating.
    pub risk: Assessment,
    /// The level shown to people (see [`Assessment::shown_level`]); `max_risk` compares
    /// [`Step::policy_level`], which is this one unless the change alters meaning.
    pub shown_level: RiskLevel,
    /// Whether it may run inside a transaction.
    pub transactional: bool,
    /// The lock held while the step runs (for an online form, the weak lock of its long
    /// part).
    pub lock: LockLevel,
    /// A stronger lock the step also takes, for an instant: PostgreSQL's online forms end
    /// with one (the shadow column's swap, `ADD CONSTRAINT … USING INDEX`, `SET NOT NULL`
    /// after its proof, the new column itself).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instant_lock: Option<LockLevel>,
    /// `statement_timeout` for its statements: 30 s or 3× the estimate, whichever is larger.
    pub statement_timeout_ms: u64,
    /// Statements that make the change.
    pub up: Vec<String>,
    /// How to undo it.
    pub down: Rollback,
    /// When one of `up`'s statements fills a column on a populated table, the keyset-batch
    /// form the executor runs instead of it (PostgreSQL online recipes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batched: Option<Batched>,
}

impl Step {
    /// The level `max_risk` is checked against: the level the preview shows (a MEDIUM
    /// that is MEDIUM only for the lock it holds is SAFE on a tiny table), or HIGH when
    /// the change alters meaning, so what a person reads and what the policy counts agree.
    pub fn policy_level(&self) -> RiskLevel {
        if self.risk.changes_meaning() {
            RiskLevel::High
        } else {
            self.shown_level
        }
    }
}

/// A fill run in keyset batches: `up[statement]` is what it does as one statement; the
/// executor runs `first`, then `next` until a batch comes back empty, committing each.
/// Both take `$1` = the batch size; `next` also takes the last key of the previous batch,
/// one text parameter per key column (`$2`, `$3` …). Each returns one row for a non-empty
/// batch: its last key (one text column per key column), the rows it walked and the rows
/// it changed (two `bigint`s).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Batched {
    /// Index in `up` of the statement the batches replace.
    pub statement: usize,
    /// The table filled.
    pub table: String,
    /// The first batch.
    pub first: String,
    /// Every later batch.
    pub next: String,
    /// How many key columns a batch returns.
    pub key_columns: usize,
    /// The table's quoted name, for `to_regclass` (its size estimate).
    #[serde(default)]
    pub relation: String,
    /// `VACUUM` of the table, run between batches so dead rows are reused.
    #[serde(default)]
    pub vacuum: String,
    /// A sequence fill: both batches take one more parameter after the keys, the number
    /// of rows earlier batches changed (its values continue from there).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub numbered: bool,
}

/// An ordered, rated, reversible plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    /// The dialect it is rendered for.
    pub dialect: Dialect,
    /// Checksum of the schema it was computed from.
    pub from_checksum: String,
    /// Checksum of the schema it leads to.
    pub to_checksum: String,
    /// Checksum of its steps (what `expected_plan` pins).
    pub plan_checksum: String,
    /// The logical changes, in execution order.
    pub changes: Vec<Change>,
    /// The steps.
    pub steps: Vec<Step>,
    /// Things the operator should know that are not steps.
    pub warnings: Vec<String>,
}

impl Plan {
    /// Whether there is nothing to do.
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }

    /// Keeps only the steps `keep` accepts (`include_tables`, `exclude_operations`),
    /// renumbered, with the plan checksum recomputed. What is left out stays pending.
    pub fn retain(&mut self, mut keep: impl FnMut(&Step) -> bool) {
        self.steps.retain(|step| keep(step));
        for (i, step) in self.steps.iter_mut().enumerate() {
            step.number = i + 1;
        }
        self.plan_checksum = sha256_hex(&canonical_json(&steps_fingerprint(&self.steps)));
    }

    /// Recomputes the plan checksum after its steps were rewritten (e.g. to keep data).
    pub fn refresh_checksum(&mut self) {
        self.plan_checksum = sha256_hex(&canonical_json(&steps_fingerprint(&self.steps)));
    }

    /// The highest level `max_risk` is checked against (see [`Step::policy_level`]).
    pub fn max_policy_level(&self) -> Option<RiskLevel> {
        self.steps.iter().map(Step::policy_level).max()
    }

    /// One line for the history: per table, in order, its operations with their counts
    /// (`users: ADD COLUMN ×2, ADD INDEX; orders: CREATE TABLE`).
    pub fn summary(&self) -> String {
        let mut tables: Vec<(&str, Vec<(&str, usize)>)> = Vec::new();
        for step in &self.steps {
            let at = match tables.iter().position(|(t, _)| *t == step.table) {
                Some(at) => at,
                None => {
                    tables.push((&step.table, Vec::new()));
                    tables.len() - 1
                }
            };
            let ops = &mut tables[at].1;
            match ops.iter_mut().find(|(op, _)| *op == step.operation.label()) {
                Some((_, n)) => *n += 1,
                None => ops.push((step.operation.label(), 1)),
            }
        }
        tables
            .iter()
            .map(|(table, ops)| {
                let ops: Vec<String> = ops
                    .iter()
                    .map(|(op, n)| if *n > 1 { format!("{op} ×{n}") } else { (*op).to_owned() })
                    .collect();
                format!("{table}: {}", ops.join(", "))
            })
            .collect::<Vec<_>>()
            .join("; ")
    }

    /// The plan as pretty JSON stamped with its `format_version` (what `dataflow diff
    /// --format json` prints).
    pub fn to_json(&self) -> String {
        crate::file_format::to_stamped_json(self)
    }

    /// Reads a plan written by [`Plan::to_json`] (older files without a stamp too; a newer
    /// format is refused).
    pub fn from_json(text: &str) -> Result<Plan, serde_json::Error> {
        crate::file_format::from_stamped_json(text, "plan.json")
    }
}

/// What the plan checksum covers: what runs, in which grouping.
pub(crate) fn steps_fingerprint(steps: &[Step]) -> Vec<(usize, bool, &Vec<String>, &Rollback)> {
    steps.iter().map(|s| (s.group, s.transactional, &s.up, &s.down)).collect()
}

fn risk_cell(step: &Step) -> String {
    let mut text = step.shown_level.to_string();
    if step.shown_level != step.risk.level {
        text.push_str(&format!(" (tiny table; {} when large)", step.risk.level));
    }
    if step.policy_level() > step.shown_level {
        text.push_str(" (needs confirmation: correctness)");
    }
    if let Some(rows) = step.risk.estimated_rows.filter(|rows| *rows > 0) {
        text.push_str(&format!(" ~{} rows", format_count(rows)));
    }
    text
}

/// `950`, `12k`, `2.4M`, `1.1B`: row estimates are estimates.
pub(crate) fn format_count(n: u64) -> String {
    let scaled = |unit: f64, suffix: &str| {
        let value = n as f64 / unit;
        if value < 10.0 {
            format!("{value:.1}{suffix}")
        } else {
            format!("{value:.0}{suffix}")
        }
    };
    match n {
        0..=9_999 => n.to_string(),
        10_000..=999_999 => scaled(1e3, "k"),
        1_000_000..=999_999_999 => scaled(1e6, "M"),
        _ => scaled(1e9, "B"),
    }
}

pub(crate) fn format_ms(ms: u64) -> String {
    if ms < 1000 {
        format!("{ms} ms")
    } else {
        format!("{} s", ms.div_ceil(1000))
    }
}

impl Plan {
    fn fmt_warnings(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.warnings.is_empty() {
            writeln!(f, "Warnings:")?;
            for warning in &self.warnings {
                writeln!(f, "  - {warning}")?;
            }
        }
        Ok(())
    }
}

impl fmt::Display for Plan {
    /// The preview table, then every step with its reasons, up SQL and down SQL.
    /// Deterministic and free of checksums, so it snapshots well.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.steps.is_empty() {
            // An empty plan can still carry news (orphans, objects left alone).
            writeln!(f, "No changes.")?;
            return self.fmt_warnings(f);
        }
        let count = |level| self.steps.iter().filter(|s| s.shown_level == level).count();
        writeln!(
            f,
            "{} plan: {} step(s) — {} SAFE, {} MEDIUM, {} HIGH",
            self.dialect,
            self.steps.len(),
            count(RiskLevel::Safe),
            count(RiskLevel::Medium),
            count(RiskLevel::High)
        )?;
        let mut table = comfy_table::Table::new();
        table.load_preset(comfy_table::presets::ASCII_FULL_CONDENSED);
        table.set_header(["#", "Table", "Operation", "Details", "Risk"]);
        for step in &self.steps {
            table.add_row([
                step.number.to_string(),
                step.table.clone(),
                step.operation.label().to_owned(),
                step.details.clone(),
                risk_cell(step),
            ]);
        }
        writeln!(f, "{table}")?;
        self.fmt_warnings(f)?;
        for step in &self.steps {
            writeln!(f)?;
            writeln!(
                f,
                "-- Step {} · {} · {} · {} · group {} · lock {}{} · timeout {}",
                step.number,
                step.table,
                step.operation.label(),
                step.shown_level,
                step.group,
                step.lock,
                match step.instant_lock {
                    Some(lock) => format!(", {lock} for an instant"),
                    None => String::new(),
                },
                match step.statement_timeout_ms {
                    0 => "none".to_owned(),
                    ms => format_ms(ms),
                }
            )?;
            for reason in &step.risk.reasons {
                writeln!(f, "--   why: {reason}")?;
            }
            if !step.risk.hazards.is_empty() {
                let hazards: Vec<String> =
                    step.risk.hazards.iter().map(|h| h.to_string()).collect();
                writeln!(f, "--   hazards: {}", hazards.join(", "))?;
            }
            if let Some(ms) = step.risk.estimated_ms {
                writeln!(f, "--   estimated: {}", format_ms(ms))?;
            }
            if step.batched.is_some() {
                writeln!(f, "--   the UPDATE runs in keyset batches, one commit each (~100 ms)")?;
            }
            for statement in &step.up {
                writeln!(f, "{statement};")?;
            }
            match &step.down {
                Rollback::Sql(statements) => {
                    writeln!(f, "-- down:")?;
                    for statement in statements {
                        for line in format!("{statement};").lines() {
                            writeln!(f, "--   {line}")?;
                        }
                    }
                }
                Rollback::Irreversible { reason } => {
                    writeln!(f, "-- down: irreversible: {reason}")?
                }
            }
        }
        Ok(())
    }
}
