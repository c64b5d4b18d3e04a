//! Risk rating: typed levels and hazards, rendered to text only at the edge.
//!
//! The facts per operation live with each dialect (`dialect::postgres::risk`) and follow
//! `RISK.md`; this module holds the vocabulary and the policies shared by all dialects.

use crate::plan_options::PlanOptions;
use serde::{Deserialize, Serialize};
use std::fmt;

/// How dangerous a change is (RISK.md §1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum RiskLevel {
    /// No data loss, no lock longer than an instant, reversible.
    Safe,
    /// Loses nothing, but blocks for a time proportional to table size, can fail on
    /// existing data, or changes what stored values mean.
    Medium,
    /// Can lose data or remove a guarantee running code relies on.
    High,
}

impl fmt::Display for RiskLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RiskLevel::Safe => "SAFE",
            RiskLevel::Medium => "MEDIUM",
            RiskLevel::High => "HIGH",
        })
    }
}

/// What can go wrong (RISK.md §5; names follow Stripe pg-schema-diff).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[non_exhaustive]
pub enum Hazard {
    /// Blocks every read and write while held and while queued.
    AcquiresAccessExclusiveLock,
    /// Blocks writes for the whole index build.
    AcquiresShareLock,
    /// Blocks writes to the table and the referenced table.
    AcquiresShareRowExclusiveLock,
    /// Rows, column values or sequence state are destroyed.
    DeletesData,
    /// Builds an index: CPU, IO, WAL volume, replica lag.
    IndexBuild,
    /// An index goes away: queries may turn into scans, ON CONFLICT may break.
    IndexDropped,
    /// Semantics change for running code or stored data.
    Correctness,
    /// Long scans, rewrites or backfills: IO, WAL, bloat, replication lag.
    ImpactsDatabasePerformance,
    /// The object may be used by code the diff cannot see (application SQL, functions).
    HasUntrackableDependencies,
    /// Privileges or ownership change.
    AuthzUpdate,
    /// SQL written by a person; the engine cannot analyse it.
    IsUserGenerated,
    /// An extension upgrade runs arbitrary scripts.
    UpgradingExtensionVersion,
}

impl fmt::Display for Hazard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The serde name is the documented spelling.
        let name = serde_json::to_value(self)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        f.write_str(&name)
    }
}

/// The rating of one change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Assessment {
    /// The level for a table of any size (see [`Assessment::shown_level`] for the one a
    /// plan shows and `max_risk` compares).
    pub level: RiskLevel,
    /// Hazards, sorted.
    pub hazards: Vec<Hazard>,
    /// Why, in words, one sentence each.
    pub reasons: Vec<String>,
    /// Rows the change touches or scans, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub estimated_rows: Option<u64>,
    /// Table size in bytes, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub estimated_bytes: Option<u64>,
    /// Rough duration, when the row count is known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub estimated_ms: Option<u64>,
    /// MEDIUM only because of how long a lock is held (rewrite, scan, index build).
    pub lock_bound: bool,
    /// Can fail on existing data (duplicates, NULLs, orphans, un-castable values).
    pub can_fail_on_data: bool,
}

impl Assessment {
    /// A fresh assessment at `level`.
    pub fn new(level: RiskLevel) -> Self {
        Assessment {
            level,
            hazards: Vec::new(),
            reasons: Vec::new(),
            estimated_rows: None,
            estimated_bytes: None,
            estimated_ms: None,
            lock_bound: false,
            can_fail_on_data: false,
        }
    }

    /// This assessment and `other`'s for one statement that makes both changes: the higher
    /// level, every hazard, the longer estimate. The reasons stay this statement's own:
    /// `other`'s describe a statement of its own (an in-place rebuild, say) that does not run.
    pub fn combined(mut self, other: Assessment) -> Self {
        self.level = self.level.max(other.level);
        self = self.hazards(&other.hazards);
        self.estimated_ms = self.estimated_ms.max(other.estimated_ms);
        self.lock_bound |= other.lock_bound;
        self.can_fail_on_data |= other.can_fail_on_data;
        self
    }

    /// Adds hazards (kept sorted and unique).
    pub fn hazards(mut self, hazards: &[Hazard]) -> Self {
        self.hazards.extend_from_slice(hazards);
        self.hazards.sort();
        self.hazards.dedup();
        self
    }

    /// Adds a reason.
    pub fn reason(mut self, reason: impl Into<String>) -> Self {
        self.reasons.push(reason.into());
        self
    }

    /// Raises the level to at least `level`.
    pub fn at_least(mut self, level: RiskLevel) -> Self {
        self.level = self.level.max(level);
        self
    }

    /// Marks the level as caused by lock duration only.
    pub fn lock_bound(mut self) -> Self {
        self.lock_bound = true;
        self
    }

    /// Marks the change as able to fail on existing rows.
    pub fn can_fail_on_data(mut self) -> Self {
        self.can_fail_on_data = true;
        self
    }

    /// Whether the change can alter what the application reads (CORRECTNESS): such a change
    /// counts as HIGH against `max_risk`, so it is never applied unconfirmed.
    pub fn changes_meaning(&self) -> bool {
        self.hazards.contains(&Hazard::Correctness)
    }

    /// The level shown to people: a MEDIUM caused only by lock duration is shown as SAFE
    /// when the table is empty, or tiny and the change cannot fail on its rows. Unknown
    /// size is never small.
    pub fn shown_level(&self, sizes: &PlanOptions) -> RiskLevel {
        let tiny = match (self.estimated_rows, self.estimated_bytes) {
            (Some(0), _) => true,
            (Some(rows), bytes) => {
                !self.can_fail_on_data
                    && rows < sizes.tiny_table_rows
                    && bytes.is_none_or(|b| b < sizes.tiny_table_bytes)
            }
            (None, _) => false,
        };
        if self.level == RiskLevel::Medium && self.lock_bound && tiny {
            RiskLevel::Safe
        } else {
            self.level
        }
    }
}
