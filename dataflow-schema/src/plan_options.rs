//! [`PlanOptions`]: what shapes a plan, shared by the planner and the risk rules.

use serde::{Deserialize, Serialize};

/// Options that shape a plan (`#[non_exhaustive]`: build it with the `with_…` setters).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct PlanOptions {
    /// Tables with fewer rows than this (and fewer bytes than `tiny_table_bytes`) count as
    /// tiny: a MEDIUM caused only by lock duration is shown as SAFE. Default 10,000.
    pub tiny_table_rows: u64,
    /// Default 10 MB.
    pub tiny_table_bytes: u64,
}

impl Default for PlanOptions {
    fn default() -> Self {
        PlanOptions { tiny_table_rows: 10_000, tiny_table_bytes: 10 * 1024 * 1024 }
    }
}

crate::__with_setters!(PlanOptions {
    with_tiny_table_rows => tiny_table_rows: u64,
    with_tiny_table_bytes => tiny_table_bytes: u64,
});
