//! The runtime's error type. Messages say what failed, where, why, and what to do.

use dataflow_schema::{ModelError, PlanError};
use thiserror::Error;

/// Everything that can go wrong talking to a database.
#[derive(Error)]
#[non_exhaustive]
pub enum Error {
    /// The URL names no supported database.
    #[error(
        "unsupported database URL {url:?}: expected postgres://user@host:port/database, \
         mysql://user@host:port/database or sqlite://path/to/file.db"
    )]
    UnsupportedUrl {
        /// The URL, password removed.
        url: String,
    },
    /// A DB-vs-DB comparison between two kinds of database.
    #[error(
        "--db is a {database} database and the target (or plan) is for {target}: a plan \
         between them would be nonsense (types, defaults and constraints are written \
         differently); compare with a {database} database, or a schema.json that \
         `dataflow snapshot` wrote from one"
    )]
    DifferentDatabases {
        /// The database's kind.
        database: String,
        /// The target's kind.
        target: String,
    },
    /// No URL was given and `DATABASE_URL` is not set.
    #[error(
        "no database URL: pass one to DataFlow::connect, or set DATABASE_URL (the command \
         line also reads it from .env)"
    )]
    NoDatabaseUrl,
    /// The server could not be reached or refused the login.
    #[error("cannot connect to {url}\n  {}", connect_advice(url, source))]
    Connect {
        /// The URL, password removed.
        url: String,
        /// The driver's error.
        source: sqlx::Error,
    },
    /// A catalog query failed. Introspection never returns an empty schema on error.
    #[error("reading the catalog of {url} failed")]
    Introspect {
        /// The URL, password removed.
        url: String,
        /// The driver's error.
        source: sqlx::Error,
    },
    /// A requested namespace does not exist.
    #[error(
        "schema {namespace:?} does not exist in {url} (or this role cannot see it): \
         check --schema, or create it first"
    )]
    NoSuchNamespace {
        /// The namespace.
        namespace: String,
        /// The URL, password removed.
        url: String,
    },
    /// Existing rows would break a constraint the plan adds; nothing was changed.
    #[error("{}", describe(violations))]
    ConstraintViolations {
        /// Each constraint with the rows that break it.
        violations: Vec<Violation>,
    },
    /// A pre-flight query (counting the rows a new constraint would reject) failed; nothing was
    /// changed.
    #[error(
        "checking the existing rows for step {step} ({what}) failed\n  \
         query: {statement}\n  nothing was changed; the step itself would fail the same way"
    )]
    Preflight {
        /// The step number.
        step: usize,
        /// The constraint checked.
        what: String,
        /// The query.
        statement: String,
        /// The server's error.
        source: sqlx::Error,
    },
    /// The NOT NULL handler cannot plan this addition; nothing was changed.
    #[error(
        "cannot add NOT NULL column {table}.{column}: {reason}; nothing was changed. Fix: {fix}"
    )]
    NotNull {
        /// The table.
        table: String,
        /// The column.
        column: String,
        /// Why.
        reason: String,
        /// What to do.
        fix: String,
    },
    /// A NOT NULL addition failed part-way.
    #[error(
        "adding NOT NULL column {table}.{column} failed\n  {}",
        if *rolled_back { "what it did was undone: the table is as it was before" }
        else { "what it did stays (see `dataflow history`); running it again resumes the fill" }
    )]
    NotNullFailed {
        /// The table.
        table: String,
        /// The column.
        column: String,
        /// Whether what it did was undone.
        rolled_back: bool,
        /// What failed.
        source: Box<Error>,
    },
    /// A rollback was asked for a plan with a step that cannot be undone.
    #[error("step {step} ({what}) cannot be undone: {reason}; nothing was rolled back")]
    Irreversible {
        /// The step number.
        step: usize,
        /// Table and operation.
        what: String,
        /// Why.
        reason: String,
    },
    /// A step never got its lock within `lock_timeout`, however often it was retried.
    #[error(
        "step {step} ({what}) could not get its lock after {attempts} attempts (lock_timeout each): \
         other sessions hold the table{}\n  nothing of the step was applied; end those transactions \
         or retry later",
        if holders.is_empty() { String::new() } else { format!(":\n  {}", holders.join("\n  ")) }
    )]
    LockBusy {
        /// The step number.
        step: usize,
        /// Table and operation.
        what: String,
        /// Attempts made.
        attempts: u32,
        /// Sessions holding locks on the table.
        holders: Vec<String>,
    },
    /// A file could not be read.
    #[error("cannot read {}", redact_urls_in(path))]
    ReadFile {
        /// The path.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// A file could not be written (`plan --out`).
    #[error("cannot write {}", redact_urls_in(path))]
    WriteFile {
        /// The path.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// A file is not a schema snapshot.
    #[error(
        "cannot read {} as a dataflow schema (from `dataflow snapshot`) or plan (from \
         `dataflow plan`)",
        redact_urls_in(path)
    )]
    Snapshot {
        /// The path.
        path: String,
        /// Why.
        source: serde_json::Error,
    },
    /// The history table could not be read or written.
    #[error("the history table _dataflow_migrations of {url} failed")]
    History {
        /// The URL, password removed.
        url: String,
        /// The server's error.
        source: sqlx::Error,
    },
    /// Another migrator held the lock for longer than `migration_lock_timeout`.
    #[error(
        "another migrator held the migration lock for {waited_ms} ms: {holder}; \
         wait for it to finish, or raise migration_lock_timeout"
    )]
    LockTimeout {
        /// How long this one waited.
        waited_ms: u128,
        /// Who holds the lock.
        holder: String,
    },
    /// Steps above `max_risk`.
    #[error(
        "refused: {} step(s) exceed max_risk {max_risk}:\n  {}\n{}",
        steps.len(),
        steps.join("\n  "),
        allow_advice(*needed)
    )]
    RiskRefused {
        /// The allowed level.
        max_risk: dataflow_schema::RiskLevel,
        /// The level that would allow them.
        needed: dataflow_schema::RiskLevel,
        /// The refused steps.
        steps: Vec<String>,
    },
    /// The plan differs from the reviewed one.
    #[error(
        "refused: the plan changed since it was reviewed (expected plan {expected}, now {actual}); \
         review the new plan"
    )]
    PlanChanged {
        /// The reviewed checksum.
        expected: String,
        /// The current checksum.
        actual: String,
    },
    /// The target was rolled back before; re-applying it needs `force`.
    #[error(
        "refused: this target was rolled back as {version}; applying it again would undo that \
         rollback. Change the models (or the target), or pass force: true (CLI: --force)"
    )]
    RolledBackTarget {
        /// The rolled-back run.
        version: String,
    },
    /// A history row's plan cannot be read.
    #[error("the plan recorded for migration {version} cannot be read")]
    CorruptHistory {
        /// The version.
        version: String,
        /// Why.
        source: serde_json::Error,
    },
    /// Explicit plans have no generic inverse.
    #[error(
        "migration {version} ran an explicit plan (apply_plan): its data steps have no generic \
         inverse, so it cannot be rolled back automatically; write the reverse as another plan"
    )]
    ExplicitPlan {
        /// The version.
        version: String,
    },
    /// The run's trash and backups were purged: its data cannot come back.
    #[error(
        "migration {version} cannot be rolled back: {}trash tables and column backups were \
         purged, so the dropped data is gone; nothing was undone. Restore from a database \
         backup instead",
        match purged { Some(run) => format!("it completed {run}, whose "), None => "its ".into() }
    )]
    Purged {
        /// The version asked for.
        version: String,
        /// The earlier run it went on from whose kept data was purged, when it is not
        /// `version` itself.
        purged: Option<String>,
    },
    /// No history row has this version.
    #[error("no migration {version} in the history (see `dataflow history`)")]
    UnknownVersion {
        /// The version asked for.
        version: String,
    },
    /// Only applied runs can be rolled back.
    #[error("migration {version} is {status}: {}", not_rollbackable_fix(*status))]
    NotRollbackable {
        /// The version.
        version: String,
        /// Its status.
        status: crate::history::RunStatus,
    },
    /// SQLite: after the plan, rows break foreign keys; the whole plan was rolled back.
    #[error(
        "the plan was rolled back: {rows} row(s) break foreign keys ({}); fix the rows or the \
         models, then migrate again",
        pairs.join(", ")
    )]
    ForeignKeyViolations {
        /// How many rows.
        rows: usize,
        /// `table → parent` pairs.
        pairs: Vec<String>,
    },
    /// SQLite in rollback-journal mode: open read transactions kept the database busy
    /// through every attempt to take the write lock.
    #[error(
        "{url}: open read transactions kept the database busy for {waited_ms} ms ({attempts} \
         attempts, lock_timeout each): in SQLite's rollback-journal mode nothing can be written \
         while anyone reads. Nothing was changed. Run again when those reads end, or switch the \
         database to WAL once (`sqlite3 <file> 'PRAGMA journal_mode=WAL'`, or \
         `PRAGMA journal_mode=WAL` from the application): then a migration waits only for \
         other writers and reads go on while it runs"
    )]
    SqliteReaders {
        /// The database.
        url: String,
        /// How long it tried.
        waited_ms: u128,
        /// Attempts made.
        attempts: u32,
    },
    /// SQLite refused to write.
    #[error(
        "{url} is read-only: nothing was changed. Make the file and its directory writable \
         for this process (and drop `mode=ro` from the URL), or migrate from a process that \
         can write it"
    )]
    ReadOnlyDatabase {
        /// The database.
        url: String,
    },
    /// The migrating role lacks a privilege (PostgreSQL 42501, MySQL 1142/1044).
    #[error("the role {role} lacks a privilege the migration needs: {server}\n  {advice}")]
    InsufficientPrivilege {
        /// The role (user) the migrator logged in as.
        role: String,
        /// The server's message (it names the privilege and the object).
        server: String,
        /// What to do.
        advice: String,
        /// The error as it was raised.
        source: Box<Error>,
    },
    /// The connection to the server was lost mid-operation (terminated, server restarted
    /// or unreachable).
    #[error("the connection to the database was lost: {server}\n  {advice}")]
    ConnectionLost {
        /// What the driver or the server said.
        server: String,
        /// What to do.
        advice: String,
        /// The error as it was raised.
        source: Box<Error>,
    },
    /// A feature this database does not have in dataflow yet.
    #[error("{what} is not available on {database} yet (it works on PostgreSQL)")]
    NotAvailable {
        /// The feature.
        what: String,
        /// `SQLite` or `MySQL`.
        database: &'static str,
    },
    /// The URL names a database this build was compiled without.
    #[error(
        "this build of dataflow has no {database} support: enable the cargo feature \
         `{feature}` (e.g. dataflow-migrate = {{ version = \"…\", features = [\"{feature}\"] }})"
    )]
    DatabaseNotCompiled {
        /// `PostgreSQL`, `SQLite` or `MySQL`.
        database: &'static str,
        /// The cargo feature that adds it.
        feature: &'static str,
    },
    /// A statement of a plan failed; `left` says what the database was left holding.
    #[error("step {step} ({what}) failed\n  statement: {statement}\n  {left}")]
    StepFailed {
        /// The step number (0: the run's own transaction, e.g. taking SQLite's write lock).
        step: usize,
        /// Table and operation.
        what: String,
        /// The statement that failed.
        statement: String,
        /// What the failure left applied.
        left: LeftBehind,
        /// The server's error.
        source: sqlx::Error,
    },
    /// A rollback of a run that newer applied runs build on.
    #[error(
        "refused: {} newer migration(s) are applied on top of {version}: {}. Undoing {version} \
         alone would leave them on a schema they were not planned for (and `status` would \
         call it drift). Roll them back first, newest first (`dataflow rollback {version} \
         --with-newer` does it: each newer run, then {version}), or undo {version} alone \
         with `--out-of-order` if you know the newer ones do not depend on it",
        newer.len(),
        newer.join(", ")
    )]
    NewerApplied {
        /// The run asked for.
        version: String,
        /// The applied runs after it, newest first.
        newer: Vec<String>,
    },
    /// A command that compares needs something to compare with.
    #[error("nothing to compare with: give --target URL|schema.json, or --plan FILE")]
    NoTarget,
    /// The confirmation hook said no.
    #[error("not applied: the confirmation was declined")]
    Declined,
    /// WaitOnly gave up.
    #[error(
        "the schema still differs from the models after {waited_ms} ms ({pending} step(s) pending): \
         is the migration job running?"
    )]
    Deadline {
        /// How long it waited.
        waited_ms: u128,
        /// Steps still pending.
        pending: usize,
    },
    /// The plan cannot be made.
    #[error(transparent)]
    Plan(#[from] PlanError),
    /// The models do not form a schema.
    #[error(transparent)]
    Model(#[from] ModelError),
}

/// What to do about a run that cannot be rolled back, by where it stands.
fn not_rollbackable_fix(status: crate::history::RunStatus) -> &'static str {
    use crate::history::RunStatus;
    match status {
        RunStatus::RolledBack => {
            "it is already rolled back, there is nothing to undo (`apply` with --force applies \
             it again)"
        }
        RunStatus::Failed => {
            "its finished steps belong to the run that goes on from it: run `apply` again to \
             finish the change, then roll that run back (it undoes both; see `dataflow history`)"
        }
        RunStatus::Running => {
            "it is still running, or its migrator stopped: let it finish, or run `apply` to \
             close it, then roll back"
        }
        RunStatus::Baseline => {
            "it adopted tables that existed before dataflow; there is nothing of dataflow's to \
             undo"
        }
        _ => "only applied migrations can be rolled back",
    }
}

