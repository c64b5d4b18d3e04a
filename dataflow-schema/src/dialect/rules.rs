//! [`SqlDialect`]: what planning asks of a database's dialect, one object per database
//! ([`Dialect::rules`]), so the planner calls methods instead of comparing `Dialect`
//! values. Each database's answers live in its own folder (`dialect/<database>/`).

use super::postgres::render::Rendered;
use super::{mysql, postgres, sqlite, Dialect};
use crate::change::Change;
use crate::error::PlanError;
use crate::model::{ColumnType, DefaultExpr, QualifiedName, Schema, Table, TableStats};
use crate::plan::{Batched, LockLevel, Plan, PlanOptions};
use crate::risk::Assessment;

/// What a database's catalog and parser accept beyond the rules every database shares
/// (`validate.rs` checks a desired schema against them before anything runs).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct CatalogLimits {
    /// Names, text defaults, comments and model SQL must stay in the Basic Multilingual
    /// Plane: the catalog stores them in utf8mb3 (MariaDB) and reads others back as `?`.
    pub basic_multilingual_plane_only: bool,
    /// Names may not end with a space (MySQL and MariaDB refuse them).
    pub no_trailing_space_in_names: bool,
    /// Model SQL must also be one fragment as MySQL lexes it (no `$$` strings, no double
    /// quotes).
    pub mysql_lexer: bool,
    /// Model SQL must also be one fragment as SQLite lexes it (no `$$` strings).
    pub sqlite_lexer: bool,
    /// Index and key names are per table, not shared with tables in the namespace (MySQL:
    /// every primary key is `PRIMARY`).
    pub index_names_per_table: bool,
    /// Table, index and column names that differ only in ASCII case are the same name
    /// (SQLite).
    pub names_ignore_case: bool,
    /// Column names that differ only in case are the same column (MySQL, SQLite).
    pub column_names_ignore_case: bool,
    /// A foreign key may reference any columns an index begins with (MySQL/MariaDB); else
    /// only a primary key or a unique constraint or index on exactly its columns.
    pub references_any_index: bool,
}

/// The per-database half of planning. Defaults are what a database without the feature
/// does.
pub trait SqlDialect: Sync {
    /// The form `desired` takes on this database, with warnings for what it changed; an
    /// error for what it cannot hold. `None`: it holds `desired` as it is.
    fn shape(&self, _desired: &Schema) -> Result<Option<(Schema, Vec<String>)>, PlanError> {
        Ok(None)
    }

    /// `schema` with names spelled in the default namespace unqualified, when it spells
    /// any (`public.users` and `users` are the same table).
    fn unqualified(&self, _schema: &Schema) -> Option<Schema> {
        None
    }

    /// Whether the database rebuilds tables for what it cannot alter in place (SQLite).
    fn rebuilds(&self) -> bool {
        false
    }

    /// The differ's changes with those one statement covers merged into it (SQLite's
    /// table rebuild, MySQL's whole-column `MODIFY`); the planner checks every change can
    /// fill its rows before.
    fn coalesce(&self, _current: &Schema, _desired: &Schema, changes: Vec<Change>) -> Vec<Change> {
        changes
    }

    /// The online recipes for tables `populated` says hold rows (PostgreSQL: foreign keys
    /// and checks added `NOT VALID` then validated).
    fn online(
        &self,
        changes: Vec<Change>,
        _populated: &dyn Fn(&QualifiedName) -> bool,
    ) -> Vec<Change> {
        changes
    }

    /// Whether a change is rendered against the schema as it is when the change runs
    /// (PostgreSQL's type swap re-creates what uses the column then).
    fn follows_the_running_schema(&self, _changes: &[Change]) -> bool {
        false
    }

    /// The non-blocking form of `change` on a populated table, if it has one
    /// (PostgreSQL's `CONCURRENTLY` builds and CHECK-proven NOT NULL).
    fn concurrent(&self, _change: &Change, _state: &Schema) -> Option<Rendered> {
        None
    }

    /// Up and down SQL of `change` (`current` and `desired`: the whole schemas, for a
    /// database that renders a column whole).
    fn render(&self, change: &Change, current: &Schema, desired: &Schema) -> Rendered;

    /// How risky `change` is on a table of size `stats` (RISK.md, per database).
    fn assess(&self, change: &Change, stats: Option<TableStats>) -> Assessment;

    /// The rating of a change's online form: `concurrent` when it runs in its
    /// non-blocking form.
    fn rate_online(&self, _change: &Change, _concurrent: bool, rated: Assessment) -> Assessment {
        rated
    }

    /// A concurrent step's fill as keyset batches, when it has one.
    fn batched(&self, _change: &Change, _up: &[String], _table: Option<&Table>) -> Option<Batched> {
        None
    }

    /// Whether DDL runs inside transactions. MySQL commits every DDL statement itself, so
    /// each step is its own group there, recorded when done.
    fn transactional_ddl(&self) -> bool {
        true
    }

    /// What its catalog and parser accept beyond the shared rules.
    fn catalog_limits(&self) -> CatalogLimits {
        CatalogLimits::default()
    }

    /// The stronger lock an online form from [`SqlDialect::concurrent`] also takes for an
    /// instant, if any.
    fn instant_lock(&self, _change: &Change) -> Option<LockLevel> {
        None
    }

    /// Rewrites `plan`'s drops to keep their data under names of run `version` (a
    /// dropped table goes to the trash, a dropped column's values to a backup table),
    /// with downs that bring them back.
    fn keep_data(&self, plan: &mut Plan, version: &str);

