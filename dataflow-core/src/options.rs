//! What a caller chooses: how `auto_migrate` behaves ([`MigrateOptions`], [`Mode`]) and
//! how a plan is applied ([`ApplyOptions`], [`BackfillOptions`]) — the same words for
//! every database.

use dataflow_schema::{Operation, Plan, PlanOptions, RiskLevel};
use std::sync::Arc;
use std::time::Duration;

/// Asked before applying in [`Mode::Interactive`], after the preview was printed:
/// `true` applies.
pub type ConfirmHook = Arc<dyn Fn(&Plan) -> bool + Send + Sync>;

/// How `auto_migrate` behaves.
#[derive(Clone)]
pub enum Mode {
    /// Print the preview on stderr, then ask the hook ([`Mode::prompt`] asks
    /// `Apply these changes? [y/N]` on the terminal).
    Interactive(ConfirmHook),
    /// Plan and report; change nothing, take no lock.
    DryRun,
    /// Apply without asking (what a replica does).
    AutoConfirm,
    /// Migrate nothing: wait until the schema matches (another process migrates).
    WaitOnly,
}

impl Mode {
    /// Interactive with the terminal prompt `Apply these changes? [y/N]` (no terminal: no).
    pub fn prompt() -> Mode {
        Mode::Interactive(Arc::new(|_| crate::terminal::confirm("Apply these changes?")))
    }

    /// Interactive without a question: prints the preview (so logs show what ran), then
    /// applies. What `dataflow apply --yes` does.
    pub fn preview_and_apply() -> Mode {
        Mode::Interactive(Arc::new(|_| true))
    }

    /// The default: [`Mode::prompt`] when stdin and stderr are terminals, so a
    /// developer sees and confirms; [`Mode::AutoConfirm`] otherwise, so a replica never
    /// hangs on a prompt.
    pub fn for_terminal() -> Mode {
        if crate::terminal::is_interactive() {
            Mode::prompt()
        } else {
            Mode::AutoConfirm
        }
    }
}

impl std::fmt::Debug for Mode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Mode::Interactive(_) => "Interactive",
            Mode::DryRun => "DryRun",
            Mode::AutoConfirm => "AutoConfirm",
            Mode::WaitOnly => "WaitOnly",
        })
    }
}

/// Options of [`crate::DataFlow::auto_migrate`].
/// `#[non_exhaustive]`: build it with the `with_…` setters, e.g.
/// `MigrateOptions::default().with_max_risk(RiskLevel::High)`.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct MigrateOptions {
    /// Default: [`Mode::for_terminal`] (asks on a terminal, applies unasked elsewhere).
    pub mode: Mode,
    /// The highest risk applied without refusing (default MEDIUM).
    pub max_risk: RiskLevel,
    /// A reviewed plan's checksum: refuse if the plan differs.
    pub expected_plan: Option<String>,
    /// How long to wait for another migrator's lock (default 15 min).
    pub migration_lock_timeout: Duration,
    /// For [`Mode::WaitOnly`]: give up after this long (default: wait as long as the lock).
    pub deadline: Option<Duration>,
    /// Lock timeout and retries of each step.
    pub apply: ApplyOptions,
    /// Size thresholds for the shown risk.
    pub plan: PlanOptions,
    /// Re-apply a target that was rolled back (otherwise not applied: the next replica
    /// would silently undo the rollback).
    pub force: bool,
    /// When the models' target was rolled back and `force` is off: start anyway without
    /// migrating (the default) or fail.
    pub after_rollback: AfterRollback,
    /// Only these tables (empty: all).
    pub include_tables: Vec<String>,
    /// Never these operations (they stay pending).
    pub exclude_operations: Vec<Operation>,
    /// Drop tables dataflow created that no model names any more (HIGH, kept in the trash).
    pub drop_orphans: bool,
    /// Keep dropped tables in the trash and dropped columns in backups so a rollback
    /// restores their data (default true).
    pub backup_before_destructive: bool,
    /// The preview (Interactive and DryRun modes) shows every step's SQL (default true).
    pub show_sql: bool,
    /// The preview shows the rollback plan (default true).
    pub show_rollback_plan: bool,
    /// Before changing anything, count the existing rows that would break each CHECK,
    /// FOREIGN KEY, UNIQUE and NOT NULL the plan adds to a populated table, and refuse
    /// with the count and a sample (default true; each check reads the table once).
    pub check_existing_rows: bool,
}

