//! The NOT NULL handler: adds a NOT NULL column to a populated
//! PostgreSQL table — or makes an existing nullable one NOT NULL — with one of six
//! strategies for the rows already there, in four calls:
//!
//! ```no_run
//! # async fn example(flow: &dataflow_core::DataFlow) -> dataflow_core::Result<()> {
//! use dataflow_core::not_null::{NewColumn, Strategy};
//! use dataflow_schema::{ColumnType, Literal};
//! let handler = flow.not_null_handler();
//! let plan = handler
//!     .plan_not_null_addition("users", NewColumn::new("status", ColumnType::Text),
//!         Strategy::Static(Literal::Text("active".into())))
//!     .await?;
//! let safety = handler.validate_addition_safety(&plan).await?;
//! if safety.is_safe() {
//!     let outcome = handler.execute(&plan).await?;
//!     println!("{} rows in {} batches", outcome.affected_rows, outcome.batches);
//!     handler.rollback_not_null_addition(&outcome).await?; // if it has to go again
//! }
//! # Ok(()) }
//! ```
//!
//! The handler is a front for the migrator: the plan is the one `auto_migrate` would make
//! for a model with that field (online recipes, keyset backfill, constraint validator),
//! applied under the migration lock and recorded in history, so it can be rolled back.

use crate::error::Violation;
use crate::error::{Error, Result};
use crate::migrator::{DataFlow, PostgresOnly};
use crate::options::{MigrateOptions, Mode};
use crate::report::BackfillStats;
use dataflow_schema::introspect::postgres::DEFAULT_NAMESPACE;
pub use dataflow_schema::not_null::{
    recommend_strategy, ColumnTraits, Recommendation, Strategy, StrategyKind,
};
use dataflow_schema::{
    plan_offline, Column, ColumnType, Dialect, ForeignKey, Plan, QualifiedName, RiskLevel, Schema,
    UniqueConstraint,
};
use serde::Serialize;
use std::time::{Duration, Instant};

/// The column to add.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewColumn {
    /// Its name.
    pub name: String,
    /// Its type.
    pub ty: ColumnType,
    /// Whether its values must be distinct (a UNIQUE constraint comes with it).
    pub unique: bool,
    /// The `(table, column)` it references (a FOREIGN KEY comes with it).
    pub references: Option<(QualifiedName, String)>,
}

impl NewColumn {
    /// A column of this name and type.
    pub fn new(name: impl Into<String>, ty: ColumnType) -> NewColumn {
        NewColumn { name: name.into(), ty, unique: false, references: None }
    }

    /// Values must be distinct.
    pub fn unique(mut self) -> NewColumn {
        self.unique = true;
        self
    }

    /// A foreign key to `table (column)`.
    pub fn references(mut self, table: &str, column: &str) -> NewColumn {
        self.references = Some((QualifiedName::parse(table), column.to_owned()));
        self
    }

    /// What [`recommend_strategy`] looks at.
    pub fn traits(&self) -> ColumnTraits<'_> {
        ColumnTraits {
            ty: &self.ty,
            unique: self.unique,
            references: self.references.as_ref().map(|(table, _)| table),
        }
    }
}

/// How the existing rows are filled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Execution {
    /// No row is written: a constant or stable default is stored once in the catalog.
    CatalogOnly,
    /// One `UPDATE` (a small table, a sequence, or a table without a primary key).
    SingleStatement,
    /// Keyset batches, one commit each, outside any table lock.
    KeysetBatches,
}

/// What [`NotNullHandler::plan_not_null_addition`] decided.
#[derive(Debug, Clone, Serialize)]
pub struct NotNullPlan {
    /// The table.
    pub table: QualifiedName,
    /// The column.
    pub column: String,
    /// The strategy.
    pub strategy: Strategy,
    /// Rows to fill (the planner's estimate, `reltuples`; `None` when never analysed).
    pub affected_rows: Option<u64>,
    /// How they are filled.
    pub execution: Execution,
    /// The first batch's size, when filled in batches (adaptive afterwards).
    pub batch_size: Option<u32>,
    /// Estimated duration: for a fill, the row estimate at the rate of the newest fill
    /// recorded on this database; otherwise (or before any fill) the planner's rates.
    pub estimated_duration: Duration,
    /// `statement_timeout` of each batch, or of the longest step.
    pub timeout: Duration,
    /// The highest risk of its steps.
    pub risk: RiskLevel,
    /// The steps, as `auto_migrate` would run them (`plan.preview(…)` prints them).
    pub plan: Plan,
    /// Whether the column already existed (nullable) and is only made NOT NULL.
    pub existing_column: bool,
    #[serde(skip)]
    before: Schema,
    #[serde(skip)]
    desired: Schema,
}

