//! The commands, written once over a [`Session`] for both front ends.

use super::args::{
    ApplyArgs, DiffArgs, DiffFormat, Format, HistoryArgs, ModelCommand, PlanArgs, PurgeArgs,
    RollbackArgs, StatusArgs,
};
use super::session::{Desired, Session};
use super::{EXIT_OK, EXIT_PENDING, EXIT_REFUSED};
use crate::error::{Error, Result};
use crate::history::{HistoryRow, RunStatus};
use crate::options::{AfterRollback, ApplyOptions, MigrateOptions, Mode};
use crate::policy::check_risk;
use crate::terminal;
use dataflow_schema::{schema_checksum, scope_to_models, Plan, RiskLevel, Rollback, Schema};
use std::io::Write;

pub(super) async fn dispatch(session: &Session, command: ModelCommand) -> Result<u8> {
    match command {
        ModelCommand::Diff(args) => diff(session, args).await,
        ModelCommand::Plan(args) => write_plan(session, args).await,
        ModelCommand::Apply(args) => apply(session, args).await,
        ModelCommand::Status(args) => status(session, args).await,
        ModelCommand::Snapshot => snapshot(session).await,
        ModelCommand::History(args) => history(session, args).await,
        ModelCommand::Rollback(args) => rollback(session, args).await,
        ModelCommand::Purge(args) => purge(session, args).await,
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

/// A unified diff of two texts (three lines of context), for showing what changed.
fn unified_diff(old: &str, new: &str, old_name: &str, new_name: &str) -> String {
    similar::TextDiff::from_lines(old, new)
        .unified_diff()
        .context_radius(3)
        .header(old_name, new_name)
        .to_string()
}

fn stdout(text: &str) {
    let _ = std::io::stdout().write_all(text.as_bytes());
}

fn json<T: serde::Serialize>(value: &T) {
    stdout(&format!("{}\n", serde_json::to_string_pretty(value).unwrap_or_default()));
}

fn print_warnings(plan: &Plan) {
    for warning in &plan.warnings {
        eprintln!("warning: {warning}");
    }
}

/// `plan` as it would run (drops keep their data).
async fn as_run(session: &Session, plan: &Plan) -> Result<Plan> {
    session.flow.as_it_would_run(plan).await
}

/// Asks on the terminal; without one, refuses: a command never changes anything unasked.
fn ask(question: &str) -> bool {
    if !terminal::is_interactive() {
        eprintln!("refused: not going ahead without --yes when there is no terminal to ask");
        return false;
    }
    let yes = terminal::confirm(question);
    if !yes {
        eprintln!("Declined: nothing was changed.");
    }
    yes
}

async fn diff(session: &Session, args: DiffArgs) -> Result<u8> {
    let plan = session.plan().await?;
    print_warnings(&plan);
    match args.format {
        DiffFormat::Json => stdout(&format!("{}\n", plan.to_json())),
        DiffFormat::Sql => stdout(&plan_as_sql(&plan)),
    }
    let drops = |s: &dataflow_schema::Step| {
        matches!(
            s.operation,
            dataflow_schema::Operation::DropTable | dataflow_schema::Operation::DropColumn
        )
    };
    if plan.steps.iter().any(drops) {
        eprintln!(
            "note: this is the plain difference, and its drops delete data; `apply` keeps it \
             instead (moved into _dataflow_trash_*/_dataflow_backup_* tables for the rollback, \
             until `purge`): `plan` shows the SQL `apply` runs"
        );
    }
    if plan.is_empty() {
        eprintln!("No changes.");
        return Ok(EXIT_OK);
    }
    Ok(if args.check { EXIT_PENDING } else { EXIT_OK })
}

/// A reviewed plan file: the plan and the target it leads to.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct ReviewedPlan {
    plan: Plan,
    target: Schema,
}

async fn write_plan(session: &Session, args: PlanArgs) -> Result<u8> {
    let plan = session.plan().await?;
    let target = session.target_schema().await?.ok_or(Error::NoTarget)?;
    print_warnings(&plan);
    terminal::print_preview(&as_run(session, &plan).await?, true, true);
    let json = dataflow_schema::file_format::to_stamped_json(&ReviewedPlan { plan, target });
    std::fs::write(&args.out, json)
        .map_err(|source| Error::WriteFile { path: args.out.clone(), source })?;
    eprintln!("Wrote {}: review it, then `apply --plan {}`.", args.out, args.out);
    Ok(EXIT_OK)
}

fn read_reviewed(path: &str) -> Result<ReviewedPlan> {
    let text = std::fs::read_to_string(path)
        .map_err(|source| Error::ReadFile { path: path.to_owned(), source })?;
    dataflow_schema::file_format::from_stamped_json(&text, "this file")
        .map_err(|source| Error::Snapshot { path: path.to_owned(), source })
}

/// Why a reviewed plan no longer applies, if it does not.
fn reviewed_plan_is_stale(reviewed: &Plan, now: &Plan) -> Option<&'static str> {
    if now.to_checksum != reviewed.to_checksum {
        Some("the models changed since it was made")
    } else if now.from_checksum != reviewed.from_checksum {
        Some("the database changed since it was made")
    } else if now.plan_checksum != reviewed.plan_checksum {
        Some("the plan made now differs from it")
    } else {
        None
    }
}