dataflow_schema::__with_setters!(MigrateOptions {
    with_mode => mode: Mode,
    with_max_risk => max_risk: RiskLevel,
    with_expected_plan => expected_plan: Option<String>,
    with_migration_lock_timeout => migration_lock_timeout: Duration,
    with_deadline => deadline: Option<Duration>,
    with_apply => apply: ApplyOptions,
    with_plan => plan: PlanOptions,
    with_force => force: bool,
    with_after_rollback => after_rollback: AfterRollback,
    with_include_tables => include_tables: Vec<String>,
    with_exclude_operations => exclude_operations: Vec<Operation>,
    with_drop_orphans => drop_orphans: bool,
    with_backup_before_destructive => backup_before_destructive: bool,
    with_show_sql => show_sql: bool,
    with_show_rollback_plan => show_rollback_plan: bool,
    with_check_existing_rows => check_existing_rows: bool,
});

impl Default for MigrateOptions {
    fn default() -> Self {
        MigrateOptions {
            mode: Mode::for_terminal(),
            max_risk: RiskLevel::Medium,
            expected_plan: None,
            migration_lock_timeout: Duration::from_secs(15 * 60),
            deadline: None,
            apply: ApplyOptions::default(),
            plan: PlanOptions::default(),
            force: false,
            after_rollback: AfterRollback::default(),
            include_tables: Vec::new(),
            exclude_operations: Vec::new(),
            drop_orphans: false,
            backup_before_destructive: true,
            show_sql: true,
            show_rollback_plan: true,
            check_existing_rows: true,
        }
    }
}

/// What `auto_migrate` does when the models describe a target an operator rolled back
/// (a replica starting, or restarting, with the models the rollback undid).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AfterRollback {
    /// Log a warning (`dataflow::migrate`) and return without migrating
    /// (`MigrationReport::applied` false, the pending plan in the report): the service
    /// starts on the rolled-back schema, and the rollback is not undone behind the
    /// operator's back. Apply the target again with `force` when that is wanted.
    #[default]
    Continue,
    /// Return [`crate::Error::RolledBackTarget`] (what `dataflow apply` does: exit 2).
    Refuse,
}

/// What the target describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scope {
    /// The application's models: tables they do not name are left alone.
    Models,
    /// The whole database (DB-vs-DB): what the target lacks is dropped.
    Database,
}

/// Timeouts and retries for applying a plan.
/// `#[non_exhaustive]`: build it with the `with_…` setters.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ApplyOptions {
    /// How long one statement may wait for a lock (default 2 s).
    pub lock_timeout: Duration,
    /// Attempts after a lock timeout (default 10).
    pub retries: u32,
    /// First backoff (default 100 ms), doubled per attempt up to `max_backoff` (5 s).
    pub base_backoff: Duration,
    /// Longest backoff.
    pub max_backoff: Duration,
    /// How fills on populated tables run (keyset batches).
    pub backfill: BackfillOptions,
}

dataflow_schema::__with_setters!(ApplyOptions {
    with_lock_timeout => lock_timeout: Duration,
    with_retries => retries: u32,
    with_base_backoff => base_backoff: Duration,
    with_max_backoff => max_backoff: Duration,
    with_backfill => backfill: BackfillOptions,
});

impl ApplyOptions {
    /// How long to wait before retry `attempt` (0-based) of a step that could not get its
    /// lock: exponential backoff with full jitter, uniform in
    /// [0, min(`max_backoff`, `base_backoff` · 2^attempt)], so replicas that collided once
    /// do not collide again in step.
    pub(crate) fn backoff(&self, attempt: u32) -> Duration {
        let ceiling = self.base_backoff.saturating_mul(1 << attempt.min(16)).min(self.max_backoff);
        ceiling.mul_f64(fastrand::f64())
    }
}

impl Default for ApplyOptions {
    fn default() -> Self {
        ApplyOptions {
            lock_timeout: Duration::from_secs(2),
            retries: 10,
            base_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(5),
            backfill: BackfillOptions::default(),
        }
    }
}

/// How the executor sizes batches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BatchSize {
    /// Starts at `start` rows and aims at `target` per batch, never more than doubling at
    /// once, between `min` and `max` (defaults: 10,000, ~100 ms, 100, 50,000).
    Adaptive {
        /// The first batch's size.
        start: u32,
        /// The time a batch should take.
        target: Duration,
        /// The smallest batch.
        min: u32,
        /// The largest batch.
        max: u32,
    },
    /// Always this many rows.
    Fixed(u32),
}