/// How to allow steps up to `needed`.
fn allow_advice(needed: dataflow_schema::RiskLevel) -> String {
    use dataflow_schema::RiskLevel;
    let (rust, cli) = match needed {
        RiskLevel::Safe => ("Safe", "safe"),
        RiskLevel::Medium => ("Medium", "medium"),
        RiskLevel::High => ("High", "high"),
    };
    let when = match needed {
        RiskLevel::High => " once old code no longer uses what they remove",
        _ => " when their locks and scans are acceptable now (the preview estimates them)",
    };
    format!(
        "allow them with `.with_max_risk(RiskLevel::{rust})` (command line: --max-risk {cli}, \
         DATAFLOW_MAX_RISK or max_risk in dataflow.toml){when}"
    )
}

/// The runtime's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Turns an error caused by a missing privilege into [`Error::InsufficientPrivilege`],
/// naming the role, the server's message and the fix; other errors pass through.
pub fn explain_privileges(error: Error, url: &str) -> Error {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(&error);
    let mut found = None;
    while let Some(current) = cause {
        if let Some(sqlx::Error::Database(db)) = current.downcast_ref::<sqlx::Error>() {
            let code = db.code().map(|c| c.into_owned()).unwrap_or_default();
            // 42501 on PostgreSQL; MySQL's 1142 (command denied) and 1044 (database
            // access denied) are SQLSTATE 42000, told apart by their message.
            let message = db.message().to_owned();
            if code == "42501" || (code == "42000" && message.contains("denied")) {
                found = Some(message);
                break;
            }
        }
        cause = current.source();
    }
    let Some(server) = found else { return error };
    let role = url
        .split_once("://")
        .and_then(|(_, rest)| rest.rsplit_once('@'))
        .map(|(credentials, _)| credentials.split(':').next().unwrap_or_default().to_owned())
        .filter(|r| !r.is_empty())
        .unwrap_or_else(|| "(the URL's user)".into());
    let advice = "run the migrator as the owner of the tables it changes, with CREATE on the \
                  schema (or database); steps recorded as applied before the error stay \
                  applied (see `dataflow history`)"
        .to_owned();
    Error::InsufficientPrivilege { role, server, advice, source: Box::new(error) }
}

