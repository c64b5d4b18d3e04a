//! The `dataflow` command line (DESIGN.md "Command line"): people-facing output on
//! stderr, machine output (SQL, JSON) on stdout, and fixed exit codes.

use crate::error::{Error, Result};
use crate::history::{status as history_status, HistoryRow};
use crate::migrator::{migrate_to, DataFlow, MigrateOptions};
use crate::postgres::Postgres;
use clap::{Args, Parser, Subcommand, ValueEnum};
use dataflow_schema::introspect::postgres::Introspected;
use dataflow_schema::{
    plan_offline, schema_checksum, Dialect, Plan, PlanOptions, RiskLevel, Rollback, Schema,
};
use std::io::{IsTerminal, Write};
use std::process::ExitCode;

/// Exit code: done, or nothing to do.
pub const EXIT_OK: u8 = 0;
/// Exit code: an error.
pub const EXIT_ERROR: u8 = 1;
/// Exit code: refused (risk policy, declined prompt, no terminal to ask).
pub const EXIT_REFUSED: u8 = 2;
/// Exit code: changes are pending (`diff --check`).
pub const EXIT_PENDING: u8 = 3;

/// Keeps a relational database in step with your Rust structs.
#[derive(Debug, Parser)]
#[command(
    name = "dataflow",
    version,
    about = "Keeps a relational database in step with your Rust structs."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Print the plan that turns --db into --target (nothing is changed).
    Diff(DiffArgs),
    /// Write a reviewed plan (with the checksum of the schema it was made from) to a file.
    Plan(PlanArgs),
    /// Apply the plan that turns --db into --target, or a reviewed plan file (--plan).
    Apply(ApplyArgs),
    /// Drift and pending work: does the database still look like the last migration
    /// left it, and what would `apply --target` change?
    Status(StatusArgs),
    /// Print the live schema (with row estimates) as JSON, for offline plans.
    Snapshot(SnapshotArgs),
    /// List applied, failed and rolled-back migrations, newest first.
    History(HistoryArgs),
    /// Undo an applied migration (dropped tables and columns come back with their data).
    Rollback(RollbackArgs),
    /// Drop the trash tables and column backups of migrations older than --older-than.
    Purge(PurgeArgs),
}

#[derive(Debug, Args)]
struct PurgeArgs {
    /// The database: postgres://user@host:port/database
    #[arg(long, env = "DATABASE_URL")]
    db: String,
    /// Age of the migrations whose kept data is dropped: 30m, 12h, 7d …
    #[arg(long, value_parser = parse_age)]
    older_than: std::time::Duration,
    /// Purge without asking.
    #[arg(long)]
    yes: bool,
}

/// `90s`, `30m`, `12h`, `7d`.
fn parse_age(text: &str) -> std::result::Result<std::time::Duration, String> {
    let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: u64 =
        number.parse().map_err(|_| format!("{text:?} is not an age like 30m, 12h or 7d"))?;
    let seconds = match unit {
        "s" | "" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(format!("unknown unit {unit:?} in {text:?}: use s, m, h or d")),
    };
    Ok(std::time::Duration::from_secs(number.saturating_mul(seconds)))
}

#[derive(Debug, Args)]
struct HistoryArgs {
    /// The database: postgres://user@host:port/database
    #[arg(long, env = "DATABASE_URL")]
    db: String,
    /// At most this many rows.
    #[arg(long)]
    limit: Option<usize>,
    /// Output format on stdout.
    #[arg(long, value_enum, default_value = "text")]
    format: ApplyFormat,
}

#[derive(Debug, Args)]
struct StatusArgs {
    /// The database: postgres://user@host:port/database
    #[arg(long, env = "DATABASE_URL")]
    db: String,
    /// Also count the changes pending towards this target (a database URL or a schema.json).
    #[arg(long)]
    target: Option<String>,
    /// The PostgreSQL schema (namespace) to compare; repeat for several.
    #[arg(long = "schema", default_value = "public")]
    schemas: Vec<String>,
    /// Output format on stdout.
    #[arg(long, value_enum, default_value = "text")]
    format: ApplyFormat,
    /// Exit with 3 on drift or pending changes (for CI).
    #[arg(long)]
    check: bool,
}

