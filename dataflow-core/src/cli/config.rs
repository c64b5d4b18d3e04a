//! The command line's defaults from the environment and a file, before any flag:
//! `.env` (loaded into the environment, never overriding a variable already set) and an
//! optional `dataflow.toml` in the working directory (or at `DATAFLOW_CONFIG`).
//! Precedence: flag, then environment variable, then `dataflow.toml`, then built-in default.
//!
//! ```toml
//! # dataflow.toml
//! database_url_env = "PRIMARY_DATABASE_URL" # read --db from this variable, not DATABASE_URL
//! schema = ["public", "billing"]             # --schema (DB-vs-DB namespaces)
//! max_risk = "medium"                        # apply --max-risk: safe | medium | high
//! lock_timeout = "2s"                        # apply --lock-timeout: 500ms, 2s, 1m
//! ```

use super::args::{parse_lock_timeout, MaxRisk};
use clap::ValueEnum;
use std::path::PathBuf;

/// The file's keys; any other key is an error, so a typo is never silently ignored.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Config {
    database_url_env: Option<String>,
    schema: Option<Vec<String>>,
    max_risk: Option<String>,
    lock_timeout: Option<String>,
}

/// Where the file is looked for.
fn location() -> (PathBuf, bool) {
    match std::env::var_os("DATAFLOW_CONFIG").filter(|path| !path.is_empty()) {
        Some(path) => (PathBuf::from(path), true),
        None => (PathBuf::from("dataflow.toml"), false),
    }
}

impl Config {
    /// [`Config::load`], except that `--help` and `--version` work whatever the files hold
    /// (they are how a person finds out what the files should hold).
    pub fn for_args(args: &[std::ffi::OsString]) -> Result<Config, String> {
        let asks_for_help = args
            .iter()
            .skip(1)
            .any(|arg| ["-h", "--help", "-V", "--version", "help"].iter().any(|flag| arg == flag));
        match Config::load() {
            Err(_) if asks_for_help => Ok(Config::default()),
            loaded => loaded,
        }
    }

    /// Loads `.env`, then `dataflow.toml` when there is one (`DATAFLOW_CONFIG` must exist
    /// when set). The error names the file, the key and the fix.
    pub fn load() -> Result<Config, String> {
        match dotenvy::dotenv() {
            Ok(_) => {}
            Err(error) if error.not_found() => {}
            // The parser's message quotes the line, which may hold a password.
            Err(dotenvy::Error::LineParse(_, at)) => {
                return Err(format!(
                    ".env has a line that is not KEY=VALUE (at character {at} of that line; \
                     its text is not shown, it may hold a secret)"
                ))
            }
            Err(error) => return Err(format!("cannot read .env: {error}")),
        }
        let (path, named) = location();
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound && !named => {
                return Ok(Config::default());
            }
            Err(error) => {
                return Err(format!(
                    "cannot read {}{}: {error}",
                    path.display(),
                    if named { " (named by DATAFLOW_CONFIG)" } else { "" }
                ))
            }
        };
        // The message and the line, not the line's text: it may hold a secret someone put
        // in the wrong file.
        let config: Config = toml::from_str(&text).map_err(|error| {
            let line = error.span().map_or(0, |span| text[..span.start].matches('\n').count() + 1);
            format!("{} line {line}: {}", path.display(), error.message().trim_end())
        })?;
        config.validate().map_err(|reason| format!("{}: {reason}", path.display()))?;
        Ok(config)
    }

    fn validate(&self) -> Result<(), String> {
        if let Some(risk) = &self.max_risk {
            MaxRisk::from_str(risk, true).map_err(|_| {
                format!(
                    "max_risk = {risk:?} is not a risk level: use \"safe\", \"medium\" or \"high\""
                )
            })?;
        }
        if let Some(timeout) = &self.lock_timeout {
            parse_lock_timeout(timeout).map_err(|reason| format!("lock_timeout = {reason}"))?;
        }
        if self.schema.as_ref().is_some_and(Vec::is_empty) {
            return Err("schema = [] names no schema: leave the key out for \"public\", or list \
                        the schemas to compare"
                .to_owned());
        }
        if let Some(name) = &self.database_url_env {
            let valid = name.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !valid {
                return Err(format!(
                    "database_url_env = {name:?} is not an environment variable name"
                ));
            }
        }
        Ok(())
    }

    /// What to add to clap's "required argument --db not provided" when this file moved
    /// `--db` to a variable that is not set (clap names only the flag).
    pub fn missing_db_hint(&self, error: &clap::Error) -> Option<String> {
        let variable = self.database_url_env.as_ref()?;
        let missing_db = error.kind() == clap::error::ErrorKind::MissingRequiredArgument
            && error.to_string().contains("--db");
        (missing_db && std::env::var_os(variable).is_none()).then(|| {
            format!(
                "hint: dataflow.toml says database_url_env = {variable:?}, and {variable} is not \
                 set: export it, or pass --db"
            )
        })
    }

    /// `command` with this file's values as the defaults of the flags they name, in every
    /// subcommand that has them.
    pub fn apply_to(&self, mut command: clap::Command) -> clap::Command {
        let names: Vec<String> =
            command.get_subcommands().map(|sub| sub.get_name().to_owned()).collect();
        for name in names {
            command = command.mut_subcommand(name, |mut sub| {
                let has =
                    |sub: &clap::Command, id: &str| sub.get_arguments().any(|a| a.get_id() == id);
                if let (Some(variable), true) = (&self.database_url_env, has(&sub, "db")) {
                    sub = sub.mut_arg("db", |arg| arg.env(variable.clone()));
                }
                if let (Some(schemas), true) = (&self.schema, has(&sub, "schemas")) {
                    sub = sub.mut_arg("schemas", |arg| arg.default_values(schemas.clone()));
                }
                if let (Some(risk), true) = (&self.max_risk, has(&sub, "max_risk")) {
                    sub =
                        sub.mut_arg("max_risk", |arg| arg.default_value(risk.to_ascii_lowercase()));
                }
                if let (Some(timeout), true) = (&self.lock_timeout, has(&sub, "lock_timeout")) {
                    sub = sub.mut_arg("lock_timeout", |arg| arg.default_value(timeout.clone()));
                }
                sub
            });
        }
        command
    }
}