/// What a migrator's error means for its user: [`explain_privileges`], then
/// [`explain_connection_loss`].
pub fn explain(error: Error, url: &str) -> Error {
    explain_connection_loss(explain_privileges(error, url))
}

/// Turns an error caused by a lost connection (an I/O error, a server that terminated the
/// session or is shutting down: SQLSTATE classes 08 and 57P) into
/// [`Error::ConnectionLost`], saying that the run is recorded and how to resume; other
/// errors pass through.
pub fn explain_connection_loss(error: Error) -> Error {
    // A failed first connection already says so, and nothing ran.
    if matches!(
        error,
        Error::ConnectionLost { .. } | Error::InsufficientPrivilege { .. } | Error::Connect { .. }
    ) {
        return error;
    }
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(&error);
    let mut found = None;
    while let Some(current) = cause {
        if let Some(driver) = current.downcast_ref::<sqlx::Error>() {
            found = match driver {
                sqlx::Error::Io(io) => Some(io.to_string()),
                sqlx::Error::PoolClosed | sqlx::Error::WorkerCrashed => Some(driver.to_string()),
                sqlx::Error::Database(db) => db
                    .code()
                    .filter(|code| code.starts_with("08") || code.starts_with("57P"))
                    .map(|_| db.message().to_owned()),
                _ => None,
            };
            if found.is_some() {
                break;
            }
        }
        cause = current.source();
    }
    let Some(server) = found else { return error };
    let advice = "the history records where the run stopped; run the same migration again \
                  once the server is reachable: it closes the interrupted run and resumes from \
                  the live schema, cleaning up what an interrupted step left (such as an \
                  invalid index). `dataflow status` shows where it stands"
        .to_owned();
    Error::ConnectionLost { server, advice, source: Box::new(error) }
}