/// What `dataflow status` found.
#[derive(Debug, serde::Serialize)]
struct StatusReport {
    /// The newest applied (or adopted) migration: what the schema should look like now.
    last_applied: Option<HistoryRow>,
    /// Checksum of the live schema's shape.
    live_checksum: String,
    /// The live schema is not the one the last migration left (changed by hand, or the
    /// namespace holds tables dataflow does not manage).
    drift: bool,
    /// Steps `apply --target` would run, when a target was given.
    pending: Option<Vec<PendingStep>>,
}

/// One pending step, in a line.
#[derive(Debug, serde::Serialize)]
struct PendingStep {
    table: String,
    operation: String,
    risk: RiskLevel,
}

#[derive(Debug, Args)]
struct RollbackArgs {
    /// The version to undo (see `dataflow history`).
    version: String,
    /// The database: postgres://user@host:port/database
    #[arg(long, env = "DATABASE_URL")]
    db: String,
    /// Roll back without asking.
    #[arg(long)]
    yes: bool,
}

#[derive(Debug, Args)]
struct TargetArgs {
    /// The database to change: postgres://user@host:port/database
    #[arg(long, env = "DATABASE_URL")]
    db: String,
    /// What it should look like: a database URL, or a schema.json from `dataflow snapshot`.
    /// Everything in the namespace that the target lacks is dropped.
    #[arg(long)]
    target: String,
    /// The PostgreSQL schema (namespace) to compare; repeat for several.
    #[arg(long = "schema", default_value = "public")]
    schemas: Vec<String>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum DiffFormat {
    Sql,
    Json,
}

#[derive(Debug, Args)]
struct DiffArgs {
    #[command(flatten)]
    target: TargetArgs,
    /// Output format.
    #[arg(long, value_enum, default_value = "sql")]
    format: DiffFormat,
    /// Exit with 3 when changes are pending (for CI drift checks).
    #[arg(long)]
    check: bool,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum MaxRisk {
    Safe,
    Medium,
    High,
}

impl MaxRisk {
    fn level(self) -> RiskLevel {
        match self {
            MaxRisk::Safe => RiskLevel::Safe,
            MaxRisk::Medium => RiskLevel::Medium,
            MaxRisk::High => RiskLevel::High,
        }
    }
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum ApplyFormat {
    Text,
    Json,
}

#[derive(Debug, Args)]
struct PlanArgs {
    #[command(flatten)]
    target: TargetArgs,
    /// Where to write the plan (JSON); review it, then `dataflow apply --plan FILE`.
    #[arg(long)]
    out: String,
}

/// A reviewed plan file: the plan and the target it leads to.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct ReviewedPlan {
    plan: Plan,
    target: Schema,
}

#[derive(Debug, Args)]
struct ApplyArgs {
    /// The database to change: postgres://user@host:port/database
    #[arg(long, env = "DATABASE_URL")]
    db: String,
    /// What it should look like: a database URL, or a schema.json from `dataflow snapshot`.
    #[arg(long, required_unless_present = "plan", conflicts_with = "plan")]
    target: Option<String>,
    /// A reviewed plan from `dataflow plan --out`: applied exactly, refused if the
    /// database changed since it was made.
    #[arg(long)]
    plan: Option<String>,
    /// The PostgreSQL schema (namespace) to compare; repeat for several.
    #[arg(long = "schema", default_value = "public")]
    schemas: Vec<String>,
    /// The highest risk applied without refusing (HIGH drops need `--max-risk high`).
    #[arg(long, value_enum, default_value = "medium")]
    max_risk: MaxRisk,
    /// Apply without asking.
    #[arg(long)]
    yes: bool,
    /// Output format of the report on stdout (`text` prints nothing there).
    #[arg(long, value_enum, default_value = "text")]
    format: ApplyFormat,
}

#[derive(Debug, Args)]
struct SnapshotArgs {
    /// The database to read: postgres://user@host:port/database
    #[arg(long, env = "DATABASE_URL")]
    db: String,
    /// The PostgreSQL schema (namespace) to read; repeat for several.
    #[arg(long = "schema", default_value = "public")]
    schemas: Vec<String>,
}

/// Runs the command line with `args` (the program name first, as `std::env::args`).
pub fn run<I, S>(args: I) -> ExitCode
where
    I: IntoIterator<Item = S>,
    S: Into<std::ffi::OsString> + Clone,
{
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(error) => {
            let _ = error.print();
            return ExitCode::from(if error.use_stderr() { EXIT_REFUSED } else { EXIT_OK });
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::from(EXIT_ERROR);
        }
    };
    match runtime.block_on(dispatch(cli.command)) {
        Ok(code) => ExitCode::from(code),
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::from(EXIT_ERROR)
        }
    }
}