impl NotNullPlan {
    /// The schema the database has once it ran (the whole namespace, as introspected
    /// when planning, with the column).
    pub fn desired(&self) -> &Schema {
        &self.desired
    }

    /// The schema from before.
    pub fn before(&self) -> &Schema {
        &self.before
    }
}

/// What [`NotNullHandler::validate_addition_safety`] found.
#[derive(Debug, Clone, Default, Serialize)]
pub struct AdditionSafety {
    /// What makes the addition fail: it must not run until they are fixed.
    pub issues: Vec<String>,
    /// What to know before running it.
    pub warnings: Vec<String>,
    /// Existing rows that break a constraint of the new column, with a sample.
    pub violations: Vec<Violation>,
}

impl AdditionSafety {
    /// No issues.
    pub fn is_safe(&self) -> bool {
        self.issues.is_empty()
    }
}

/// What [`NotNullHandler::execute`] did.
#[derive(Debug, Clone, Serialize)]
pub struct NotNullOutcome {
    /// The history version (for [`NotNullHandler::rollback_not_null_addition`]).
    pub version: String,
    /// Rows given a value (counted when filled in batches, else the estimate).
    pub affected_rows: u64,
    /// Wall-clock time.
    pub elapsed: Duration,
    /// Batches committed.
    pub batches: u64,
    /// Average milliseconds per batch.
    pub average_batch_ms: f64,
    /// The fills, one per batched step.
    pub backfills: Vec<BackfillStats>,
    /// Always false on success; a failed run reports its rollback in
    /// [`Error::NotNullFailed`].
    pub rollback_executed: bool,
}

/// Plans, checks, runs and undoes NOT NULL additions (see the module docs).
#[derive(Debug, Clone)]
pub struct NotNullHandler<'a> {
    flow: &'a DataFlow,
    options: MigrateOptions,
    rollback_on_failure: bool,
}

impl DataFlow {
    /// The NOT NULL handler of this database (PostgreSQL).
    pub fn not_null_handler(&self) -> NotNullHandler<'_> {
        NotNullHandler {
            flow: self,
            options: MigrateOptions { mode: Mode::AutoConfirm, ..MigrateOptions::default() },
            rollback_on_failure: true,
        }
    }
}