/// What to check when a connection fails, by what failed and on which database.
fn connect_advice(url: &str, source: &sqlx::Error) -> String {
    let mysql = url.starts_with("mysql") || url.starts_with("mariadb");
    let (ca, verify, encrypt) = if mysql {
        ("ssl-ca", "ssl-mode=VERIFY_IDENTITY", "ssl-mode=REQUIRED")
    } else {
        ("sslrootcert", "sslmode=verify-full", "sslmode=require")
    };
    let server_wants_tls = source.as_database_error().is_some_and(|error| {
        // PostgreSQL's pg_hba.conf "no encryption" rejection (SQLSTATE 28000).
        error.code().as_deref() == Some("28000") && error.message().contains("no encryption")
    });
    // rustls reports a certificate it rejects as an IO error of the handshake.
    let handshake_failed = matches!(source, sqlx::Error::Tls(_))
        || matches!(source, sqlx::Error::Io(io) if io.to_string().contains("certificate"));
    let missing_file = matches!(source, sqlx::Error::Io(_) | sqlx::Error::Tls(_))
        && source.to_string().contains("No such file");
    match source {
        _ if url.starts_with("sqlite:") => "check that the file's folder exists and that this \
             process may read and write there"
            .to_owned(),
        _ if missing_file => format!(
            "a file the URL names does not exist or cannot be read: check {ca}, \
             {cert} and {key}",
            cert = if mysql { "ssl-cert" } else { "sslcert" },
            key = if mysql { "ssl-key" } else { "sslkey" },
        ),
        _ if handshake_failed => format!(
            "the TLS handshake failed: the server's certificate must be signed by a CA this \
             client trusts and name the host in the URL. Give the CA file \
             (?{verify}&{ca}=/path/ca.crt) or add it to the system's certificates \
             ({encrypt} encrypts without checking the certificate)"
        ),
        _ if server_wants_tls => format!(
            "the server accepts only encrypted connections: add ?{verify}&{ca}=/path/ca.crt \
             to the URL (or ?{encrypt} to encrypt without checking the certificate)"
        ),
        sqlx::Error::Configuration(_) => format!(
            "the URL has a value the driver does not accept. TLS modes: {}; a password with \
             @ : / ? # in it must be percent-encoded (%40 %3A %2F %3F %23)",
            if mysql {
                "ssl-mode=DISABLED|PREFERRED|REQUIRED|VERIFY_CA|VERIFY_IDENTITY"
            } else {
                "sslmode=disable|allow|prefer|require|verify-ca|verify-full"
            }
        ),
        _ => "check that the server runs, the URL is right, and the user may log in to that \
              database"
            .to_owned(),
    }
}