async fn apply(session: &Session, args: ApplyArgs) -> Result<u8> {
    let reviewed = args.plan.as_deref().map(read_reviewed).transpose()?;
    // The tool applies a reviewed plan towards the target stored in it.
    let owned;
    let session = match (&reviewed, &session.desired) {
        (Some(file), Desired::Nothing | Desired::Target(_)) => {
            owned = session.towards(file.target.clone());
            &owned
        }
        _ => session,
    };
    if let Some(file) = &reviewed {
        session.same_dialect(file.plan.dialect)?;
    }
    let plan = session.plan().await?;
    if let (Some(file), Some(path)) = (&reviewed, &args.plan) {
        if let Some(why) = reviewed_plan_is_stale(&file.plan, &plan) {
            let short = |checksum: &str| checksum.chars().take(12).collect::<String>();
            eprintln!(
                "refused: {path} no longer applies: {why} (schema {} then, {} now); \
                 make and review a new plan",
                short(&file.plan.from_checksum),
                short(&plan.from_checksum)
            );
            eprint!(
                "What would run differs from what was reviewed:\n{}",
                unified_diff(
                    &plan_as_sql(&file.plan),
                    &plan_as_sql(&plan),
                    &format!("{path} (reviewed)"),
                    "the plan made now"
                )
            );
            return Ok(EXIT_REFUSED);
        }
    }
    print_warnings(&plan);
    if plan.is_empty() {
        // A run a killed or disconnected migrator left `running` may have finished its
        // steps without recording its end: it is closed now, not left to look like drift.
        // The migrator's fast path: no lock and no history unless a run is left
        // `running`, which it then closes. The empty plan is pinned, so a change made
        // meanwhile is refused, never applied unasked.
        let closing = MigrateOptions {
            mode: Mode::AutoConfirm,
            expected_plan: Some(plan.plan_checksum.clone()),
            ..MigrateOptions::default()
        };
        session.migrate(closing).await?;
        eprintln!("No changes.");
        if let Format::Json = args.format {
            json(&serde_json::json!({ "version": null, "applied": false, "plan": plan }));
        }
        return Ok(EXIT_OK);
    }
    let max = args.max_risk.level();
    let show = |shown: &Plan| terminal::print_preview(shown, !args.no_sql, !args.no_rollback_plan);
    if let Err(refused) = check_risk(&plan, max) {
        show(&as_run(session, &plan).await?);
        return Err(refused);
    }
    if !args.yes && !terminal::is_interactive() {
        show(&as_run(session, &plan).await?);
        eprintln!("refused: not applying without --yes when there is no terminal to ask");
        return Ok(EXIT_REFUSED);
    }
    // Through the migrator: lock, re-plan under the lock, history. It prints the preview
    // of exactly what runs (drops rewritten to keep their data) and asks, or with --yes
    // only prints, so what runs is what is shown even if the database moved meanwhile
    // (another migrator, a build a killed run left behind). A reviewed plan is pinned: if
    // the plan under the lock differs, it is refused (exit 2). A replica that got there
    // first leaves nothing to do.
    // The time a person takes to answer is not the migration's: it is measured and left
    // out of the "Applied … in N ms" line.
    let answering = std::sync::Arc::new(std::sync::Mutex::new(std::time::Duration::ZERO));
    let mode = if args.yes {
        Mode::preview_and_apply()
    } else {
        let answering = answering.clone();
        Mode::Interactive(std::sync::Arc::new(move |_| {
            let asked = std::time::Instant::now();
            let yes = terminal::confirm("Apply these changes?");
            if let Ok(mut total) = answering.lock() {
                *total += asked.elapsed();
            }
            yes
        }))
    };
    let options = MigrateOptions {
        mode,
        max_risk: max,
        expected_plan: reviewed.as_ref().map(|_| plan.plan_checksum.clone()),
        force: args.force,
        after_rollback: AfterRollback::Refuse,
        show_sql: !args.no_sql,
        show_rollback_plan: !args.no_rollback_plan,
        apply: ApplyOptions { lock_timeout: args.lock_timeout, ..ApplyOptions::default() },
        migration_lock_timeout: args.migration_lock_timeout,
        ..MigrateOptions::default()
    };
    let report = session.migrate(options).await?;
    match &report.version {
        Some(version) => eprintln!(
            "Applied {} step(s) as {version} in {} ms ({} lock-timeout retries, {} ms waiting for the migration lock).",
            report.plan.steps.len(),
            report.elapsed_ms.saturating_sub(
                answering.lock().map_or(0, |answering| answering.as_millis())
            ),
            report.retries,
            report.lock_wait_ms
        ),
        None => eprintln!("No changes: another migrator applied them first."),
    }
    if let Format::Json = args.format {
        json(&report);
    }
    Ok(EXIT_OK)
}

