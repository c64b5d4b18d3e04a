//! The `dataflow` command line on SQLite files: DB-vs-DB diff, apply, history, rollback,
//! status; eight processes applying to one file at once.

use super::support::TestFile;
use crate::common::applied::Snapshot;
use std::process::{Command, Output, Stdio};

fn dataflow(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_dataflow"))
        .args(args)
        .env_remove("DATABASE_URL")
        .output()
        .expect("the dataflow binary runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

const CURRENT: &str =
    "CREATE TABLE users (id integer PRIMARY KEY, email text NOT NULL, legacy text); \
    INSERT INTO users (email, legacy) VALUES ('a@x.io', 'l1'), ('b@x.io', NULL)";
const TARGET: &str = "CREATE TABLE users (id integer PRIMARY KEY, email text NOT NULL, \
    active boolean NOT NULL DEFAULT 1); CREATE INDEX users_email_idx ON users (email); \
    CREATE TABLE orgs (id integer PRIMARY KEY, name text NOT NULL UNIQUE)";

#[tokio::test]
async fn diff_apply_history_rollback_and_status_on_files() {
    let (current, target) = (TestFile::new("cli_a").await, TestFile::new("cli_b").await);
    current.exec(CURRENT).await;
    target.exec(TARGET).await;
    let (db, to) = (current.url.as_str(), target.url.as_str());
    let before = Snapshot::take(&current).await;

    let diff = dataflow(&["diff", "--db", db, "--target", to, "--check"]);
    assert_eq!(diff.status.code(), Some(3), "{}", text(&diff.stderr));
    assert!(text(&diff.stdout).contains("CREATE TABLE \"orgs\""), "{}", text(&diff.stdout));
    let refused = dataflow(&["apply", "--db", db, "--target", to, "--yes"]);
    assert_eq!(
        refused.status.code(),
        Some(2),
        "dropping `legacy` is HIGH: {}",
        text(&refused.stderr)
    );
    let applied = dataflow(&[
        "apply",
        "--db",
        db,
        "--target",
        to,
        "--yes",
        "--max-risk",
        "high",
        "--format",
        "json",
    ]);
    assert_eq!(applied.status.code(), Some(0), "{}", text(&applied.stderr));
    let report: serde_json::Value = serde_json::from_slice(&applied.stdout).expect("a JSON report");
    assert_eq!(report["applied"], true);
    assert!(text(&applied.stderr).contains("Safety summary"), "the preview is printed");
    let again = dataflow(&["diff", "--db", db, "--target", to, "--check"]);
    assert_eq!(again.status.code(), Some(0), "converged: {}", text(&again.stdout));
    assert_eq!(
        current.rows("SELECT id, email, active FROM users ORDER BY id").await,
        vec!["1|a@x.io|1", "2|b@x.io|1"]
    );

    let history = dataflow(&["history", "--db", db, "--format", "json"]);
    let rows: serde_json::Value = serde_json::from_slice(&history.stdout).expect("JSON history");
    let version = rows[0]["version"].as_str().expect("a version").to_owned();
    let status = dataflow(&["status", "--db", db, "--target", to, "--check"]);
    assert_eq!(status.status.code(), Some(0), "{}", text(&status.stdout));
    // A change by hand: `status` shows it as a diff of the recorded schema and the live one.
    current.exec("CREATE INDEX users_by_hand ON users (email)").await;
    let drifted = dataflow(&["status", "--db", db, "--format", "json"]);
    let report: serde_json::Value = serde_json::from_slice(&drifted.stdout).expect("JSON");
    assert_eq!(report["drift"], true, "{report}");
    let diff = report["drift_diff"].as_str().expect("a diff");
    assert!(diff.lines().any(|l| l.starts_with('+') && l.contains("users_by_hand")), "{diff}");
    current.exec("DROP INDEX users_by_hand").await;
    let rolled = dataflow(&["rollback", &version, "--db", db, "--yes"]);
    assert_eq!(rolled.status.code(), Some(0), "{}", text(&rolled.stderr));
    assert_eq!(
        current.rows("SELECT id, email, legacy FROM users ORDER BY id").await,
        vec!["1|a@x.io|l1", "2|b@x.io|∅"],
        "the dropped column is back with its values"
    );
    before.assert_restored(&current, "dataflow rollback").await;
    let pending = dataflow(&["diff", "--db", db, "--target", to, "--check"]);
    assert_eq!(pending.status.code(), Some(3));
    let status = dataflow(&["status", "--db", db]);
    let said = text(&status.stdout);
    assert!(said.contains("none applied (newest:") && said.contains("rolled_back"), "{said}");
}

// assertion path: about concurrency (exactly one of eight applies); the same plan is rolled
// back and compared in diff_apply_history_rollback_and_status_on_files
/// Eight processes run `dataflow apply` on the same file at once: exactly one applies,
/// the others find nothing to do; one history row; every process exits 0.
#[tokio::test]
async fn eight_processes_apply_to_one_file_exactly_once() {
    let (current, target) = (TestFile::new("procs_a").await, TestFile::new("procs_b").await);
    current.exec("CREATE TABLE users (id integer PRIMARY KEY, email text NOT NULL); INSERT INTO users (email) VALUES ('a@x.io')").await;
    target.exec(TARGET).await;
    let spawned: Vec<_> = (0..8)
        .map(|_| {
            Command::new(env!("CARGO_BIN_EXE_dataflow"))
                .args(["apply", "--db", &current.url, "--target", &target.url, "--yes"])
                .env_remove("DATABASE_URL")
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("spawn dataflow")
        })
        .collect();
    let children: Vec<_> =
        spawned.into_iter().map(|c| c.wait_with_output().expect("wait")).collect();
    for child in &children {
        assert_eq!(child.status.code(), Some(0), "{}", text(&child.stderr));
    }
    let said = |needle: &str| children.iter().filter(|c| text(&c.stderr).contains(needle)).count();
    assert_eq!(said("Applied "), 1, "exactly one process applied");
    assert_eq!(said("No changes"), 7, "the others found nothing to do");
    assert_eq!(
        current.rows("SELECT count(*), min(status) FROM _dataflow_migrations").await,
        vec!["1|applied"]
    );
    assert_eq!(current.rows("SELECT count(*) FROM users").await, vec!["1"]);
    let converged = dataflow(&["diff", "--db", &current.url, "--target", &target.url, "--check"]);
    assert_eq!(converged.status.code(), Some(0), "{}", text(&converged.stdout));
    let version = current.rows("SELECT version FROM _dataflow_migrations").await.remove(0);
    let rolled = dataflow(&["rollback", &version, "--db", &current.url, "--yes"]);
    assert_eq!(rolled.status.code(), Some(0), "{}", text(&rolled.stderr));
    let pending = dataflow(&["diff", "--db", &current.url, "--target", &target.url, "--check"]);
    assert_eq!(pending.status.code(), Some(3), "rolled back: pending again");
    assert_eq!(current.rows("SELECT email FROM users").await, vec!["a@x.io"]);
    // Again: said at once, without showing SQL that would not run.
    let twice = dataflow(&["rollback", &version, "--db", &current.url, "--yes"]);
    assert_eq!(twice.status.code(), Some(1), "{}", text(&twice.stderr));
    assert!(
        text(&twice.stderr)
            .contains("is rolled_back: it is already rolled back, there is nothing to undo"),
        "{}",
        text(&twice.stderr)
    );
    assert!(!text(&twice.stderr).contains("It runs"), "{}", text(&twice.stderr));
}

/// What a person types at `Apply these changes? [y/N]`.
#[derive(Debug, Clone, Copy)]
enum Keys {
    /// A line, then Enter.
    Line(&'static str),
    /// A control key: `d` is Ctrl-D, `c` is Ctrl-C.
    Control(char),
}

/// Runs `dataflow args…` in a pseudo-terminal, waits for the `[y/N]` question, types
/// `keys`, and returns the exit code and what the terminal showed.
fn at_the_prompt(args: &[&str], keys: Keys) -> (i32, String) {
    use rexpect::process::WaitStatus;
    let mut command = Command::new(env!("CARGO_BIN_EXE_dataflow"));
    command.args(args).env_remove("DATABASE_URL").env("NO_COLOR", "1").env("TERM", "xterm");
    let mut session =
        rexpect::session::spawn_command(command, Some(30_000)).expect("spawn in a pty");
    let before = session.exp_string("[y/N]").expect("the question");
    match keys {
        Keys::Line(line) => {
            session.send_line(line).expect("type a line");
        }
        Keys::Control(key) => session.send_control(key).expect("press a control key"),
    }
    let after = session.exp_eof().expect("the command ends");
    let code = match session.process().wait().expect("exit status") {
        WaitStatus::Exited(_, code) => code,
        other => panic!("{keys:?}: ended by {other:?} instead of exiting\n{before}{after}"),
    };
    (code, format!("{before}[y/N]{after}"))
}

// assertion path: about the answers at the prompt; the same plan is rolled back and compared
// in diff_apply_history_rollback_and_status_on_files
/// Every class of answer at the apply prompt, each on its own file: only `y`/`yes` (any
/// case) applies; another word, an empty line, Ctrl-D or Ctrl-C declines with
/// "Not applied." and exit 2, changes nothing, and the typed text is echoed.
#[tokio::test]
async fn only_y_or_yes_at_the_prompt_applies() {
    let target = TestFile::new("prompt_target").await;
    target.exec(TARGET).await;
    let cases = [
        (Keys::Line("y"), true),
        (Keys::Line("yes"), true),
        (Keys::Line("Y"), true),
        (Keys::Line("n"), false),
        (Keys::Line("no"), false),
        (Keys::Line("not today"), false),
        (Keys::Line("no way"), false),
        (Keys::Line("maybe"), false),
        (Keys::Line(""), false),
        (Keys::Control('d'), false),
        (Keys::Control('c'), false),
    ];
    let columns = "SELECT name FROM pragma_table_info('users') ORDER BY cid";
    for (keys, applies) in cases {
        let current = TestFile::new("prompt_current").await;
        current.exec(CURRENT).await;
        let before = current.rows(columns).await;
        let args = ["apply", "--db", &current.url, "--target", &target.url, "--max-risk", "high"];
        let (code, screen) = at_the_prompt(&args, keys);
        if let Keys::Line(typed) = keys {
            let echoed = screen.split("[y/N]").nth(1).unwrap_or_default();
            assert!(echoed.contains(typed), "{keys:?}: the typed text is echoed\n{screen}");
        }
        if applies {
            assert_eq!(code, 0, "{keys:?} confirms\n{screen}");
            assert!(screen.contains("Applied 2 step(s)"), "{keys:?}\n{screen}");
            assert_eq!(current.rows(columns).await, vec!["id", "email", "active"], "{keys:?}");
        } else {
            assert_eq!(code, 2, "{keys:?} declines with exit 2\n{screen}");
            assert!(screen.contains("Not applied."), "{keys:?} says so\n{screen}");
            assert!(!screen.contains("Applied"), "{keys:?}\n{screen}");
            assert_eq!(current.rows(columns).await, before, "{keys:?} changed nothing");
            assert!(
                current.rows("SELECT name FROM sqlite_master WHERE name = 'orgs'").await.is_empty(),
                "{keys:?} created no table"
            );
        }
    }
}

// assertion path: about declining a rollback; the rollback itself is compared in
// diff_apply_history_rollback_and_status_on_files
/// `rollback` asks the same question the same way: "not today" keeps the migration.
#[tokio::test]
async fn not_today_at_the_rollback_prompt_keeps_the_migration() {
    let (current, target) =
        (TestFile::new("prompt_rb_a").await, TestFile::new("prompt_rb_b").await);
    current.exec(CURRENT).await;
    target.exec(TARGET).await;
    let (db, to) = (current.url.as_str(), target.url.as_str());
    let applied = dataflow(&["apply", "--db", db, "--target", to, "--yes", "--max-risk", "high"]);
    assert_eq!(applied.status.code(), Some(0), "{}", text(&applied.stderr));
    let version = current.rows("SELECT version FROM _dataflow_migrations").await;
    let (code, screen) =
        at_the_prompt(&["rollback", &version[0], "--db", db], Keys::Line("not today"));
    assert_eq!(code, 2, "{screen}");
    assert!(
        screen.contains("Declined: nothing was changed.") && screen.contains("not today"),
        "{screen}"
    );
    assert_eq!(
        current.rows("SELECT status FROM _dataflow_migrations").await,
        vec!["applied"],
        "the migration stays applied"
    );
    let diff = dataflow(&["diff", "--db", db, "--target", to, "--check"]);
    assert_eq!(diff.status.code(), Some(0), "still converged: {}", text(&diff.stdout));
}

/// `--help` names `DATABASE_URL` but never shows its value: it holds a password.
// assertion path: applies nothing
#[test]
fn help_never_prints_the_database_url() {
    for args in [&["--help"][..], &["diff", "--help"], &["apply", "--help"], &["status", "--help"]]
    {
        let help = Command::new(env!("CARGO_BIN_EXE_dataflow"))
            .args(args)
            .env("DATABASE_URL", "mysql://root:S3cret-pw@db.internal:3306/app")
            .output()
            .expect("the dataflow binary runs");
        let shown = format!("{}{}", text(&help.stdout), text(&help.stderr));
        assert_eq!(help.status.code(), Some(0), "{args:?}: {shown}");
        assert!(
            !shown.contains("S3cret-pw") && !shown.contains("db.internal"),
            "{args:?}: {shown}"
        );
        if args.len() > 1 {
            assert!(shown.contains("DATABASE_URL"), "{args:?} names the variable: {shown}");
        }
    }
}

/// `dataflow rollback` of a migration that a newer one builds on is refused before the
/// question, naming the newer one; `--with-newer` rolls both back, newest first.
#[tokio::test]
async fn rollback_under_a_newer_migration_is_refused_or_takes_it_along() {
    let current = TestFile::new("order_a").await;
    let (second, third) = (TestFile::new("order_b").await, TestFile::new("order_c").await);
    current.exec("CREATE TABLE users (id integer PRIMARY KEY, email text NOT NULL); INSERT INTO users (email) VALUES ('a@x.io')").await;
    second
        .exec("CREATE TABLE users (id integer PRIMARY KEY, email text NOT NULL, phone text)")
        .await;
    third.exec("CREATE TABLE users (id integer PRIMARY KEY, email text NOT NULL, phone text); CREATE TABLE orgs (id integer PRIMARY KEY)").await;
    let before = Snapshot::take(&current).await;
    let db = current.url.as_str();
    for target in [&second.url, &third.url] {
        let applied = dataflow(&["apply", "--db", db, "--target", target, "--yes"]);
        assert_eq!(applied.status.code(), Some(0), "{}", text(&applied.stderr));
    }
    let versions =
        current.rows("SELECT version FROM _dataflow_migrations ORDER BY started_at").await;
    let (older, newer) = (&versions[0], &versions[1]);

    let refused = dataflow(&["rollback", older, "--db", db, "--yes"]);
    let said = text(&refused.stderr);
    assert_eq!(refused.status.code(), Some(2), "{said}");
    assert!(said.starts_with("refused:") && said.contains(newer.as_str()), "{said}");
    assert!(said.contains("--with-newer") && said.contains("--out-of-order"), "{said}");
    assert_eq!(
        current.rows("SELECT status FROM _dataflow_migrations ORDER BY started_at").await,
        vec!["applied", "applied"],
        "nothing rolled back"
    );

    let both = dataflow(&["rollback", older, "--db", db, "--with-newer", "--yes"]);
    assert_eq!(both.status.code(), Some(0), "{}", text(&both.stderr));
    assert!(text(&both.stderr).contains(newer.as_str()), "{}", text(&both.stderr));
    before.assert_restored(&current, "both rolled back, newest first").await;
}

/// `dataflow` run in `dir` (where its `.env` and `dataflow.toml` are read).
fn dataflow_in(dir: &std::path::Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_dataflow"))
        .args(args)
        .current_dir(dir)
        .env_remove("DATABASE_URL")
        .env_remove("DATAFLOW_CONFIG")
        .env_remove("DATAFLOW_MAX_RISK")
        .env_remove("DATAFLOW_LOCK_TIMEOUT")
        .output()
        .expect("the dataflow binary runs")
}

/// `.env` names the database through the variable `dataflow.toml` points at, and the
/// file's `max_risk` lets a HIGH drop through where the built-in default refuses it; a
/// flag still wins, and a mistyped key is an error naming the file, changing nothing.
#[tokio::test]
async fn dotenv_and_dataflow_toml_give_the_defaults_and_flags_win() {
    let (current, target) = (TestFile::new("cfg_a").await, TestFile::new("cfg_b").await);
    current.exec(CURRENT).await;
    target.exec(TARGET).await;
    let dir = std::env::temp_dir().join(format!("df_cfg_{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(".env"), format!("PRIMARY_DB={}\n", current.url)).unwrap();
    let to = target.url.as_str();
    let before = Snapshot::take(&current).await;

    std::fs::write(dir.join("dataflow.toml"), "max_rsk = \"high\"\n").unwrap();
    let typo = dataflow_in(&dir, &["apply", "--target", to, "--yes"]);
    assert_eq!(typo.status.code(), Some(64));
    assert!(text(&typo.stderr).contains("unknown field `max_rsk`"), "{}", text(&typo.stderr));

    // The variable the file names is not set: said, not only "--db not provided".
    std::fs::write(dir.join("dataflow.toml"), "database_url_env = \"DF_NOT_SET_ANYWHERE\"\n")
        .unwrap();
    let unset = dataflow_in(&dir, &["diff", "--target", to]);
    assert_eq!(unset.status.code(), Some(64));
    assert!(
        text(&unset.stderr).contains("DF_NOT_SET_ANYWHERE is not set: export it, or pass --db"),
        "{}",
        text(&unset.stderr)
    );

    std::fs::write(
        dir.join("dataflow.toml"),
        "database_url_env = \"PRIMARY_DB\"\nmax_risk = \"high\"\nlock_timeout = \"750ms\"\n",
    )
    .unwrap();
    let flag_wins = dataflow_in(&dir, &["apply", "--target", to, "--yes", "--max-risk", "medium"]);
    assert_eq!(flag_wins.status.code(), Some(2), "{}", text(&flag_wins.stderr));
    before.assert_restored(&current, "refused: nothing changed").await;

    let applied = dataflow_in(&dir, &["apply", "--target", to, "--yes"]);
    assert_eq!(applied.status.code(), Some(0), "{}", text(&applied.stderr));
    let again = dataflow_in(&dir, &["diff", "--target", to, "--check"]);
    assert_eq!(again.status.code(), Some(0), "converged: {}", text(&again.stdout));
    std::fs::remove_dir_all(&dir).unwrap();
}

/// What a person gets wrong at the command line changes nothing and prints no secret: a
/// plan file or `{}` given as the target schema, a mistyped SQLite path (never created),
/// a malformed `.env` line, a URL without `--db`, a zero lock timeout.
#[tokio::test]
async fn mistakes_change_nothing_and_print_no_secret() {
    let current = TestFile::new("mistakes").await;
    current.exec(CURRENT).await;
    let before = Snapshot::take(&current).await;
    let dir = std::env::temp_dir().join(format!("df_mistakes_{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let db = current.url.as_str();

    // A plan file is not a schema: as a target it would have dropped every table.
    let plan = dir.join("plan.json").to_string_lossy().into_owned();
    let snapshot = dataflow_in(&dir, &["snapshot", "--db", db]);
    std::fs::write(dir.join("schema.json"), &snapshot.stdout).unwrap();
    let schema = dir.join("schema.json").to_string_lossy().into_owned();
    let written = dataflow_in(&dir, &["plan", "--db", db, "--target", &schema, "--out", &plan]);
    assert_eq!(written.status.code(), Some(0), "{}", text(&written.stderr));
    let nowhere = ["plan", "--db", db, "--target", &schema, "--out", "/nonexistent/dir/p.json"];
    let unwritable = dataflow_in(&dir, &nowhere);
    assert_eq!(unwritable.status.code(), Some(1));
    assert!(
        text(&unwritable.stderr).contains("cannot write /nonexistent/dir/p.json"),
        "{}",
        text(&unwritable.stderr)
    );
    let as_target =
        dataflow_in(&dir, &["apply", "--db", db, "--target", &plan, "--yes", "--max-risk", "high"]);
    assert_eq!(as_target.status.code(), Some(1));
    assert!(text(&as_target.stderr).contains("this is a plan file"), "{}", text(&as_target.stderr));
    std::fs::write(dir.join("empty.json"), "{}").unwrap();
    let empty = dataflow_in(&dir, &["diff", "--db", db, "--target", "empty.json"]);
    assert_eq!(empty.status.code(), Some(1));
    assert!(text(&empty.stderr).contains("missing field `tables`"), "{}", text(&empty.stderr));

    // A mistyped SQLite path is not created, as --db or as --target.
    let typo = dir.join("typo.db");
    let typo_url = format!("sqlite://{}", typo.display());
    let history = dataflow_in(&dir, &["history", "--db", &typo_url]);
    let diff = dataflow_in(&dir, &["diff", "--db", db, "--target", &typo_url]);
    for output in [&history, &diff] {
        assert_eq!(output.status.code(), Some(1));
        assert!(
            text(&output.stderr).contains("no such SQLite database file"),
            "{}",
            text(&output.stderr)
        );
    }
    assert!(!typo.exists(), "a mistyped path must not become an empty database");

    // A malformed .env line is not quoted (it may hold a password); --help still works.
    std::fs::write(dir.join(".env"), "DATABASE_URL=\"postgres://app:Sup3rSecret@db/shop\n")
        .unwrap();
    let dotenv = dataflow_in(&dir, &["history"]);
    assert_eq!(dotenv.status.code(), Some(64));
    assert!(
        text(&dotenv.stderr).contains(".env has a line that is not KEY=VALUE"),
        "{}",
        text(&dotenv.stderr)
    );
    assert!(!text(&dotenv.stderr).contains("Sup3rSecret"), "{}", text(&dotenv.stderr));
    let help = dataflow_in(&dir, &["history", "--help"]);
    assert_eq!(help.status.code(), Some(0), "{}", text(&help.stderr));
    std::fs::remove_file(dir.join(".env")).unwrap();

    // A URL typed without --db is quoted back redacted.
    let stray = dataflow_in(&dir, &["history", "postgres://app:Sup3rSecret@127.0.0.1:1/shop"]);
    assert_eq!(stray.status.code(), Some(64));
    assert!(
        text(&stray.stderr).contains("postgres://app:***@127.0.0.1:1/shop"),
        "{}",
        text(&stray.stderr)
    );

    // Two kinds of database cannot be compared (the target is not even contacted).
    let across =
        dataflow_in(&dir, &["diff", "--db", db, "--target", "postgres://app@127.0.0.1:1/shop"]);
    assert_eq!(across.status.code(), Some(64), "a usage error: nothing attempted");
    let refusal = "--db is a SQLite database and the target (or plan) is for PostgreSQL";
    assert!(text(&across.stderr).contains(refusal), "{}", text(&across.stderr));
    // Files say where they came from: a PostgreSQL snapshot or plan is refused here too.
    let sqlite_snapshot = text(&snapshot.stdout);
    assert!(sqlite_snapshot.contains("\"dialect\": \"sqlite\""), "{sqlite_snapshot}");
    let foreign = sqlite_snapshot.replace("\"dialect\": \"sqlite\"", "\"dialect\": \"postgres\"");
    std::fs::write(dir.join("pg_schema.json"), foreign).unwrap();
    let from_pg = dataflow_in(&dir, &["diff", "--db", db, "--target", "pg_schema.json"]);
    assert_eq!(from_pg.status.code(), Some(64));
    assert!(text(&from_pg.stderr).contains(refusal), "{}", text(&from_pg.stderr));
    let pg_plan = std::fs::read_to_string(&plan)
        .unwrap()
        .replace("\"dialect\": \"sqlite\"", "\"dialect\": \"postgres\"");
    std::fs::write(dir.join("pg_plan.json"), pg_plan).unwrap();
    let plan_from_pg = dataflow_in(&dir, &["apply", "--db", db, "--plan", "pg_plan.json", "--yes"]);
    assert_eq!(plan_from_pg.status.code(), Some(64));
    assert!(text(&plan_from_pg.stderr).contains(refusal), "{}", text(&plan_from_pg.stderr));

    // Zero would make PostgreSQL wait forever in the lock queue.
    let zero =
        dataflow_in(&dir, &["apply", "--db", db, "--target", &schema, "--lock-timeout", "0"]);
    assert_eq!(zero.status.code(), Some(64));
    assert!(text(&zero.stderr).contains("wait forever"), "{}", text(&zero.stderr));

    before.assert_restored(&current, "after every mistake").await;
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `status` after a run that failed (or is recorded running) on top of an applied one:
/// the difference is that run's, not a change made outside dataflow, and it says what to
/// do. (It used to report DRIFTED, blaming someone else.)
// assertion path: about `status` wording; the applies are plain DB-vs-DB runs
#[tokio::test]
async fn status_after_an_unfinished_run_names_it_instead_of_drift() {
    let (current, first, second) = (
        TestFile::new("unfinished_a").await,
        TestFile::new("unfinished_b").await,
        TestFile::new("unfinished_c").await,
    );
    current.exec("CREATE TABLE users (id integer PRIMARY KEY)").await;
    first.exec("CREATE TABLE users (id integer PRIMARY KEY, phone text)").await;
    second.exec("CREATE TABLE users (id integer PRIMARY KEY, phone text, email text)").await;
    let db = current.url.as_str();
    for target in [&first, &second] {
        let applied = dataflow(&["apply", "--db", db, "--target", &target.url, "--yes"]);
        assert_eq!(applied.status.code(), Some(0), "{}", text(&applied.stderr));
    }
    // The second run stopped half-way (SQLite itself never leaves one: written by hand).
    current
        .exec(
            "UPDATE _dataflow_migrations SET status = 'failed' \
             WHERE rowid = (SELECT max(rowid) FROM _dataflow_migrations)",
        )
        .await;
    let status = dataflow(&["status", "--db", db]);
    let said = text(&status.stdout);
    assert_eq!(status.status.code(), Some(0), "{said}");
    assert!(said.contains("failed") && said.contains("`apply` again finishes"), "{said}");
    assert!(said.contains("partly changed by the last run"), "{said}");
    assert!(!said.contains("DRIFTED"), "{said}");
    current
        .exec(
            "UPDATE _dataflow_migrations SET status = 'running' \
             WHERE rowid = (SELECT max(rowid) FROM _dataflow_migrations)",
        )
        .await;
    let said = text(&dataflow(&["status", "--db", db]).stdout);
    assert!(said.contains("is recorded running") && !said.contains("DRIFTED"), "{said}");
}