/// A database URL with every secret masked, for anything a person or a log may read:
/// the password in the user part (`postgres://user:***@host/db`) and the value of every
/// query parameter that names one (`?password=***`, `sslpassword=***`, `ssl-key-password=***`,
/// tokens and secrets, also when the name is percent-encoded). Works on malformed URLs too —
/// errors are where they appear —, erring towards masking: an unencoded `@`, `/`, `?` or `#`
/// in a password never lets the rest of it through. The one function every message,
/// report and log line goes through.
pub fn redact(url: &str) -> String {
    let masked = mask_secret_parameters(url);
    let (scheme, rest) = match masked.split_once("://") {
        Some((scheme, rest)) => (Some(scheme), rest),
        None => (None, masked.as_str()),
    };
    let mut shown = String::with_capacity(masked.len());
    if let Some(scheme) = scheme {
        shown.push_str(scheme);
        shown.push_str("://");
    }
    match userinfo_end(rest) {
        // No host after it (`mysql://root:secret`): a `user:password` with the host missing,
        // unless what follows the colon is a port.
        None => match rest.split(['/', '?', '#']).next().and_then(|head| head.split_once(':')) {
            Some((user, after))
                if scheme.is_some() && !after.chars().all(|c| c.is_ascii_digit()) =>
            {
                shown.push_str(user);
                shown.push_str(":***");
                shown.push_str(&rest[user.len() + 1 + after.len()..]);
            }
            _ => shown.push_str(rest),
        },
        Some(at) => {
            match rest[..at].split_once(':') {
                Some((user, _)) => {
                    shown.push_str(user);
                    shown.push_str(":***");
                }
                None => shown.push_str(&rest[..at]),
            }
            shown.push_str(&rest[at..]);
        }
    }
    shown
}