/// What `status` found.
#[derive(Debug, serde::Serialize)]
struct StatusReport {
    /// The newest applied (or adopted) migration: what the schema should look like now.
    last_applied: Option<HistoryRow>,
    /// The newest history row of any status (`version (status)`).
    newest: Option<String>,
    /// The newest run, when it failed or is recorded running: the live schema is between
    /// the last applied run's and its target.
    unfinished: Option<HistoryRow>,
    /// The live schema differs from the last applied run's: the unfinished run changed it.
    changed_by_unfinished: bool,
    /// Checksum of the live schema's shape (in model mode: of the models' tables).
    live_checksum: String,
    /// The live schema is not the one the last migration left: changed outside dataflow
    /// (or, DB-vs-DB, the namespace holds tables dataflow does not manage).
    drift: bool,
    /// Steps `apply` would run, when there is a target.
    pending: Option<Vec<PendingStep>>,
    /// On drift: a unified diff of the schema the last migration recorded against the
    /// live one (`None` when that run recorded none).
    drift_diff: Option<String>,
}

/// One pending step, in a line.
#[derive(Debug, serde::Serialize)]
struct PendingStep {
    table: String,
    operation: String,
    risk: RiskLevel,
}

async fn status(session: &Session, args: StatusArgs) -> Result<u8> {
    let rows = session.flow.history(None).await?;
    let newest = rows.first().map(|row| format!("{} ({})", row.version, row.status));
    // A newer run that failed or is still recorded running explains a difference from the
    // last applied one: not drift, and what to do is to finish it.
    let unfinished = rows
        .first()
        .filter(|row| matches!(row.status, RunStatus::Failed | RunStatus::Running))
        .cloned();
    let last_applied = rows
        .into_iter()
        .find(|row| row.status == RunStatus::Applied || row.status == RunStatus::Baseline);
    let (live_checksum, drift, pending) = match &session.desired {
        Desired::Nothing => {
            let live = schema_checksum(&session.live().await?.0);
            let drift = last_applied.as_ref().is_some_and(|row| row.checksum != live);
            (live, drift, None)
        }
        desired => {
            let plan = session.plan().await?;
            print_warnings(&plan);
            let drift = match desired {
                // The models are what the last migration applied, yet there is work:
                // someone changed the tables by hand. New models are pending, not drift.
                Desired::Models => last_applied
                    .as_ref()
                    .is_some_and(|row| row.checksum == plan.to_checksum && !plan.is_empty()),
                _ => last_applied.as_ref().is_some_and(|row| row.checksum != plan.from_checksum),
            };
            let steps = plan
                .steps
                .iter()
                .map(|s| PendingStep {
                    table: s.table.clone(),
                    operation: s.operation.label().to_owned(),
                    risk: s.policy_level(),
                })
                .collect();
            (plan.from_checksum, drift, Some(steps))
        }
    };
    let changed_by_unfinished = drift && unfinished.is_some();
    let drift = drift && unfinished.is_none();
    let drift_diff = match (&last_applied, drift) {
        (Some(row), true) => what_drifted(session, row).await?,
        _ => None,
    };
    let report = StatusReport {
        last_applied,
        newest,
        unfinished,
        changed_by_unfinished,
        live_checksum,
        drift,
        pending,
        drift_diff,
    };
    match args.format {
        Format::Json => json(&report),
        Format::Text => stdout(&status_text(&report)),
    }
    let pending = report.pending.as_ref().is_some_and(|steps| !steps.is_empty());
    Ok(if args.check && (report.drift || pending) { EXIT_PENDING } else { EXIT_OK })
}

