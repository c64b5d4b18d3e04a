//! No secret from a database URL reaches the output: every `dataflow` command's error
//! path, fed URLs with a password in the user part and in query parameters — servers that
//! refuse the connection, a malformed port, a target that cannot be reached. Each case
//! also checks the URL *is* shown (redacted), so the test cannot pass by printing nothing.

use std::process::Command;

const SECRETS: [&str; 3] = ["Sup3rSecret", "QueryPassw0rd", "KeyPassw0rd"];

/// URLs that fail to connect, each with all three secrets in it.
fn failing_urls() -> Vec<String> {
    vec![
        // Nothing listens on port 1.
        "postgres://app:Sup3rSecret@127.0.0.1:1/app?password=QueryPassw0rd&sslpassword=KeyPassw0rd&connect_timeout=2".into(),
        "mysql://app:Sup3rSecret@127.0.0.1:1/app?password=QueryPassw0rd&ssl-key-password=KeyPassw0rd".into(),
        // Not a port at all: the driver's own parse error.
        "postgres://app:Sup3rSecret@localhost:notaport/app?password=QueryPassw0rd&sslpassword=KeyPassw0rd".into(),
        // An unencoded `?`/`@` inside the password.
        "postgres://app:Sup3r?Secret@x@127.0.0.1:1/app?password=QueryPassw0rd&token=KeyPassw0rd".into(),
    ]
}

fn run(args: &[&str]) -> (Option<i32>, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_dataflow"))
        .args(args)
        .env_remove("DATABASE_URL")
        .output()
        .expect("the dataflow binary runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.code(), text)
}

fn assert_hidden(args: &[&str], output: &(Option<i32>, String)) {
    let (code, text) = output;
    assert_ne!(*code, Some(0), "{args:?} cannot succeed:\n{text}");
    for secret in SECRETS.iter().chain(&["Sup3r?Secret", "r?Secret@x"]) {
        assert!(!text.contains(secret), "{args:?} printed the secret {secret:?}:\n{text}");
    }
    assert!(text.contains("app:***@"), "{args:?} should name the URL, redacted:\n{text}");
}

#[test]
fn every_command_hides_the_secrets_of_a_database_it_cannot_reach() {
    let plan_file = std::env::temp_dir().join(format!("df_secrets_{}.json", std::process::id()));
    let plan_file = plan_file.to_string_lossy().into_owned();
    for url in failing_urls() {
        let commands: Vec<Vec<&str>> = vec![
            vec!["diff", "--db", &url, "--target", "sqlite::memory:"],
            vec!["plan", "--db", &url, "--target", "sqlite::memory:", "--out", &plan_file],
            vec!["apply", "--db", &url, "--target", "sqlite::memory:", "--yes"],
            vec!["status", "--db", &url],
            vec!["snapshot", "--db", &url],
            vec!["history", "--db", &url],
            vec!["rollback", "--db", &url, "20260101000000", "--yes"],
            vec!["purge", "--db", &url, "--older-than", "7d", "--yes"],
        ];
        for args in commands {
            assert_hidden(&args, &run(&args));
        }
    }
}

#[test]
fn a_target_it_cannot_reach_keeps_its_secrets_too() {
    let db = std::env::temp_dir().join(format!("df_secrets_{}.db", std::process::id()));
    std::fs::write(&db, b"").expect("an empty SQLite file");
    let db = format!("sqlite://{}", db.display());
    // A SQLite target that is not there (with secrets where a URL may carry them)…
    let missing = "sqlite://app:Sup3rSecret@/nonexistent/dir/x.db?password=QueryPassw0rd&sslpassword=KeyPassw0rd";
    for args in [
        vec!["diff", "--db", &db, "--target", missing],
        vec!["status", "--db", &db, "--target", missing],
    ] {
        assert_hidden(&args, &run(&args));
    }
    // …and targets of another kind of database, refused before they are contacted.
    for target in failing_urls() {
        let args = vec!["diff", "--db", &db, "--target", &target];
        let (code, text) = run(&args);
        assert_eq!(code, Some(64), "{text}");
        assert!(text.contains("the target (or plan) is for"), "{text}");
        assert!(SECRETS.iter().all(|secret| !text.contains(secret)), "{text}");
    }
}