/// Where the user part ends (its `@`): the last `@` followed by something shaped like a
/// host and port up to the next `/`, `?` or the end — so that an `@` in a password
/// (`p@ss@host`) or in a query value (`?user=app@corp`, `ssl-ca=/home/me@corp/ca.pem`) is
/// not taken for it.
fn userinfo_end(rest: &str) -> Option<usize> {
    let host_like = |after: &str| {
        let host = after.split(['/', '?', '#']).next().unwrap_or("");
        host.chars().all(|c| c.is_ascii_alphanumeric() || "-.:[]%_,".contains(c))
    };
    rest.match_indices('@').map(|(at, _)| at).rfind(|&at| host_like(&rest[at + 1..]))
}

/// `key=value` pairs after `?`, `&` or a space (libpq's `host=h password=p` form), or at the
/// start, whose (percent-decoded) key names a secret get `***` as their value, wherever they
/// appear in `url`.
fn mask_secret_parameters(url: &str) -> String {
    let mut out = String::with_capacity(url.len() + 1);
    // A separator in front, so a pair at the very start is found like the others.
    let padded = format!(" {url}");
    let mut rest = padded.as_str();
    while let Some(start) = rest.find(['?', '&', ' ']) {
        out.push_str(&rest[..=start]);
        rest = &rest[start + 1..];
        let pair_end = rest.find(['&', '#', ' ']).unwrap_or(rest.len());
        match rest[..pair_end].split_once('=') {
            Some((key, _)) if names_a_secret(&percent_decode(key)) => {
                out.push_str(key);
                out.push_str("=***");
                rest = &rest[pair_end..];
            }
            _ => {}
        }
    }
    out.push_str(rest);
    out.split_off(1)
}

