//! Every attribute keyword as a constant, so the matching code has no bare strings.

use std::fmt::{self, Display};
use syn::{Ident, Path};

/// An attribute keyword.
#[derive(Copy, Clone)]
pub struct Symbol(pub &'static str);

pub const DATAFLOW: Symbol = Symbol("dataflow");

// Struct level.
pub const TABLE: Symbol = Symbol("table");
pub const SCHEMA: Symbol = Symbol("schema");
pub const RENAMED_FROM: Symbol = Symbol("renamed_from");
pub const INDEX: Symbol = Symbol("index");
pub const UNIQUE: Symbol = Symbol("unique");
pub const CHECK: Symbol = Symbol("check");
pub const PRIMARY_KEY: Symbol = Symbol("primary_key");
pub const COMMENT: Symbol = Symbol("comment");
pub const COLUMNS: Symbol = Symbol("columns");
pub const NAME: Symbol = Symbol("name");
pub const METHOD: Symbol = Symbol("method");
pub const PREDICATE: Symbol = Symbol("predicate");

// Field level.
pub const COLUMN: Symbol = Symbol("column");
pub const AUTO: Symbol = Symbol("auto");
pub const MAX_LENGTH: Symbol = Symbol("max_length");
pub const DEFAULT: Symbol = Symbol("default");
pub const DEFAULT_SQL: Symbol = Symbol("default_sql");
pub const SQL_TYPE: Symbol = Symbol("sql_type");
pub const REFERENCES: Symbol = Symbol("references");
pub const ON_DELETE: Symbol = Symbol("on_delete");
pub const ON_UPDATE: Symbol = Symbol("on_update");
pub const SKIP: Symbol = Symbol("skip");
pub const BACKFILL: Symbol = Symbol("backfill");
pub const BACKFILL_CASE: Symbol = Symbol("backfill_case");
pub const BACKFILL_SEQUENCE: Symbol = Symbol("backfill_sequence");
pub const BACKFILL_FK: Symbol = Symbol("backfill_fk");
pub const WHEN: Symbol = Symbol("when");
pub const ELSE: Symbol = Symbol("else");
pub const START: Symbol = Symbol("start");
pub const STEP: Symbol = Symbol("step");
pub const VALUE: Symbol = Symbol("value");
pub const WHERE: Symbol = Symbol("where");

// DbEnum.
pub const RENAME: Symbol = Symbol("rename");
pub const RENAME_ALL: Symbol = Symbol("rename_all");

impl PartialEq<Symbol> for Ident {
    fn eq(&self, word: &Symbol) -> bool {
        self == word.0
    }
}

impl PartialEq<Symbol> for &Ident {
    fn eq(&self, word: &Symbol) -> bool {
        *self == word.0
    }
}

impl PartialEq<Symbol> for Path {
    fn eq(&self, word: &Symbol) -> bool {
        self.is_ident(word.0)
    }
}

impl PartialEq<Symbol> for &Path {
    fn eq(&self, word: &Symbol) -> bool {
        self.is_ident(word.0)
    }
}

impl Display for Symbol {
    fn fmt(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str(self.0)
    }
}