async fn dispatch(command: Command) -> Result<u8> {
    match command {
        Command::Diff(args) => diff(args).await,
        Command::Plan(args) => write_plan(args).await,
        Command::Apply(args) => apply(args).await,
        Command::Status(args) => status(args).await,
        Command::Snapshot(args) => snapshot(args).await,
        Command::History(args) => history(args).await,
        Command::Rollback(args) => rollback(args).await,
        Command::Purge(args) => purge(args).await,
    }
}

/// The current database, the plan to the target, and the warnings both sides produced.
async fn plan_to_target(args: &TargetArgs) -> Result<(Postgres, Plan, Schema)> {
    let db = Postgres::connect(&args.db).await?;
    // Both sides are read at the same time: a DB-vs-DB diff costs one catalog read.
    let (current, target) =
        tokio::join!(db.introspect(&args.schemas), read_target(&args.target, &args.schemas));
    let (current, (target, target_unmanaged)) = (current?, target?);
    let mut plan =
        plan_offline(&current.schema, &target, Dialect::Postgres, &PlanOptions::default())?;
    let mut unmanaged = current.unmanaged;
    unmanaged.extend(target_unmanaged);
    unmanaged.sort();
    unmanaged.dedup();
    if !unmanaged.is_empty() {
        plan.warnings
            .push(format!("not managed by dataflow, left alone: {}", unmanaged.join(", ")));
    }
    Ok((db, plan, target))
}

async fn read_target(target: &str, schemas: &[String]) -> Result<(Schema, Vec<String>)> {
    if target.contains("://") {
        let db = Postgres::connect(target).await?;
        let Introspected { schema, unmanaged, .. } = db.introspect(schemas).await?;
        return Ok((schema, unmanaged));
    }
    let text = std::fs::read_to_string(target)
        .map_err(|source| Error::ReadFile { path: target.to_owned(), source })?;
    let schema = Schema::from_json(&text)
        .map_err(|source| Error::Snapshot { path: target.to_owned(), source })?;
    Ok((schema, Vec::new()))
}

fn print_warnings(plan: &Plan) {
    for warning in &plan.warnings {
        eprintln!("warning: {warning}");
    }
}

/// The plan as an SQL script: `--` comments, each statement ending with `;`.
pub fn plan_as_sql(plan: &Plan) -> String {
    let mut out = String::new();
    for step in &plan.steps {
        out.push_str(&format!(
            "-- Step {} · {} · {} · {}\n",
            step.number,
            step.table,
            step.operation.label(),
            step.shown_level
        ));
        for reason in &step.risk.reasons {
            out.push_str(&format!("--   {reason}\n"));
        }
        for statement in &step.up {
            out.push_str(statement);
            out.push_str(";\n");
        }
        if let Rollback::Irreversible { reason } = &step.down {
            out.push_str(&format!("--   irreversible: {reason}\n"));
        }
    }
    out
}