/// `%77` → `w` (other bytes as they are), for recognising a percent-encoded key.
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = || std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok();
        match (bytes[i], hex().and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'%', Some(byte)) => {
                decoded.push(byte);
                i += 3;
            }
            (byte, _) => {
                decoded.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&decoded).into_owned()
}

/// Every URL-shaped word of `text` (`scheme://…`, or `user:pass@host`) passed through
/// [`redact`], for text that quotes what a person typed (a usage error, a path).
pub fn redact_urls_in(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut word = String::new();
    let flush = |word: &mut String, out: &mut String| {
        if word.contains("://") || (word.contains('@') && word.contains(':')) {
            out.push_str(&redact(word));
        } else {
            out.push_str(word);
        }
        word.clear();
    };
    for c in text.chars() {
        if c.is_whitespace() || c == '\'' || c == '"' || c == '`' {
            flush(&mut word, &mut out);
            out.push(c);
        } else {
            word.push(c);
        }
    }
    flush(&mut word, &mut out);
    out
}

/// Whether a URL query parameter carries a secret (`password`, `sslpassword`,
/// `ssl-key-password`, `auth_token`, `client_secret`, `pwd`…).
fn names_a_secret(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    ["password", "passwd", "secret", "token"].iter().any(|word| key.contains(word))
        || key == "pwd"
        || key == "pass"
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(redact("postgres://u:pw@h:5432/d"), "postgres://u:***@h:5432/d");
        assert_eq!(redact("postgres://u@h/d"), "postgres://u@h/d");
        assert_eq!(redact("sqlite://data/app.db"), "sqlite://data/app.db");
        assert_eq!(redact("sqlite::memory:"), "sqlite::memory:");
    }

    #[test]
    fn secrets_in_query_parameters_are_redacted() {
        assert_eq!(
            redact("postgres://u@h/d?sslmode=require&password=hunter2&application_name=x"),
            "postgres://u@h/d?sslmode=require&password=***&application_name=x"
        );
        assert_eq!(
            redact("mysql://root:a@b@h:3306/t?ssl-mode=REQUIRED&PASSWORD=x&sslpassword=y"),
            "mysql://root:***@h:3306/t?ssl-mode=REQUIRED&PASSWORD=***&sslpassword=***"
        );
        assert_eq!(
            redact("postgres://h/d?auth_token=abc&pwd=z"),
            "postgres://h/d?auth_token=***&pwd=***"
        );
    }

    #[test]
    fn an_at_sign_in_the_query_is_not_taken_for_the_user_part() {
        assert_eq!(
            redact("postgres://nonexistent.invalid/shop?password=S1&user=app@corp"),
            "postgres://nonexistent.invalid/shop?password=***&user=app@corp"
        );
        assert_eq!(
            redact("postgres://app:S2@127.0.0.1:1/shop?application_name=deploy@ci&password=S3"),
            "postgres://app:***@127.0.0.1:1/shop?application_name=deploy@ci&password=***"
        );
        assert_eq!(
            redact("mysql://app@h/shop?password=S4&ssl-ca=/home/me@corp/ca.pem"),
            "mysql://app@h/shop?password=***&ssl-ca=/home/me@corp/ca.pem"
        );
        assert_eq!(redact("postgres://h/d?pass%77ord=S5"), "postgres://h/d?pass%77ord=***");
        assert_eq!(
            redact("sqlite://alice:S6@/x.db?password=S7"),
            "sqlite://alice:***@/x.db?password=***"
        );
        assert_eq!(
            redact("host=h user=x password=S10 dbname=d"),
            "host=h user=x password=*** dbname=d"
        );
        assert_eq!(redact("postgres://x:S11@h1:1,h2:2/db"), "postgres://x:***@h1:1,h2:2/db");
        assert_eq!(redact("mysql://root:S12"), "mysql://root:***");
        assert_eq!(redact("postgres://h:5432/db"), "postgres://h:5432/db");
    }

    #[test]
    fn urls_quoted_in_text_are_redacted() {
        assert_eq!(
            super::redact_urls_in("error: unexpected argument 'postgres://u:S8@h:1/db' found"),
            "error: unexpected argument 'postgres://u:***@h:1/db' found"
        );
        assert_eq!(
            super::redact_urls_in("cannot read postgres:/alice:S9@127.0.0.1:1/db"),
            "cannot read postgres:***@127.0.0.1:1/db"
        );
    }

    #[test]
    fn malformed_urls_keep_their_secrets_hidden() {
        // A `?`, `/` or `@` in an unencoded password must not leak the rest of it.
        for url in [
            "postgres://u:pa?ss@h/d",
            "postgres://u:pa/ss@h/d",
            "postgres://u:p@ss@h/d?password=pa?ss",
            "postgres://u:pass@",
            "u:pass@h/d",
        ] {
            let shown = redact(url);
            assert!(
                !shown.contains("pa?ss") && !shown.contains("pa/ss") && !shown.contains("pass@"),
                "{url} -> {shown}"
            );
        }
    }
}

