//! SQL dialects. Only renderers produce SQL text (invariant 2): every identifier goes
//! through the dialect's quoting function, every literal through its literal function.

pub mod mysql;
pub mod postgres;
mod rules;
pub mod sqlite;

pub(crate) use rules::is_small;
pub use rules::SqlDialect;

use serde::{Deserialize, Serialize};
use std::fmt;

/// What a data-keeping rewrite of a drop gives: up SQL, down SQL, the reason shown.
pub(crate) type Kept = (Vec<String>, Vec<String>, String);

/// Rewrites the plan's drops to keep their data (DESIGN.md invariant 6), each dialect
/// saying how through `keep` (given the change and its step; `None` leaves it): the step
/// gets the new up and down SQL, loses `DELETES_DATA` and says where the data is kept.
pub(crate) fn keep_drops(
    plan: &mut crate::plan::Plan,
    keep: impl Fn(&crate::change::Change, &crate::plan::Step) -> Option<Kept>,
) {
    for step in &mut plan.steps {
        let Some(change) = plan.changes.get(step.change) else { continue };
        if let Some((up, down, reason)) = keep(change, step) {
            step.up = up;
            step.down = crate::plan::Rollback::Sql(down);
            step.risk.hazards.retain(|h| *h != crate::risk::Hazard::DeletesData);
            step.risk.reasons.push(reason);
        }
    }
    plan.refresh_checksum();
}

/// A database dialect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Dialect {
    /// PostgreSQL 13 or later (tested on 13 to 18).
    Postgres,
    /// SQLite 3.35 or later.
    Sqlite,
    /// MySQL 8.0 or MariaDB 10.6 or later, InnoDB (tested on MariaDB 10.11).
    Mysql,
}

impl Dialect {
    /// The longest identifier the server keeps intact, in bytes.
    pub fn max_identifier_bytes(self) -> usize {
        match self {
            Dialect::Postgres => crate::naming::POSTGRES_MAX_IDENTIFIER,
            // SQLite has no limit; the same names as on PostgreSQL keep schemas portable.
            Dialect::Sqlite => crate::naming::POSTGRES_MAX_IDENTIFIER,
            // 64 characters on MySQL; the engine's own names are cut at 63 bytes.
            Dialect::Mysql => crate::naming::POSTGRES_MAX_IDENTIFIER,
        }
    }
}

impl fmt::Display for Dialect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Dialect::Postgres => "PostgreSQL",
            Dialect::Sqlite => "SQLite",
            Dialect::Mysql => "MySQL",
        })
    }
}
