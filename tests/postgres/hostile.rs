//! Suite 5 of the reliability issue on PostgreSQL: the hostile-input corpus
//! (`tests/common/hostile.rs`) planned and applied DB-vs-DB into `public`, with a canary
//! table in another schema and a canary role that an injection would destroy. Counts
//! cases, injections (must be 0), panics (must be 0), and requires every invalid name or
//! fragment to be refused by the planner with a clear error and every applied case to
//! converge. Writes `target/reliability-hostile-postgres.json`.

use super::support::{server_available, TestDb};
use crate::common::hostile::{cases, report, server_refusal, Tally};
use dataflow::{plan_offline, Dialect, PlanOptions};
use dataflow_core::ApplyOptions;

const CANARY_ROLE: &str = "df_canary_role";

async fn canary_intact(db: &TestDb) -> bool {
    let rows: Option<String> = sqlx::query_scalar(
        "SELECT string_agg(id || ':' || note, ',' ORDER BY id) FROM canary_zone.canary",
    )
    .fetch_one(db.db.pool())
    .await
    .ok()
    .flatten();
    let role: Option<String> = sqlx::query_scalar(
        "SELECT rolname || rolsuper || rolcanlogin FROM pg_roles WHERE rolname = $1",
    )
    .bind(CANARY_ROLE)
    .fetch_optional(db.db.pool())
    .await
    .ok()
    .flatten();
    rows.as_deref() == Some("1:alive,2:still alive")
        && role.as_deref() == Some("df_canary_rolefalsefalse")
}

// assertion path: by hand, per case: applied, converged, rolled back, schema as before (the
// tables are empty: there are no rows to compare)
#[tokio::test]
async fn hostile_names_and_strings_never_inject_or_panic() {
    if !server_available().await {
        return;
    }
    let db = TestDb::new("hostile").await;
    db.exec(&format!(
        "DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{CANARY_ROLE}') THEN CREATE ROLE {CANARY_ROLE} NOLOGIN; END IF; END $$; \
         CREATE SCHEMA canary_zone; CREATE TABLE canary_zone.canary (id int PRIMARY KEY, note text); \
         INSERT INTO canary_zone.canary VALUES (1, 'alive'), (2, 'still alive')"
    ))
    .await;
    let payload = format!("DROP TABLE canary_zone.canary; DROP ROLE {CANARY_ROLE}");
    let mut tally = Tally::default();
    let public = vec!["public".to_owned()];
    for case in cases(&payload) {
        tally.cases += 1;
        db.exec("DROP SCHEMA public CASCADE; CREATE SCHEMA public").await;
        let pg = db.db.clone();
        let schema = case.schema.clone();
        let public_ = public.clone();
        // Each case in its own task: a panic is counted, not fatal.
        let outcome = tokio::spawn(async move {
            let current = pg.introspect(&public_).await.map_err(|e| e.to_string())?.schema;
            let plan =
                match plan_offline(&current, &schema, Dialect::Postgres, &PlanOptions::default()) {
                    Ok(plan) => plan,
                    Err(error) => return Ok::<_, String>(("refused", error.to_string())),
                };
            if let Err(error) = pg.apply(&plan, &ApplyOptions::default().with_retries(0)).await {
                return Ok(server_refusal(&error));
            }
            let again = pg.introspect(&public_).await.map_err(|e| e.to_string())?.schema;
            let second = plan_offline(&again, &schema, Dialect::Postgres, &PlanOptions::default())
                .map_err(|e| e.to_string())?;
            if !second.is_empty() {
                return Ok(("not converged", second.to_string()));
            }
            // The down SQL runs the same names and strings back.
            if let Err(error) = pg.rollback(&plan, &ApplyOptions::default().with_retries(0)).await {
                return Ok(("not reversed", error.to_string()));
            }
            let back = pg.introspect(&public_).await.map_err(|e| e.to_string())?.schema;
            let left = plan_offline(&back, &current, Dialect::Postgres, &PlanOptions::default())
                .map_err(|e| e.to_string())?;
            Ok(if left.is_empty() {
                ("applied", String::new())
            } else {
                ("not reversed", left.to_string())
            })
        })
        .await;
        tally.count(&case, outcome);
        if !canary_intact(&db).await {
            tally.injections += 1;
            panic!("INJECTION by {}: the canary is gone", case.label);
        }
    }
    report("postgres", &tally);
    db.exec("DROP SCHEMA canary_zone CASCADE").await;
    db.drop_db().await;
}
