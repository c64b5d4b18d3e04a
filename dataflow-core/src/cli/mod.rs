//! The command line: people-facing output on stderr, machine
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
/// Exit code: the command line itself is wrong — an unknown flag, a bad value, a target of
/// another kind of database, a broken `.env` or `dataflow.toml` (64, `EX_USAGE` of
/// sysexits.h): nothing was attempted.
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
        Err(error) => {
            let hint = config.missing_db_hint(&error);
            let code = usage_error(error);
            if let Some(hint) = hint {
                eprintln!("{hint}");
            }
            return code;
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::from(EXIT_ERROR);
        }
    };
    ExitCode::from(runtime.block_on(until_interrupted("dataflow", dispatch_tool(tool.command))))
}

/// Runs `work` with this process's server sessions noted, so that Ctrl-C can end them: at
/// the `[y/N]` question Ctrl-C is a key that declines (`terminal::answer`); anywhere else
/// it ends the run here, and the server's part of it too (exit 130).
async fn until_interrupted(
    program: &str,
    work: impl std::future::Future<Output = crate::error::Result<u8>>,
) -> u8 {
    crate::sessions::track_sessions();
    tokio::select! {
        outcome = work => finish(outcome),
        // An `Err` (no signal handler could be installed) disables this branch.
        Ok(()) = tokio::signal::ctrl_c() => interrupted(program).await,
    }
}

/// Ctrl-C during a command: the command's future is gone; end its sessions on the
/// server, close the run it recorded, say where things stand. Exit 130 (128 + SIGINT).
async fn interrupted(program: &str) -> u8 {
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
             build is replaced; on PostgreSQL a fill resumes after its last batch), or \
             `{program} rollback {version}` to undo what it finished; `{program} status` shows \
             where things stand"
        );
    }
    if stopped.runs_closed.is_empty() && stopped.problems.is_empty() {
        eprintln!(
            "  nothing of this command is left in progress: it had not started, had finished, or \
             ran in one transaction that was rolled back whole (SQLite: nothing changed); \
             `{program} history` shows what it recorded"
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
/// `status`, `snapshot`, `history`, `rollback`, `purge`), and only then calls `connect`
/// and runs the command, so `--help` and a mistyped command need no database, and
/// `.env` and `dataflow.toml` are read before `connect` looks for `DATABASE_URL`.
/// Ctrl-C during a command ends what it started on the server, closes its run and exits
/// 130, as the `dataflow` tool does. Call it from a Tokio runtime with its I/O and signal
/// drivers enabled (`#[tokio::main]` is).
///
/// ```no_run
/// # use dataflow_core::DataFlow;
/// #[tokio::main]
/// async fn main() -> std::process::ExitCode {
///     dataflow_core::cli::run_app(|| async {
///         // "" reads DATABASE_URL
///         Ok(DataFlow::connect("").await?) // .model::<User>().model::<Order>()
///     })
///     .await
/// }
/// ```
///
/// To nest the commands under your own clap parser, embed [`ModelCommand`] as a
/// subcommand and call [`run_command`].
pub async fn run_app<F, Fut>(connect: F) -> ExitCode
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = crate::error::Result<DataFlow>>,
{
    run_app_from(std::env::args_os(), connect).await
}

/// [`run_app`] with explicit arguments (the program name first).
pub async fn run_app_from<I, S, F, Fut>(args: I, connect: F) -> ExitCode
where
    I: IntoIterator<Item = S>,
    S: Into<std::ffi::OsString> + Clone,
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = crate::error::Result<DataFlow>>,
{
    let args: Vec<std::ffi::OsString> = args.into_iter().map(Into::into).collect();
    let program = program_name(&args);
    let command = match parse_model_command(args) {
        Ok(command) => command,
        Err(code) => return code,
    };
    let work = async move {
        let flow = connect().await?;
        commands::dispatch(&Session::models(flow), command).await
    };
    ExitCode::from(until_interrupted(&program, work).await)
}

/// Runs the command line against a `flow` already connected: as [`run_app`], except that
/// `--help` needs the connection made first and Ctrl-C is left to the process (the pool's
/// sessions were opened before anything could note them). Prefer [`run_app`].
pub async fn run(flow: &DataFlow) -> ExitCode {
    run_from(flow, std::env::args_os()).await
}

/// [`run`] with explicit arguments (the program name first).
pub async fn run_from<I, S>(flow: &DataFlow, args: I) -> ExitCode
where
    I: IntoIterator<Item = S>,
    S: Into<std::ffi::OsString> + Clone,
{
    match parse_model_command(args) {
        Ok(command) => run_command(flow, command).await,
        Err(code) => code,
    }
}

/// The model command `args` name, or the exit code of `--help`, `--version` or a usage
/// error (printed).
fn parse_model_command<I, S>(args: I) -> Result<ModelCommand, ExitCode>
where
    I: IntoIterator<Item = S>,
    S: Into<std::ffi::OsString> + Clone,
{
    let args: Vec<std::ffi::OsString> = args.into_iter().map(Into::into).collect();
    let config = load_config(&args)?;
    // Usage lines show the program's own name (clap takes it from argv[0]).
    let command = clap::Command::new("app")
        .about("Keep the database in step with this application's models.")
        .subcommand_required(true)
        .arg_required_else_help(true);
    let command = config.apply_to(ModelCommand::augment_subcommands(command));
    command
        .try_get_matches_from(args)
        .and_then(|matches| ModelCommand::from_arg_matches(&matches))
        .map_err(usage_error)
}

/// The program's file name, as a person typed it (for the commands a message suggests).
fn program_name(args: &[std::ffi::OsString]) -> String {
    args.first()
        .map(std::path::Path::new)
        .and_then(std::path::Path::file_name)
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_else(|| "app".to_owned())
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
        // The arguments name two kinds of database, or no kind it knows: nothing was
        // attempted.
        Err(error @ (Error::DifferentDatabases { .. } | Error::UnsupportedUrl { .. })) => {
            eprintln!("error: {error}");
            EXIT_USAGE
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