fn stdout(text: &str) {
    let _ = std::io::stdout().write_all(text.as_bytes());
}

async fn diff(args: DiffArgs) -> Result<u8> {
    let (_, plan, _) = plan_to_target(&args.target).await?;
    print_warnings(&plan);
    match args.format {
        DiffFormat::Json => stdout(&format!("{}\n", plan.to_json())),
        DiffFormat::Sql if plan.is_empty() => {}
        DiffFormat::Sql => stdout(&plan_as_sql(&plan)),
    }
    if plan.is_empty() {
        eprintln!("No changes.");
        return Ok(EXIT_OK);
    }
    Ok(if args.check { EXIT_PENDING } else { EXIT_OK })
}

async fn write_plan(args: PlanArgs) -> Result<u8> {
    let (_, plan, target) = plan_to_target(&args.target).await?;
    print_warnings(&plan);
    eprintln!("{plan}");
    let file = ReviewedPlan { plan, target };
    let json = serde_json::to_string_pretty(&file).unwrap_or_default();
    std::fs::write(&args.out, json)
        .map_err(|source| Error::ReadFile { path: args.out.clone(), source })?;
    eprintln!("Wrote {}: review it, then `dataflow apply --plan {}`.", args.out, args.out);
    Ok(EXIT_OK)
}

/// The reviewed plan in `path`, if the database is still the one it was made from.
async fn reviewed_plan(args: &ApplyArgs, path: &str) -> Result<Option<(Postgres, Plan, Schema)>> {
    let text = std::fs::read_to_string(path)
        .map_err(|source| Error::ReadFile { path: path.to_owned(), source })?;
    let file: ReviewedPlan = serde_json::from_str(&text)
        .map_err(|source| Error::Snapshot { path: path.to_owned(), source })?;
    let db = Postgres::connect(&args.db).await?;
    let live = db.introspect(&args.schemas).await?;
    let now = plan_offline(&live.schema, &file.target, Dialect::Postgres, &PlanOptions::default())?;
    if now.from_checksum != file.plan.from_checksum {
        eprintln!(
            "refused: the database changed since {path} was made (schema {} then, {} now); \
             make and review a new plan",
            &file.plan.from_checksum[..12],
            &now.from_checksum[..12]
        );
        return Ok(None);
    }
    Ok(Some((db, file.plan, file.target)))
}

