//! The command line (DESIGN.md "Command line"): people-facing output on stderr, machine
//! output (SQL, JSON) on stdout, and fixed exit codes.
//!
//! Two front ends share one implementation (`commands` over a `session::Session`):
//! - the `dataflow` tool ([`run_tool`]): DB-vs-DB, `--db URL --target URL|schema.json`;
//! - an application's own binary ([`run`], [`run_command`]): the same commands for the
//!   application's registered models, e.g. `myapp db apply`.

mod args;
mod commands;
mod config;
mod session;

pub use args::{
    ApplyArgs, DiffArgs, HistoryArgs, ModelCommand, PlanArgs, PurgeArgs, RollbackArgs, StatusArgs,
};
pub use commands::plan_as_sql;

use crate::error::Error;
use crate::migrator::DataFlow;
use args::{Tool, ToolCommand};
use clap::{CommandFactory, FromArgMatches, Subcommand};
use session::Session;
use std::process::ExitCode;

/// Exit code: done, or nothing to do.
pub const EXIT_OK: u8 = 0;
/// Exit code: an error.
pub const EXIT_ERROR: u8 = 1;
/// Exit code: refused (risk policy, declined prompt, no terminal to ask, drifted plan).
pub const EXIT_REFUSED: u8 = 2;
/// Exit code: the command line itself is wrong — an unknown flag, a bad value, a broken
/// `.env` or `dataflow.toml` (64, `EX_USAGE` of sysexits.h): nothing was attempted.
pub const EXIT_USAGE: u8 = 64;
/// Exit code: changes are pending (`--check`).
pub const EXIT_PENDING: u8 = 3;

/// Runs the `dataflow` tool with `args` (the program name first, as `std::env::args_os`).
pub fn run_tool<I, S>(args: I) -> ExitCode
where
    I: IntoIterator<Item = S>,
    S: Into<std::ffi::OsString> + Clone,
{
    let args: Vec<std::ffi::OsString> = args.into_iter().map(Into::into).collect();
    let config = match load_config(&args) {
        Ok(config) => config,
        Err(refused) => return refused,
    };
    let parsed = config
        .apply_to(Tool::command())
        .try_get_matches_from(args)
        .and_then(|matches| Tool::from_arg_matches(&matches));
    let tool = match parsed {
        Ok(tool) => tool,
        Err(error) => return usage_error(error),
    };
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::from(EXIT_ERROR);
        }
    };
    crate::sessions::track_sessions();
    ExitCode::from(runtime.block_on(async {
        tokio::select! {
            outcome = dispatch_tool(tool.command) => finish(outcome),
            // At the `[y/N]` question Ctrl-C is a key that declines (`terminal::answer`);
            // anywhere else it ends the run here, and the server's part of it too.
            _ = tokio::signal::ctrl_c() => interrupted().await,
        }
    }))
}

/// Ctrl-C during a command: the command's future is gone; end its sessions on the
/// server, close the run it recorded, say where things stand. Exit 130 (128 + SIGINT).
async fn interrupted() -> u8 {
    eprintln!("\nInterrupted: stopping what this run started on the server…");
    let stopped = crate::interrupt::stop_server_work().await;
    if stopped.sessions_ended > 0 {
        eprintln!(
            "  ended {} session(s) of this run on the server: its running statement was cancelled, \
             its open transaction rolled back, the migration lock released",
            stopped.sessions_ended
        );
    }
    for (version, status) in &stopped.runs_closed {
        if *status == crate::history::RunStatus::Applied {
            eprintln!("  run {version} had finished every step: recorded as applied");
            continue;
        }
        eprintln!(
            "  run {version} is recorded as failed; the steps it finished stay applied. \
             Run the same command again to go on from the live schema (an interrupted index \
             build is replaced, a fill resumes after its last batch), or `dataflow rollback \
             {version}` to undo what it finished; `dataflow status` shows where things stand"
        );
    }
    if stopped.runs_closed.is_empty() && stopped.problems.is_empty() {
        eprintln!(
            "  no run of this command was left in progress (it had not started, or had \
             finished): `dataflow history` shows what it recorded"
        );
    }
    for problem in &stopped.problems {
        eprintln!(
            "  could not reach the server to stop it ({problem}): a statement may still be \
             running there; the next run closes this one once its session is gone"
        );
    }
    130
}