impl Default for BatchSize {
    fn default() -> Self {
        BatchSize::Adaptive {
            start: 10_000,
            target: Duration::from_millis(100),
            min: 100,
            max: 50_000,
        }
    }
}

impl BatchSize {
    pub(crate) fn first(&self) -> u32 {
        match *self {
            BatchSize::Adaptive { start, min, max, .. } => start.clamp(min, max.max(min)),
            BatchSize::Fixed(rows) => rows.max(1),
        }
    }

    /// The size after a batch of `size` rows took `took` (the PostgreSQL fill).
    #[cfg_attr(not(feature = "postgres"), allow(dead_code))]
    pub(crate) fn next(&self, size: u32, took: Duration) -> u32 {
        match *self {
            BatchSize::Fixed(rows) => rows.max(1),
            BatchSize::Adaptive { target, min, max, .. } => {
                let took = took.as_micros().max(1);
                let scaled =
                    (u128::from(size) * target.as_micros() / took).min(u128::from(size) * 2);
                u32::try_from(scaled).unwrap_or(u32::MAX).clamp(min, max.max(min))
            }
        }
    }
}

/// Options of the backfill executor (part of [`ApplyOptions`]).
/// `#[non_exhaustive]`: build it with the `with_…` setters.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct BackfillOptions {
    /// Batch sizing (default adaptive).
    pub batch_size: BatchSize,
    /// A pause after every batch, to leave the server room (default none).
    pub throttle: Duration,
    /// `VACUUM` the table each time this fraction of its rows has been rewritten, so the
    /// space of the old row versions is reused (default 0.1, at most ~10 vacuums per fill);
    /// `None` leaves it to autovacuum.
    pub vacuum_every: Option<f64>,
    /// `statement_timeout` of one batch (default 60 s).
    pub batch_timeout: Duration,
    /// Draw a progress bar when stderr is a terminal (default true).
    pub progress_bar: bool,
}

dataflow_schema::__with_setters!(BackfillOptions {
    with_batch_size => batch_size: BatchSize,
    with_throttle => throttle: Duration,
    with_vacuum_every => vacuum_every: Option<f64>,
    with_batch_timeout => batch_timeout: Duration,
    with_progress_bar => progress_bar: bool,
});

impl Default for BackfillOptions {
    fn default() -> Self {
        BackfillOptions {
            batch_size: BatchSize::default(),
            throttle: Duration::ZERO,
            vacuum_every: Some(0.1),
            batch_timeout: Duration::from_secs(60),
            progress_bar: true,
        }
    }
}

impl BackfillOptions {
    /// The first batch's size.
    pub fn first_batch(&self) -> u32 {
        self.batch_size.first()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_adaptive_size_aims_at_the_target_and_stays_in_bounds() {
        let size = BatchSize::default();
        assert_eq!(size.first(), 10_000);
        // Twice as fast as the target: doubles, but no more.
        assert_eq!(size.next(10_000, Duration::from_millis(10)), 20_000);
        assert_eq!(size.next(10_000, Duration::from_millis(50)), 20_000);
        assert_eq!(size.next(10_000, Duration::from_millis(200)), 5_000);
        assert_eq!(size.next(40_000, Duration::from_millis(50)), 50_000);
        assert_eq!(size.next(200, Duration::from_secs(10)), 100);
        assert_eq!(BatchSize::Fixed(1_000).next(1_000, Duration::from_secs(1)), 1_000);
    }

    #[test]
    fn backoff_is_spread_over_its_whole_window() {
        let options = ApplyOptions::default();
        // Attempt 2: the window is [0, 400 ms]. Jitter from clock nanoseconds was zero on
        // coarse clocks; real randomness gives distinct values over the whole window.
        let pauses: Vec<Duration> = (0..1_000).map(|_| options.backoff(2)).collect();
        assert!(pauses.iter().all(|p| *p <= Duration::from_millis(400)));
        let distinct: std::collections::BTreeSet<Duration> = pauses.iter().copied().collect();
        assert!(distinct.len() > 900, "only {} distinct pauses of 1000", distinct.len());
        assert!(pauses.iter().any(|p| *p < Duration::from_millis(100)));
        assert!(pauses.iter().any(|p| *p > Duration::from_millis(300)));
        // The cap holds at any attempt.
        assert!((0..1_000).all(|_| options.backoff(40) <= options.max_backoff));
    }
}