    /// A column type as this database spells it (previews).
    fn type_name(&self, ty: &ColumnType) -> String;

    /// A default as this database spells it (previews).
    fn default_text(&self, default: &DefaultExpr) -> String;
}

impl Dialect {
    /// The dialect's planning rules.
    pub fn rules(self) -> &'static dyn SqlDialect {
        match self {
            Dialect::Postgres => &PostgresRules,
            Dialect::Sqlite => &SqliteRules,
            Dialect::Mysql => &MysqlRules,
        }
    }
}

/// Whether a table of size `stats` is small enough for a direct form (unknown is large).
pub(crate) fn is_small(stats: Option<TableStats>, options: &PlanOptions) -> bool {
    postgres::online::is_small(stats, options)
}

struct PostgresRules;

impl SqlDialect for PostgresRules {
    fn keep_data(&self, plan: &mut Plan, version: &str) {
        postgres::keep::keep_data(plan, version);
    }

    fn unqualified(&self, schema: &Schema) -> Option<Schema> {
        postgres::names_default_namespace(schema).then(|| {
            let mut schema = schema.clone();
            postgres::unqualify_default_namespace(&mut schema);
            schema
        })
    }

    fn online(
        &self,
        changes: Vec<Change>,
        populated: &dyn Fn(&QualifiedName) -> bool,
    ) -> Vec<Change> {
        postgres::online::expand(changes, populated)
    }

    fn follows_the_running_schema(&self, changes: &[Change]) -> bool {
        changes.iter().any(|c| matches!(c, Change::AlterColumnType { .. }))
    }

    fn concurrent(&self, change: &Change, state: &Schema) -> Option<Rendered> {
        if postgres::online::is_concurrent(change) {
            postgres::online::render_concurrent(change, state)
        } else {
            None
        }
    }

    fn instant_lock(&self, change: &Change) -> Option<LockLevel> {
        postgres::online::instant_lock(change)
    }

    fn render(&self, change: &Change, _current: &Schema, _desired: &Schema) -> Rendered {
        postgres::render::render(change)
    }

    fn assess(&self, change: &Change, stats: Option<TableStats>) -> Assessment {
        postgres::risk::assess(change, stats)
    }

    fn rate_online(&self, change: &Change, concurrent: bool, rated: Assessment) -> Assessment {
        postgres::online::rate(change, concurrent, rated)
    }

    fn batched(&self, change: &Change, up: &[String], table: Option<&Table>) -> Option<Batched> {
        postgres::online::batched(change, up, table)
    }

    fn type_name(&self, ty: &ColumnType) -> String {
        postgres::render_type(ty)
    }

    fn default_text(&self, default: &DefaultExpr) -> String {
        postgres::render_default(default)
    }
}

struct SqliteRules;

impl SqlDialect for SqliteRules {
    fn keep_data(&self, plan: &mut Plan, version: &str) {
        sqlite::keep::keep_data(plan, version);
    }

    fn shape(&self, desired: &Schema) -> Result<Option<(Schema, Vec<String>)>, PlanError> {
        sqlite::shape::shape(desired).map(Some)
    }

    fn rebuilds(&self) -> bool {
        true
    }

    fn coalesce(&self, current: &Schema, desired: &Schema, changes: Vec<Change>) -> Vec<Change> {
        sqlite::render::coalesce(current, desired, changes)
    }

    fn render(&self, change: &Change, _current: &Schema, _desired: &Schema) -> Rendered {
        sqlite::render::render(change)
    }

    fn assess(&self, change: &Change, stats: Option<TableStats>) -> Assessment {
        sqlite::risk::assess(change, stats)
    }

    fn catalog_limits(&self) -> CatalogLimits {
        CatalogLimits {
            sqlite_lexer: true,
            names_ignore_case: true,
            column_names_ignore_case: true,
            ..CatalogLimits::default()
        }
    }

    fn type_name(&self, ty: &ColumnType) -> String {
        sqlite::render_type(ty)
    }

    fn default_text(&self, default: &DefaultExpr) -> String {
        sqlite::render_default(default)
    }
}

struct MysqlRules;

impl SqlDialect for MysqlRules {
    fn coalesce(&self, _current: &Schema, _desired: &Schema, changes: Vec<Change>) -> Vec<Change> {
        mysql::render::carry_restated_column_changes(changes)
    }

    fn keep_data(&self, plan: &mut Plan, version: &str) {
        mysql::keep::keep_data(plan, version);
    }

    fn shape(&self, desired: &Schema) -> Result<Option<(Schema, Vec<String>)>, PlanError> {
        mysql::shape::shape(desired).map(Some)
    }

    fn render(&self, change: &Change, current: &Schema, desired: &Schema) -> Rendered {
        mysql::render::render(change, current, desired)
    }

    fn assess(&self, change: &Change, stats: Option<TableStats>) -> Assessment {
        mysql::risk::assess(change, stats)
    }

    fn transactional_ddl(&self) -> bool {
        false
    }

    fn catalog_limits(&self) -> CatalogLimits {
        CatalogLimits {
            basic_multilingual_plane_only: true,
            no_trailing_space_in_names: true,
            mysql_lexer: true,
            sqlite_lexer: false,
            index_names_per_table: true,
            names_ignore_case: false,
            column_names_ignore_case: true,
            references_any_index: true,
        }
    }

    fn type_name(&self, ty: &ColumnType) -> String {
        mysql::render_type(ty)
    }

    fn default_text(&self, default: &DefaultExpr) -> String {
        mysql::render_default(default)
    }
}
