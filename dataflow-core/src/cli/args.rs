//! What the commands accept. The options of each command are shared by both front ends;
//! the `dataflow` tool adds where the database and the target are.

use clap::{Args, Parser, Subcommand, ValueEnum};
use dataflow_schema::RiskLevel;
use std::time::Duration;

/// The `dataflow` tool.
#[derive(Debug, Parser)]
#[command(
    name = "dataflow",
    version,
    about = "Keeps a relational database in step with your Rust structs."
)]
pub(super) struct Tool {
    #[command(subcommand)]
    pub command: ToolCommand,
}

/// The database to work on.
#[derive(Debug, Args)]
pub(super) struct Database {
    /// The database: postgres://user@host:port/database, mysql://user@host:port/database
    /// or sqlite://path/to/file.db
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    pub db: String,
}

/// The namespaces compared in DB-vs-DB mode.
#[derive(Debug, Args)]
pub(super) struct Namespaces {
    /// The PostgreSQL schema (namespace) to compare; repeat for several.
    #[arg(long = "schema", default_value = "public")]
    pub schemas: Vec<String>,
}

#[derive(Debug, Subcommand)]
pub(super) enum ToolCommand {
    /// Print the plan that turns --db into --target (nothing is changed).
    Diff {
        #[command(flatten)]
        db: Database,
        /// What it should look like: a database URL, or a schema.json from `dataflow snapshot`.
        /// Everything in the namespace that the target lacks is dropped.
        #[arg(long)]
        target: String,
        #[command(flatten)]
        namespaces: Namespaces,
        #[command(flatten)]
        args: DiffArgs,
    },
    /// Write a reviewed plan (with the checksum of the schema it was made from) to a file.
    Plan {
        #[command(flatten)]
        db: Database,
        /// What it should look like: a database URL, or a schema.json.
        #[arg(long)]
        target: String,
        #[command(flatten)]
        namespaces: Namespaces,
        #[command(flatten)]
        args: PlanArgs,
    },
    /// Apply the plan that turns --db into --target, or a reviewed plan file (--plan).
    Apply {
        #[command(flatten)]
        db: Database,
        /// What it should look like: a database URL, or a schema.json.
        #[arg(long, required_unless_present = "plan", conflicts_with = "plan")]
        target: Option<String>,
        #[command(flatten)]
        namespaces: Namespaces,
        #[command(flatten)]
        args: ApplyArgs,
    },
    /// Drift and pending work: does the database still look like the last migration
    /// left it, and what would `apply --target` change?
    Status {
        #[command(flatten)]
        db: Database,
        /// Also count the changes pending towards this target (a database URL or a schema.json).
        #[arg(long)]
        target: Option<String>,
        #[command(flatten)]
        namespaces: Namespaces,
        #[command(flatten)]
        args: StatusArgs,
    },
    /// Print the live schema (with row estimates) as JSON, for offline plans.
    Snapshot {
        #[command(flatten)]
        db: Database,
        #[command(flatten)]
        namespaces: Namespaces,
    },
    /// List applied, failed and rolled-back migrations, newest first.
    History {
        #[command(flatten)]
        db: Database,
        #[command(flatten)]
        args: HistoryArgs,
    },
    /// Undo an applied migration (dropped tables and columns come back with their data).
    Rollback {
        #[command(flatten)]
        db: Database,
        #[command(flatten)]
        args: RollbackArgs,
    },
    /// Drop the trash tables and column backups of migrations older than --older-than.
    Purge {
        #[command(flatten)]
        db: Database,
        #[command(flatten)]
        args: PurgeArgs,
    },
}

/// Keep the database in step with this application's models.
///
/// The commands an application exposes for its own models: `cli::run_app` parses them from
/// the process arguments; embed this enum in your own clap parser and call
/// `cli::run_command` to nest them (`myapp db apply`).
// The help shows the first line only; the rest is for Rust readers.
#[derive(Debug, Subcommand)]
#[command(long_about = None)]
pub enum ModelCommand {
    /// Print the plan that brings the database to the models (nothing is changed).
    Diff(DiffArgs),
    /// Write a reviewed plan to a file, for `apply --plan` after review.
    Plan(PlanArgs),
    /// Bring the database to the models: preview, confirm, apply, record.
    Apply(ApplyArgs),
    /// Drift (the database changed outside dataflow) and pending steps.
    Status(StatusArgs),
    /// Print the live schema of the models' namespaces as JSON.
    Snapshot,
    /// List applied, failed and rolled-back migrations, newest first.
    History(HistoryArgs),
    /// Undo an applied migration (dropped tables and columns come back with their data).
    Rollback(RollbackArgs),
    /// Drop the trash tables and column backups of migrations older than --older-than.
    Purge(PurgeArgs),
}

/// Output formats of `diff`.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub(super) enum DiffFormat {
    /// SQL statements ending with `;`, `--` comments.
    Sql,
    /// The plan as JSON.
    Json,
}

/// Output formats of the other commands.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub(super) enum Format {
    /// For people.
    Text,
    /// For machines.
    Json,
}

/// Options of `diff`.
#[derive(Debug, Args)]
pub struct DiffArgs {
    /// Output format on stdout.
    #[arg(long, value_enum, default_value = "sql")]
    pub(super) format: DiffFormat,
    /// Exit with 3 when changes are pending (for CI drift checks).
    #[arg(long)]
    pub(super) check: bool,
}

/// Options of `plan`.
#[derive(Debug, Args)]
pub struct PlanArgs {
    /// Where to write the plan (JSON); review it, then `apply --plan FILE`.
    #[arg(long)]
    pub(super) out: String,
}

