//! [`Dialect`]: which database a plan is for. The vocabulary only; each dialect's rules
//! are in `dialect/` (`Dialect::rules`).

use serde::{Deserialize, Serialize};
use std::fmt;

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