async fn apply(args: ApplyArgs) -> Result<u8> {
    let (db, plan, target) = match (&args.target, &args.plan) {
        (_, Some(path)) => match reviewed_plan(&args, path).await? {
            Some(reviewed) => reviewed,
            None => return Ok(EXIT_REFUSED),
        },
        (Some(target), None) => {
            let target_args = TargetArgs {
                db: args.db.clone(),
                target: target.clone(),
                schemas: args.schemas.clone(),
            };
            plan_to_target(&target_args).await?
        }
        (None, None) => {
            eprintln!("refused: give --target or --plan");
            return Ok(EXIT_REFUSED);
        }
    };
    print_warnings(&plan);
    if plan.is_empty() {
        eprintln!("No changes.");
        if let ApplyFormat::Json = args.format {
            stdout(&format!(
                "{}\n",
                serde_json::json!({ "version": null, "applied": false, "plan": plan })
            ));
        }
        return Ok(EXIT_OK);
    }
    eprintln!("{plan}");
    let max = args.max_risk.level();
    let refused: Vec<String> = plan
        .steps
        .iter()
        .filter(|s| s.risk.policy_level() > max)
        .map(|s| {
            format!(
                "  step {} · {} · {} · {}: {}",
                s.number,
                s.table,
                s.operation.label(),
                s.risk.policy_level(),
                s.risk.reasons.join("; ")
            )
        })
        .collect();
    if !refused.is_empty() {
        eprintln!(
            "refused: {} step(s) exceed --max-risk {}:\n{}\nto apply them, re-run with --max-risk high \
             (after old code no longer uses what they remove)",
            refused.len(),
            max,
            refused.join("\n")
        );
        return Ok(EXIT_REFUSED);
    }
    if !args.yes && !confirm()? {
        return Ok(EXIT_REFUSED);
    }
    // Through the migrator: lock, re-plan under the lock, history. What runs is exactly
    // what was shown (the reviewed checksum); a replica that got there first leaves
    // nothing to do.
    let options = MigrateOptions {
        max_risk: max,
        expected_plan: Some(plan.plan_checksum.clone()),
        ..MigrateOptions::default()
    };
    let report = migrate_to(&db, target, options).await?;
    match &report.version {
        Some(version) => eprintln!(
            "Applied {} step(s) as {version} in {} ms ({} lock-timeout retries, {} ms waiting for the migration lock).",
            report.plan.steps.len(),
            report.elapsed_ms,
            report.retries,
            report.lock_wait_ms
        ),
        None => eprintln!("No changes: another migrator applied them first."),
    }
    if let ApplyFormat::Json = args.format {
        stdout(&format!("{}\n", serde_json::to_string_pretty(&report).unwrap_or_default()));
    }
    Ok(EXIT_OK)
}

/// Asks on the terminal; without one, refuses (a command never applies unasked).
fn confirm() -> Result<bool> {
    if !(std::io::stdin().is_terminal() && std::io::stderr().is_terminal()) {
        eprintln!("refused: not applying without --yes when there is no terminal to ask");
        return Ok(false);
    }
    eprint!("Apply these changes? [y/N] ");
    let mut answer = String::new();
    std::io::stdin()
        .read_line(&mut answer)
        .map_err(|source| Error::ReadFile { path: "stdin".into(), source })?;
    let yes = matches!(answer.trim(), "y" | "Y" | "yes" | "YES");
    if !yes {
        eprintln!("Not applied.");
    }
    Ok(yes)
}

async fn status(args: StatusArgs) -> Result<u8> {
    let flow = DataFlow::connect(&args.db).await?;
    let last_applied = flow.history(None).await?.into_iter().find(|row| {
        row.status == history_status::APPLIED || row.status == history_status::BASELINE
    });
    let (live_checksum, pending) = match &args.target {
        Some(target) => {
            let target_args = TargetArgs {
                db: args.db.clone(),
                target: target.clone(),
                schemas: args.schemas.clone(),
            };
            let (_, plan, _) = plan_to_target(&target_args).await?;
            print_warnings(&plan);
            let steps = plan
                .steps
                .iter()
                .map(|s| PendingStep {
                    table: s.table.clone(),
                    operation: s.operation.label().to_owned(),
                    risk: s.risk.policy_level(),
                })
                .collect();
            (plan.from_checksum, Some(steps))
        }
        None => {
            let db = Postgres::connect(&args.db).await?;
            (schema_checksum(&db.introspect(&args.schemas).await?.schema), None)
        }
    };
    let drift = last_applied.as_ref().is_some_and(|row| row.checksum != live_checksum);
    let report = StatusReport { last_applied, live_checksum, drift, pending };
    match args.format {
        ApplyFormat::Json => {
            stdout(&format!("{}\n", serde_json::to_string_pretty(&report).unwrap_or_default()))
        }
        ApplyFormat::Text => stdout(&status_text(&report)),
    }
    let pending = report.pending.as_ref().is_some_and(|steps| !steps.is_empty());
    Ok(if args.check && (report.drift || pending) { EXIT_PENDING } else { EXIT_OK })
}