/// A constraint existing rows break.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct Violation {
    /// The plan step that adds it.
    pub step: usize,
    /// The table.
    pub table: String,
    /// The constraint, e.g. `CHECK events_amount_check (amount >= 0)`.
    pub constraint: String,
    /// How many rows break it.
    pub rows: i64,
    /// Some of them (or their values).
    pub sample: Vec<String>,
    /// What to do about it.
    pub fix: String,
}

/// The message of [`Error::ConstraintViolations`].
fn describe(violations: &[Violation]) -> String {
    let mut text =
        String::from("existing rows break constraints the plan adds; nothing was changed:");
    for v in violations {
        text.push_str(&format!(
            "\n  step {} · {} · {}: {} row(s), e.g. {}\n    fix: {}",
            v.step,
            v.table,
            v.constraint,
            v.rows,
            v.sample.join(", "),
            v.fix
        ));
    }
    text
}

/// What a failed step left behind: it depends on how the database runs a plan.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum LeftBehind {
    /// The whole plan ran in one transaction, rolled back: nothing changed (SQLite).
    Nothing,
    /// The step's group (transaction) was rolled back; the groups before it are applied
    /// (PostgreSQL; run the migration again to go on from the live schema).
    EarlierGroups,
    /// DDL commits itself: the steps before it are applied and recorded in run `version`
    /// (MySQL/MariaDB).
    EarlierSteps {
        /// The run's history version.
        version: String,
    },
}

impl std::fmt::Display for LeftBehind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LeftBehind::Nothing => f.write_str("the whole plan was rolled back: nothing changed"),
            LeftBehind::EarlierGroups => {
                f.write_str("the step's group was rolled back; steps before it are applied")
            }
            LeftBehind::EarlierSteps { version } => write!(
                f,
                "MySQL DDL is not transactional: the steps before it are applied and recorded in \
                 run {version}; run the migration again to go on from the live schema, or \
                 `dataflow rollback {version}` to undo them"
            ),
        }
    }
}

/// The message, not the fields: `fn main() -> Result<(), dataflow::Error>` and
/// `.expect()` print an error's `Debug`, and a user there needs what happened and what to
/// do (`Error: refused: …`), not `RiskRefused { max_risk: Medium, … }`. Match on the
/// variants to read the fields.
/// `Debug` is the whole report ([`report`]): what `fn main() -> Result<…>` prints.
impl std::fmt::Debug for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&report(self))
    }
}

/// An error with its causes, one per line: the message (`Display` says what failed, where and
/// what to do — never its cause's text, as Rust's convention asks, so that `anyhow`'s `{:#}`
/// does not print it twice), then `caused by: …` for each source whose text the report does
/// not hold already. What the command line prints.
pub fn report(error: &(dyn std::error::Error + 'static)) -> String {
    let mut out = error.to_string();
    let mut cause = error.source();
    while let Some(current) = cause {
        let text = current.to_string();
        if !out.contains(&text) {
            out.push_str("\n  caused by: ");
            out.push_str(&text);
        }
        cause = current.source();
    }
    out
}
