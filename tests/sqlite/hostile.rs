//! Suite 5 of the reliability issue on SQLite: the hostile-input corpus
//! (`tests/common/hostile.rs`) planned (model mode: the canary is not a model) and applied into a fresh file per case that also
//! holds a canary table an injection would destroy. Same figure and rules as on
//! PostgreSQL; writes `target/reliability-hostile-sqlite.json`.

use super::support::TestFile;
use crate::common::hostile::{cases, report, Tally};
use dataflow::{plan_models, Dialect, PlanOptions};

#[tokio::test]
async fn hostile_names_and_strings_never_inject_or_panic() {
    let payload = "DROP TABLE canary";
    let mut tally = Tally::default();
    for case in cases(payload) {
        tally.cases += 1;
        let file = TestFile::new("hostile").await;
        file.exec("CREATE TABLE canary (id integer PRIMARY KEY, note text); INSERT INTO canary VALUES (1, 'alive'), (2, 'still alive')").await;
        let db = file.db.clone();
        let schema = case.schema.clone();
        let outcome = tokio::spawn(async move {
            let current = db.introspect().await.map_err(|e| e.to_string())?.schema;
            let plan =
                match plan_models(&current, &schema, Dialect::Sqlite, &PlanOptions::default()) {
                    Ok(plan) => plan,
                    Err(error) => return Ok::<_, String>(("refused", error.to_string())),
                };
            if let Err(error) = db.apply(&plan).await {
                return Ok(("server", error.to_string()));
            }
            let again = db.introspect().await.map_err(|e| e.to_string())?.schema;
            let second = plan_models(&again, &schema, Dialect::Sqlite, &PlanOptions::default())
                .map_err(|e| e.to_string())?;
            Ok(if second.is_empty() {
                ("applied", String::new())
            } else {
                ("not converged", second.to_string())
            })
        })
        .await;
        match outcome {
            Err(join) if join.is_panic() => tally.panics += 1,
            Err(join) => panic!("{}: {join}", case.label),
            Ok(Err(error)) => panic!("{}: {error}", case.label),
            Ok(Ok((kind, detail))) => {
                match kind {
                    "refused" => tally.refused_clearly += 1,
                    "server" => tally.refused_by_server += 1,
                    "applied" => tally.applied += 1,
                    _ => tally.not_converged.push(format!("{}: {detail}", case.label)),
                }
                if case.must_refuse && kind != "refused" {
                    tally.missed.push(format!("{} → {kind}", case.label));
                }
            }
        }
        let canary = file.rows("SELECT id || ':' || note FROM canary ORDER BY id").await;
        if canary != ["1:alive", "2:still alive"] {
            tally.injections += 1;
            panic!("INJECTION by {}: the canary is {canary:?}", case.label);
        }
    }
    report("sqlite", &tally);
    assert!(tally.cases >= 200, "the corpus has {} cases", tally.cases);
    assert_eq!((tally.injections, tally.panics), (0, 0));
    assert!(tally.missed.is_empty(), "not refused by the planner: {:#?}", tally.missed);
    assert!(tally.not_converged.is_empty(), "{:#?}", tally.not_converged);
}