fn status_text(report: &StatusReport) -> String {
    let mut out = match &report.last_applied {
        Some(row) => {
            format!("Last migration: {} ({}, {})\n", row.version, row.status, row.description)
        }
        None => "Last migration: none recorded\n".to_owned(),
    };
    out.push_str(&match (&report.last_applied, report.drift) {
        (None, _) => format!("Schema: {} (nothing to compare with)\n", &report.live_checksum[..12]),
        (Some(_), false) => "Schema: as the last migration left it\n".to_owned(),
        (Some(row), true) => format!(
            "Schema: DRIFTED (live {}, last migration left {}): it was changed outside dataflow, \
             or the namespace holds tables dataflow does not manage; `dataflow diff` shows how\n",
            &report.live_checksum[..12],
            &row.checksum[..12.min(row.checksum.len())]
        ),
    });
    match &report.pending {
        None => {}
        Some(steps) if steps.is_empty() => out.push_str("Pending: nothing\n"),
        Some(steps) => {
            out.push_str(&format!("Pending: {} step(s)\n", steps.len()));
            for step in steps {
                out.push_str(&format!("  {} · {} · {}\n", step.table, step.operation, step.risk));
            }
        }
    }
    out
}

async fn snapshot(args: SnapshotArgs) -> Result<u8> {
    let db = Postgres::connect(&args.db).await?;
    let found = db.introspect(&args.schemas).await?;
    if !found.unmanaged.is_empty() {
        eprintln!("warning: not in the snapshot (not managed): {}", found.unmanaged.join(", "));
    }
    stdout(&format!("{}\n", found.schema.to_json()));
    Ok(EXIT_OK)
}

async fn history(args: HistoryArgs) -> Result<u8> {
    let flow = DataFlow::connect(&args.db).await?;
    let rows = flow.history(args.limit).await?;
    match args.format {
        ApplyFormat::Json => {
            stdout(&format!("{}\n", serde_json::to_string_pretty(&rows).unwrap_or_default()))
        }
        ApplyFormat::Text if rows.is_empty() => eprintln!("No migrations recorded."),
        ApplyFormat::Text => {
            for row in &rows {
                stdout(&format!(
                    "{}  {:<11}  {}  {} ms  {}  {}\n",
                    row.version,
                    row.status,
                    row.started_at,
                    row.execution_ms.map_or("-".into(), |ms| ms.to_string()),
                    row.applied_by,
                    row.description
                ));
            }
        }
    }
    Ok(EXIT_OK)
}

async fn rollback(args: RollbackArgs) -> Result<u8> {
    let flow = DataFlow::connect(&args.db).await?;
    let analysis = flow.analyze_rollback(&args.version).await?;
    if !analysis.fully_reversible {
        eprintln!(
            "refused: {} cannot be rolled back:\n  {}",
            args.version,
            analysis.irreversible_ops.join("\n  ")
        );
        return Ok(EXIT_REFUSED);
    }
    if let Some(warning) = &analysis.data_loss_warning {
        eprintln!("warning: {warning}");
    }
    eprintln!(
        "Rolling back {} restores the schema (and the data drops kept) from before it.",
        args.version
    );
    if !args.yes && !confirm()? {
        return Ok(EXIT_REFUSED);
    }
    flow.rollback_migration(&args.version).await?;
    eprintln!("Rolled back {}.", args.version);
    Ok(EXIT_OK)
}

async fn purge(args: PurgeArgs) -> Result<u8> {
    let flow = DataFlow::connect(&args.db).await?;
    eprintln!(
        "Purging drops the kept data of migrations older than {:?}: they can no longer be rolled back with their data.",
        args.older_than
    );
    if !args.yes && !confirm()? {
        return Ok(EXIT_REFUSED);
    }
    let dropped = flow.purge(args.older_than).await?;
    if dropped.is_empty() {
        eprintln!("Nothing to purge.");
    }
    for name in &dropped {
        eprintln!("dropped {name}");
    }
    Ok(EXIT_OK)
}
