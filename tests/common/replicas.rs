//! Suite 1 of the reliability issue, shared by the database suites: eight processes call
//! `auto_migrate()` on the same database at once, round after round, each round with a
//! fresh model change (a new column; every third round an index too). Figure per round:
//! exactly one process applied, the seven others found nothing to do, no errors, one
//! history row. 5 rounds in the normal tests; `DATAFLOW_SOAK=1` runs 100.
//!
//! The processes are this test binary re-run with `--exact <child test> --ignored`: the
//! child reads the URL and the round from the environment, migrates, and prints one
//! `REPLICA …` line.

use dataflow::{
    Column, ColumnType, DataFlow, Index, IndexPart, MigrateOptions, Mode, ModelDef, PrimaryKey,
    QualifiedName, Table,
};
use std::process::{Command, Stdio};

pub const URL_VAR: &str = "DATAFLOW_REPLICA_URL";
pub const ROUND_VAR: &str = "DATAFLOW_REPLICA_ROUND";
pub const PROCESSES: usize = 8;

/// Rounds to run: 5, or 100 with `DATAFLOW_SOAK=1`.
pub fn rounds() -> usize {
    if std::env::var("DATAFLOW_SOAK").is_ok_and(|v| v == "1") {
        100
    } else {
        5
    }
}

/// The models of round `round`: table `fleet` with columns `c1`…`c<round>`.
pub fn models(round: usize) -> Vec<ModelDef> {
    let mut table = Table::new(QualifiedName::new("fleet"));
    let mut id = Column::new("id", ColumnType::BigInt);
    id.identity = Some(dataflow::Identity::ByDefault);
    table.columns.push(id);
    table.primary_key = Some(PrimaryKey { name: "fleet_pkey".into(), columns: vec!["id".into()] });
    for n in 1..=round {
        let mut column = Column::new(format!("c{n}"), ColumnType::BigInt);
        column.nullable = true;
        table.columns.push(column);
        if n % 3 == 0 {
            table.indexes.push(Index {
                name: format!("fleet_c{n}_idx"),
                parts: vec![IndexPart::Column(format!("c{n}"))],
                ..Index::default()
            });
        }
    }
    vec![ModelDef::new(table, Vec::new())]
}

/// The child: migrate to the round's models and say what happened.
pub async fn child() {
    let (Ok(url), Ok(round)) = (std::env::var(URL_VAR), std::env::var(ROUND_VAR)) else {
        return; // Run as a normal (ignored) test: nothing to do.
    };
    let round: usize = round.parse().expect("a round number");
    let flow = DataFlow::connect(&url).await.expect("connect").models(models(round));
    let options = MigrateOptions::default().with_mode(Mode::AutoConfirm);
    match flow.auto_migrate(options).await {
        Ok(report) if report.applied => {
            println!("REPLICA applied {}", report.version.unwrap_or_default())
        }
        Ok(_) => println!("REPLICA nothing"),
        Err(error) => println!("REPLICA error {}", error.to_string().replace('\n', " ")),
    }
}

/// What the rounds showed.
#[derive(Debug, Default)]
pub struct Figure {
    pub rounds: usize,
    /// Rounds where exactly one applied and all others found nothing to do.
    pub clean_rounds: usize,
    pub errors: Vec<String>,
    pub applied_history_rows: usize,
    /// After the last round a second plan is empty.
    pub converged: bool,
    /// The last round rolled back leaves the previous round's models with nothing to do.
    pub rolled_back: bool,
}

/// Runs the rounds against `url`, spawning `child_test` (its full path in the binary).
pub async fn run(url: &str, child_test: &str) -> Figure {
    let mut figure = Figure { rounds: rounds(), ..Figure::default() };
    for round in 1..=figure.rounds {
        let children: Vec<_> = (0..PROCESSES)
            .map(|_| {
                Command::new(std::env::current_exe().expect("the test binary"))
                    .args([
                        "--exact",
                        child_test,
                        "--ignored",
                        "--nocapture",
                        "--test-threads",
                        "1",
                    ])
                    .env(URL_VAR, url)
                    .env(ROUND_VAR, round.to_string())
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped())
                    .spawn()
                    .expect("spawn a replica")
            })
            .collect();
        let outputs: Vec<_> =
            children.into_iter().map(|c| c.wait_with_output().expect("wait")).collect();
        let lines: Vec<String> = outputs
            .iter()
            .map(|o| {
                String::from_utf8_lossy(&o.stdout)
                    .lines()
                    // libtest prints `test … ... ` before the child's own output.
                    .find_map(|l| l.find("REPLICA ").map(|at| l[at..].to_owned()))
                    .unwrap_or_else(|| {
                        format!("REPLICA error no answer: {}", String::from_utf8_lossy(&o.stderr))
                    })
            })
            .collect();
        let applied = lines.iter().filter(|l| l.starts_with("REPLICA applied")).count();
        let nothing = lines.iter().filter(|l| *l == "REPLICA nothing").count();
        figure.errors.extend(
            lines
                .iter()
                .filter(|l| l.starts_with("REPLICA error"))
                .map(|l| format!("round {round}: {l}")),
        );
        if applied == 1 && nothing == PROCESSES - 1 {
            figure.clean_rounds += 1;
        }
    }
    let flow = DataFlow::connect(url).await.expect("connect").models(models(figure.rounds));
    let history = flow.history(None).await.expect("history");
    figure.applied_history_rows = history.iter().filter(|h| h.status == "applied").count();
    figure.converged = flow.plan().await.expect("plan").is_empty();
    let last = history.iter().find(|h| h.status == "applied").map(|h| h.version.clone());
    if let Some(version) = last {
        flow.rollback_migration(&version).await.expect("roll the last round back");
        let previous =
            DataFlow::connect(url).await.expect("connect").models(models(figure.rounds - 1));
        figure.rolled_back = previous.plan().await.expect("plan").is_empty();
    }
    figure
}

/// Prints the figure (a soak run also writes `target/reliability-replicas-<database>.json`) and checks it.
pub fn check(database: &str, figure: &Figure) {
    let json = serde_json::json!({
        "database": database,
        "processes": PROCESSES,
        "rounds": figure.rounds,
        "rounds_exactly_one_applied": figure.clean_rounds,
        "errors": figure.errors.len(),
        "applied_history_rows": figure.applied_history_rows,
    });
    let (title, file) =
        (format!("concurrent startup ({database})"), format!("replicas-{database}"));
    super::soak::publish(&title, &file, &json);
    assert!(figure.errors.is_empty(), "{:#?}", figure.errors);
    assert_eq!(figure.clean_rounds, figure.rounds, "every round: one applied, the others nothing");
    assert_eq!(figure.applied_history_rows, figure.rounds, "one history row per round");
    assert!(figure.converged, "the last round's models have nothing left to do");
    assert!(figure.rolled_back, "rolling the last round back restores the round before");
}