/// What changed since the run `row` applied: the schema it recorded against the live one
/// (in model mode both narrowed to the models' tables), statistics left out.
async fn what_drifted(session: &Session, row: &HistoryRow) -> Result<Option<String>> {
    let Some(recorded) = session.flow.recorded_schema(&row.version).await? else {
        return Ok(None);
    };
    let live = session.live().await?.0;
    let (mut recorded, mut live) = match session.desired {
        Desired::Models => {
            let models = session.flow.desired_schema()?;
            (scope_to_models(&recorded, &models).0, scope_to_models(&live, &models).0)
        }
        _ => (recorded, live),
    };
    for table in recorded.tables.iter_mut().chain(live.tables.iter_mut()) {
        table.stats = None;
    }
    Ok(Some(unified_diff(
        &recorded.to_json(),
        &live.to_json(),
        &format!("schema after {}", row.version),
        "live schema",
    )))
}

fn status_text(report: &StatusReport) -> String {
    let mut out = match &report.last_applied {
        Some(row) => {
            format!("Last migration: {} ({}, {})\n", row.version, row.status, row.description)
        }
        None => match &report.newest {
            Some(newest) => format!("Last migration: none applied (newest: {newest})\n"),
            None => "Last migration: none recorded\n".to_owned(),
        },
    };
    if let Some(run) = &report.unfinished {
        out.push_str(&match run.status {
            RunStatus::Running => format!(
                "Last run: {} is recorded running ({}): another migrator is applying it, or it \
                 stopped; the next `apply` closes it and goes on from the live schema\n",
                run.version, run.description
            ),
            _ => format!(
                "Last run: {} failed ({}): the steps it finished stay; `apply` again finishes \
                 the change (its rollback then undoes both runs)\n",
                run.version, run.description
            ),
        });
    }
    out.push_str(&match (&report.last_applied, report.drift) {
        (None, _) => format!("Schema: {} (nothing to compare with)\n", &report.live_checksum[..12]),
        (Some(_), false) if report.changed_by_unfinished => {
            "Schema: partly changed by the last run (not outside dataflow)\n".to_owned()
        }
        (Some(_), false) => "Schema: as the last migration left it\n".to_owned(),
        (Some(row), true) => format!(
            "Schema: DRIFTED (live {}, last migration {}): it was changed outside dataflow, \
             or the namespace holds tables dataflow does not manage; `diff` shows how\n",
            &report.live_checksum[..12],
            &row.checksum[..12.min(row.checksum.len())]
        ),
    });
    if let Some(diff) = &report.drift_diff {
        out.push_str("What changed since (recorded → live):\n");
        out.push_str(diff);
    }
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

async fn snapshot(session: &Session) -> Result<u8> {
    let (schema, unmanaged) = session.live().await?;
    if !unmanaged.is_empty() {
        eprintln!("warning: not in the snapshot (not managed): {}", unmanaged.join(", "));
    }
    stdout(&format!("{}\n", schema.to_snapshot_json(session.dialect())));
    Ok(EXIT_OK)
}

async fn history(session: &Session, args: HistoryArgs) -> Result<u8> {
    let rows = session.flow.history(args.limit).await?;
    match args.format {
        Format::Json => json(&rows),
        Format::Text if rows.is_empty() => eprintln!("No migrations recorded."),
        Format::Text => {
            for row in &rows {
                let status = match row.purged {
                    true => format!("{} (purged)", row.status),
                    false => row.status.to_string(),
                };
                stdout(&format!(
                    "{}  {:<20}  {}  {} ms  {}  {}\n",
                    row.version,
                    status,
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

async fn rollback(session: &Session, args: RollbackArgs) -> Result<u8> {
    let history = session.flow.history(None).await?;
    // Said before any SQL is shown: there is nothing to undo.
    if let Some(row) = history.iter().find(|row| row.version == args.version) {
        if matches!(row.status, RunStatus::RolledBack | RunStatus::Running) {
            return Err(Error::NotRollbackable { version: args.version, status: row.status });
        }
    }
    let analysis = session.flow.analyze_rollback(&args.version).await?;
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
    // Newer applied runs (history is newest first): refused before asking, unless the
    // user chose how (the migrator checks again under its lock).
    let newer: Vec<String> = history
        .into_iter()
        .take_while(|row| row.version != args.version)
        .filter(|row| row.status == RunStatus::Applied)
        .map(|row| row.version)
        .collect();
    if !newer.is_empty() && !args.with_newer && !args.out_of_order {
        return Err(Error::NewerApplied { version: args.version, newer });
    }
    let what = if args.with_newer && !newer.is_empty() {
        format!(
            "{} and the {} newer migration(s) after it ({})",
            args.version,
            newer.len(),
            newer.join(", ")
        )
    } else {
        args.version.clone()
    };
    eprintln!("Rolling back {what} restores the schema (and the data drops kept) from before it.");
    eprintln!(
        "It runs{}:",
        if args.with_newer && !newer.is_empty() { ", after the newer runs' own" } else { "" }
    );
    for statement in &analysis.down_sql {
        eprintln!("  {statement};");
    }
    if !args.yes && !ask(&format!("Roll back {what}?")) {
        return Ok(EXIT_REFUSED);
    }
    if args.with_newer {
        session.flow.rollback_to_version(&args.version).await?;
    }
    if args.out_of_order {
        session.flow.rollback_migration_out_of_order(&args.version).await?;
    } else {
        session.flow.rollback_migration(&args.version).await?;
    }
    eprintln!("Rolled back {what}.");
    Ok(EXIT_OK)
}

async fn purge(session: &Session, args: PurgeArgs) -> Result<u8> {
    eprintln!(
        "Purging drops the trash tables and column backups of migrations started more than {} \
         ago: they can no longer be rolled back with their data.",
        super::args::format_duration(args.older_than)
    );
    if !args.yes && !ask("Drop that kept data?") {
        return Ok(EXIT_REFUSED);
    }
    let dropped = session.flow.purge(args.older_than).await?;
    if dropped.is_empty() {
        eprintln!("Nothing to purge.");
    }
    match args.format {
        Format::Json => json(&serde_json::json!({ "dropped": dropped })),
        Format::Text => {
            for name in &dropped {
                eprintln!("dropped {name}");
            }
        }
    }
    Ok(EXIT_OK)
}