/// Options of `apply`.
#[derive(Debug, Args)]
pub struct ApplyArgs {
    /// A reviewed plan from `plan --out`: applied exactly, refused if the database (or
    /// the target) changed since it was made.
    #[arg(long)]
    pub(super) plan: Option<String>,
    /// The highest risk applied without refusing (HIGH drops need `--max-risk high`).
    #[arg(long, value_enum, default_value = "medium", env = "DATAFLOW_MAX_RISK")]
    pub(super) max_risk: MaxRisk,
    /// How long one statement may wait for its table lock before it is rolled back and
    /// retried with backoff (500ms, 2s, 1m), so a long transaction elsewhere never makes
    /// every query queue behind the migration.
    #[arg(long, value_parser = parse_lock_timeout, default_value = "2s", env = "DATAFLOW_LOCK_TIMEOUT")]
    pub(super) lock_timeout: Duration,
    /// How long to wait for the migration lock while another migrator holds it (or a
    /// killed one's statement is still running on the server) before giving up with
    /// its name and statement (`0s`: do not wait).
    #[arg(long, value_parser = parse_duration, default_value = "15m", env = "DATAFLOW_MIGRATION_LOCK_TIMEOUT")]
    pub(super) migration_lock_timeout: Duration,
    /// Apply without asking (the preview is still printed on stderr).
    #[arg(long)]
    pub(super) yes: bool,
    /// Re-apply a target that was rolled back.
    #[arg(long)]
    pub(super) force: bool,
    /// Leave the SQL out of the preview.
    #[arg(long)]
    pub(super) no_sql: bool,
    /// Leave the rollback plan out of the preview.
    #[arg(long)]
    pub(super) no_rollback_plan: bool,
    /// Output format of the report on stdout (`text` prints nothing there).
    #[arg(long, value_enum, default_value = "text")]
    pub(super) format: Format,
}

/// `--max-risk` values.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub(super) enum MaxRisk {
    Safe,
    Medium,
    High,
}

impl MaxRisk {
    pub fn level(self) -> RiskLevel {
        match self {
            MaxRisk::Safe => RiskLevel::Safe,
            MaxRisk::Medium => RiskLevel::Medium,
            MaxRisk::High => RiskLevel::High,
        }
    }
}

/// Options of `status`.
#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Output format on stdout.
    #[arg(long, value_enum, default_value = "text")]
    pub(super) format: Format,
    /// Exit with 3 on drift or pending changes (for CI).
    #[arg(long)]
    pub(super) check: bool,
}

/// Options of `history`.
#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// At most this many rows.
    #[arg(long)]
    pub(super) limit: Option<usize>,
    /// Output format on stdout.
    #[arg(long, value_enum, default_value = "text")]
    pub(super) format: Format,
}

/// Options of `rollback`.
#[derive(Debug, Args)]
pub struct RollbackArgs {
    /// The version to undo (see `history`).
    pub(super) version: String,
    /// Roll back without asking.
    #[arg(long)]
    pub(super) yes: bool,
    /// Also roll back every applied migration newer than VERSION, newest first.
    #[arg(long, conflicts_with = "out_of_order")]
    pub(super) with_newer: bool,
    /// Undo VERSION alone although newer applied migrations build on it.
    #[arg(long)]
    pub(super) out_of_order: bool,
}

/// Options of `purge`.
#[derive(Debug, Args)]
pub struct PurgeArgs {
    /// Age of the migrations whose kept data is dropped: 30m, 12h, 7d …
    #[arg(long, value_parser = parse_duration)]
    pub(super) older_than: Duration,
    /// Purge without asking.
    #[arg(long)]
    pub(super) yes: bool,
    /// Output format of the dropped tables on stdout.
    #[arg(long, value_enum, default_value = "text")]
    pub(super) format: Format,
}

/// A lock timeout: a [`parse_duration`] from 1 ms to 24 days. Zero is refused: to
/// PostgreSQL it means "wait forever", the queue the timeout exists to avoid; more than
/// 24 days does not fit the server's setting.
pub(super) fn parse_lock_timeout(text: &str) -> Result<Duration, String> {
    let timeout = parse_duration(text)?;
    if timeout < Duration::from_millis(1) {
        return Err(format!(
            "{text:?}: a lock timeout of zero makes PostgreSQL wait forever in the lock queue; \
             give at least 1ms"
        ));
    }
    if timeout > Duration::from_secs(24 * 86_400) {
        return Err(format!("{text:?}: at most 24 days (the servers' limit)"));
    }
    Ok(timeout)
}

/// A duration as [`parse_duration`] reads it: `0s`, `90s`, `2h`, `3d` (whole seconds).
pub(super) fn format_duration(duration: Duration) -> String {
    let seconds = duration.as_secs();
    for (unit, size) in [("d", 86_400), ("h", 3_600), ("m", 60)] {
        if seconds >= size && seconds.is_multiple_of(size) {
            return format!("{}{unit}", seconds / size);
        }
    }
    format!("{seconds}s")
}

/// `500ms`, `2s`, `30m`, `12h`, `7d` (a plain number is seconds; whole numbers only).
pub(super) fn parse_duration(text: &str) -> Result<Duration, String> {
    let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: u64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a duration like 500ms, 2s, 30m, 12h or 7d"))?;
    let seconds = |factor: u64| Ok(Duration::from_secs(number.saturating_mul(factor)));
    match unit {
        "ms" => Ok(Duration::from_millis(number)),
        "s" | "" => seconds(1),
        "m" => seconds(60),
        "h" => seconds(3600),
        "d" => seconds(86_400),
        _ if unit.starts_with('.') => {
            Err(format!("{text:?}: whole numbers only (1500ms rather than 1.5s)"))
        }
        _ => Err(format!("unknown unit {unit:?} in {text:?}: use ms, s, m, h or d")),
    }
}