impl NotNullHandler<'_> {
    /// Timeouts, batch sizes and thresholds (default: `MigrateOptions::default()` without
    /// a prompt — calling `execute` is the confirmation).
    pub fn with_options(mut self, options: MigrateOptions) -> Self {
        self.options = options;
        self
    }

    /// Whether a failed `execute` undoes what it did (default true).
    pub fn rollback_on_failure(mut self, rollback: bool) -> Self {
        self.rollback_on_failure = rollback;
        self
    }

    /// Plans adding `column` NOT NULL to `table` (`name` or `schema.name`), existing rows
    /// filled by `strategy`. An existing nullable column of that name is made NOT NULL.
    pub async fn plan_not_null_addition(
        &self,
        table: &str,
        column: NewColumn,
        strategy: Strategy,
    ) -> Result<NotNullPlan> {
        let db = self.flow.pg(PostgresOnly::NotNullHandler)?;
        let name = QualifiedName::parse(table);
        let mut namespaces = vec![DEFAULT_NAMESPACE.to_owned()];
        namespaces.extend(name.schema.clone().filter(|s| s != DEFAULT_NAMESPACE));
        let before = db.introspect(&namespaces).await?.schema;
        let refuse = |reason: String, fix: &str| Error::NotNull {
            table: name.to_string(),
            column: column.name.clone(),
            reason,
            fix: fix.to_owned(),
        };
        let mut desired = before.clone();
        let current = desired.table_mut(&name).ok_or_else(|| {
            refuse("the table does not exist".into(), "create it first (or check the name)")
        })?;
        let rows = current.stats.and_then(|s| s.rows);
        let existing_column = match current.columns.iter_mut().find(|c| c.name == column.name) {
            Some(existing) if !existing.nullable => {
                return Err(refuse(
                    "the column is already NOT NULL".into(),
                    "nothing to do; drop the call",
                ))
            }
            Some(existing) if existing.ty != column.ty => {
                return Err(refuse(
                    format!("the column exists with type {:?}, not {:?}", existing.ty, column.ty),
                    "use the existing type, or another column name",
                ))
            }
            Some(existing) => {
                strategy.apply_to(existing);
                true
            }
            None => {
                let mut added = Column::new(column.name.clone(), column.ty.clone());
                strategy.apply_to(&mut added);
                current.columns.push(added);
                false
            }
        };
        if column.unique {
            current.uniques.push(UniqueConstraint {
                columns: vec![column.name.clone()],
                ..UniqueConstraint::default()
            });
        }
        if let Some((ref_table, ref_column)) = &column.references {
            current.foreign_keys.push(ForeignKey {
                columns: vec![column.name.clone()],
                ref_table: ref_table.clone(),
                ref_columns: vec![ref_column.clone()],
                ..ForeignKey::default()
            });
        }
        dataflow_schema::naming::fill_implicit_names(current);
        let plan = plan_offline(&before, &desired, Dialect::Postgres, &self.options.plan)?;
        let batched = plan.steps.iter().any(|s| s.batched.is_some());
        let execution = if batched {
            Execution::KeysetBatches
        } else if plan.steps.iter().flat_map(|s| &s.up).any(|sql| sql.starts_with("UPDATE ")) {
            Execution::SingleStatement
        } else {
            Execution::CatalogOnly
        };
        let backfill = &self.options.apply.backfill;
        let mut estimated_duration = Duration::from_millis(plan.safety().estimated_ms.unwrap_or(0));
        if batched {
            if let (Some(rows), Some(rate)) = (rows, self.measured_rate().await) {
                estimated_duration = Duration::from_millis((rows as f64 / rate) as u64);
            }
        }
        Ok(NotNullPlan {
            table: name.clone(),
            column: column.name.clone(),
            strategy,
            affected_rows: rows,
            execution,
            batch_size: batched.then(|| backfill.first_batch()),
            estimated_duration,
            timeout: if batched {
                backfill.batch_timeout
            } else {
                Duration::from_millis(
                    plan.steps.iter().map(|s| s.statement_timeout_ms).max().unwrap_or(30_000),
                )
            },
            risk: plan.steps.iter().map(|s| s.shown_level).max().unwrap_or(RiskLevel::Safe),
            plan,
            existing_column,
            before,
            desired,
        })
    }

    /// Checks the plan against the existing rows before anything changes: values the
    /// strategy would leave NULL, foreign-key targets that do not exist, duplicates of a
    /// unique column, SQL that does not evaluate. Issues block; warnings inform.
    pub async fn validate_addition_safety(&self, plan: &NotNullPlan) -> Result<AdditionSafety> {
        let db = self.flow.pg(PostgresOnly::NotNullHandler)?;
        let mut connection = db.connection().await?;
        let mut safety = AdditionSafety::default();
        if plan.plan.is_empty() {
            safety.issues.push(format!("{}.{}: nothing to do", plan.table, plan.column));
        }
        match crate::connector::postgres::preflight::violations(&mut connection, &plan.plan).await {
            Ok(violations) => {
                safety.issues.extend(violations.iter().map(|v| {
                    format!(
                        "{}: {} row(s) break it, e.g. {} — {}",
                        v.constraint,
                        v.rows,
                        v.sample.join(", "),
                        v.fix
                    )
                }));
                safety.violations = violations;
            }
            Err(Error::Preflight { what, source, .. }) => {
                safety.issues.push(format!("{what}: the fill cannot be evaluated: {source}"))
            }
            Err(other) => return Err(other),
        }
        if !plan.strategy.covers_new_rows() {
            safety.warnings.push(format!(
                "{:?} fills existing rows only: from the moment it runs, every INSERT must give \
                 `{}` a value — deploy the code that writes it first",
                plan.strategy.kind(),
                plan.column
            ));
        }
        let triggers: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_catalog.pg_trigger \
             WHERE tgrelid = to_regclass($1) AND NOT tgisinternal",
        )
        .bind(dataflow_schema::dialect::postgres::qualified(&plan.table))
        .fetch_one(&mut *connection)
        .await
        .map_err(|source| Error::Connect { url: db.url().to_owned(), source })?;
        if triggers > 0 && plan.execution != Execution::CatalogOnly {
            safety.warnings.push(format!(
                "{triggers} trigger(s) on {} fire for every row the fill updates",
                plan.table
            ));
        }
        if plan.risk > RiskLevel::Safe {
            for step in plan.plan.steps.iter().filter(|s| s.shown_level > RiskLevel::Safe) {
                safety.warnings.push(format!(
                    "step {} ({} · {}) is {}: {}",
                    step.number,
                    step.table,
                    step.operation.label(),
                    step.shown_level,
                    step.risk.reasons.join("; ")
                ));
            }
        }
        if plan.estimated_duration > Duration::from_secs(60) {
            safety.warnings.push(format!(
                "estimated {} s for ~{} rows: progress is logged and recorded; a stopped run \
                 resumes after its last batch",
                plan.estimated_duration.as_secs(),
                plan.affected_rows.unwrap_or(0)
            ));
        }
        Ok(safety)
    }

    /// Runs the plan under the migration lock (refusing if the schema changed since it was
    /// planned), recorded in history; the constraint validator runs first. On failure, with `rollback_on_failure`, what was done
    /// is undone and [`Error::NotNullFailed`] says so.
    pub async fn execute(&self, plan: &NotNullPlan) -> Result<NotNullOutcome> {
        let started = Instant::now();
        // An explicit call re-applies a target that was rolled back before (`force`): the
        // refusal guards against replicas undoing a rollback, not against a deliberate call.
        let options = MigrateOptions {
            expected_plan: Some(plan.plan.plan_checksum.clone()),
            force: true,
            ..self.options.clone()
        };
        match self.flow.migrate_namespace(plan.desired.clone(), options).await {
            Ok(report) => {
                let batches = report.backfills.iter().map(|b| b.batches).sum::<u64>();
                let batch_ms = report.backfills.iter().map(|b| b.ms).sum::<u64>();
                let affected_rows = if report.backfills.is_empty() {
                    plan.affected_rows.unwrap_or(0)
                } else {
                    report.backfills.iter().map(|b| b.changed).sum()
                };
                Ok(NotNullOutcome {
                    version: report.version.unwrap_or_default(),
                    affected_rows,
                    elapsed: started.elapsed(),
                    batches,
                    average_batch_ms: if batches == 0 {
                        0.0
                    } else {
                        batch_ms as f64 / batches as f64
                    },
                    backfills: report.backfills,
                    rollback_executed: false,
                })
            }
            Err(error) => {
                let rolled_back = self.rollback_on_failure && self.revert(plan).await.is_ok();
                Err(Error::NotNullFailed {
                    table: plan.table.to_string(),
                    column: plan.column.clone(),
                    rolled_back,
                    source: Box::new(error),
                })
            }
        }
    }

    /// Undoes an executed addition (its history run): the column goes (or becomes nullable
    /// again, when it existed before).
    pub async fn rollback_not_null_addition(&self, outcome: &NotNullOutcome) -> Result<()> {
        self.flow.rollback_migration(&outcome.version).await
    }

    /// Rows per millisecond of the newest fill this database recorded.
    async fn measured_rate(&self) -> Option<f64> {
        let db = self.flow.pg(PostgresOnly::NotNullHandler).ok()?;
        let mut connection = db.pool().acquire().await.ok()?;
        crate::connector::postgres::history::measured_fill_rate(
            &mut connection,
            self.flow.history_namespace(),
        )
        .await
    }

    /// Back to the schema from before the plan: a new column's half-filled values are
    /// derived data, so they are dropped without a backup.
    async fn revert(&self, plan: &NotNullPlan) -> Result<()> {
        let options = MigrateOptions {
            mode: Mode::AutoConfirm,
            max_risk: RiskLevel::High,
            backup_before_destructive: plan.existing_column,
            check_existing_rows: false,
            ..self.options.clone()
        };
        let outcome = self.flow.migrate_namespace(plan.before.clone(), options).await;
        if let Err(error) = &outcome {
            tracing::error!(
                target: "dataflow::not_null",
                error = %crate::error::report(error),
                "undoing the failed addition failed"
            );
        }
        outcome.map(|_| ())
    }
}