/// Runs the command line of an application for its registered models: parses the
/// process arguments as `<program> <command> [options]` (`diff`, `plan`, `apply`,
/// `status`, `snapshot`, `history`, `rollback`, `purge`) and runs it against `flow`.
///
/// ```no_run
/// # async fn demo() -> Result<std::process::ExitCode, dataflow_core::Error> {
/// let flow = dataflow_core::DataFlow::connect("postgres://localhost/app").await?;
/// // let flow = flow.model::<User>().model::<Order>();
/// Ok(dataflow_core::cli::run(&flow).await)
/// # }
/// ```
///
/// To nest the commands under your own clap parser, embed [`ModelCommand`] as a
/// subcommand and call [`run_command`].
pub async fn run(flow: &DataFlow) -> ExitCode {
    run_from(flow, std::env::args_os()).await
}

/// [`run`] with explicit arguments (the program name first).
pub async fn run_from<I, S>(flow: &DataFlow, args: I) -> ExitCode
where
    I: IntoIterator<Item = S>,
    S: Into<std::ffi::OsString> + Clone,
{
    let args: Vec<std::ffi::OsString> = args.into_iter().map(Into::into).collect();
    let config = match load_config(&args) {
        Ok(config) => config,
        Err(refused) => return refused,
    };
    // Usage lines show the program's own name (clap takes it from argv[0]).
    let command = clap::Command::new("app")
        .about("Keep the database in step with this application's models.")
        .subcommand_required(true)
        .arg_required_else_help(true);
    let command = config.apply_to(ModelCommand::augment_subcommands(command));
    let matches = match command.try_get_matches_from(args) {
        Ok(matches) => matches,
        Err(error) => return usage_error(error),
    };
    match ModelCommand::from_arg_matches(&matches) {
        Ok(command) => run_command(flow, command).await,
        Err(error) => usage_error(error),
    }
}

/// Runs one model command against `flow` (see [`run`]).
pub async fn run_command(flow: &DataFlow, command: ModelCommand) -> ExitCode {
    let session = Session::models(flow.clone());
    ExitCode::from(finish(commands::dispatch(&session, command).await))
}

/// The defaults from `.env` and `dataflow.toml`, or the refusal (exit 2) naming what is
/// wrong with them.
fn load_config(args: &[std::ffi::OsString]) -> Result<config::Config, ExitCode> {
    config::Config::for_args(args).map_err(|message| {
        eprintln!("error: {message}");
        ExitCode::from(EXIT_USAGE)
    })
}

/// Usage errors exit 64; `--help` and `--version` exit 0.
fn usage_error(error: clap::Error) -> ExitCode {
    if error.use_stderr() {
        // It quotes what was typed, which may be a URL with a password in it.
        eprint!("{}", crate::error::redact_urls_in(&error.render().to_string()));
        ExitCode::from(EXIT_USAGE)
    } else {
        let _ = error.print();
        ExitCode::from(EXIT_OK)
    }
}

/// The exit code of a finished command, printing its error.
fn finish(outcome: crate::error::Result<u8>) -> u8 {
    match outcome {
        Ok(code) => code,
        Err(Error::Declined) => {
            eprintln!("Not applied.");
            EXIT_REFUSED
        }
        // Their messages start with "refused:".
        Err(
            error @ (Error::RiskRefused { .. }
            | Error::PlanChanged { .. }
            | Error::RolledBackTarget { .. }
            | Error::NewerApplied { .. }),
        ) => {
            eprintln!("{error}");
            EXIT_REFUSED
        }
        Err(error) => {
            eprintln!(
                "error: {}",
                crate::error::report(&crate::error::explain_connection_loss(error))
            );
            EXIT_ERROR
        }
    }
}

async fn dispatch_tool(command: ToolCommand) -> crate::error::Result<u8> {
    let (session, command) = Session::for_tool(command).await?;
    commands::dispatch(&session, command).await
}
