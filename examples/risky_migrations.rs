//! The risky migrations of the seed documents, on a populated table: what the engine plans
//! for each, how it rates it and why, and what it refuses.
//!
//! Run: `cargo run --example risky_migrations [-- --rows N]` (PostgreSQL on
//! 127.0.0.1:5432, or set `DATAFLOW_EXAMPLE_POSTGRES` to an admin URL). It fills `users`
//! with N rows (default 200,000) in a scratch database `dataflow_example_risky`, runs each
//! scenario from the same starting point (applying it, then rolling it back with the
//! rows checked) and drops the database at the end.
//!
//! 1. **NOT NULL column on a populated table.** Without a value the plan is refused before
//!    anything runs (PostgreSQL would fail on the first row). With a constant `default`
//!    it is SAFE: PostgreSQL 11+ stores the default in the catalog, no rewrite. With a
//!    computed `backfill` it is MEDIUM: one UPDATE of every row under the table lock.
//! 2. **Index on a populated table.** Built `CREATE INDEX CONCURRENTLY`, outside any
//!    transaction: reads and writes go on, so it is SAFE and even a SAFE-only policy
//!    allows it (a failed build's INVALID leftover is replaced by the next run). On a
//!    table below `tiny_table_rows` the plain form runs inside the table's transaction.
//! 3. **Column type change.** `integer → bigint` would rewrite the table under ACCESS
//!    EXCLUSIVE; on a populated table it goes through a shadow column instead (filled in
//!    keyset batches, kept in step by a trigger, swapped in within an instant): MEDIUM.
//! 4. **Drop column.** HIGH: refused unless `max_risk` is HIGH; when applied, the values
//!    are copied to a backup table first, so the rollback brings them back.
//! 5. **Foreign key.** On a populated table it is added `NOT VALID` (an instant lock; new
//!    rows are checked at once) and validated in a step of its own, which scans without
//!    blocking reads or writes — both SAFE. Added `NOT VALID` by hand, only the
//!    `VALIDATE CONSTRAINT` is left to plan.

#[path = "support/scratch.rs"]
mod scratch;

use dataflow::{DataFlow, MigrateOptions, Mode, ModelDef, Plan, RiskLevel};
use sqlx::Executor;

/// The starting point of every scenario.
#[allow(dead_code)]
mod base {
    use dataflow::Model;

    #[derive(Model)]
    #[dataflow(table = "orgs")]
    pub struct Org {
        #[dataflow(primary_key)]
        pub id: i64,
        pub name: String,
    }

    #[derive(Model)]
    #[dataflow(table = "users")]
    pub struct User {
        #[dataflow(primary_key, auto)]
        pub id: i64,
        pub email: String,
        pub age: i32,
        pub org_id: Option<i64>,
        pub legacy_flag: Option<String>,
    }
}

/// One model change per scenario; each `User` replaces `base::User`.
#[allow(dead_code)]
mod changed {
    use dataflow::Model;

    #[derive(Model)]
    #[dataflow(table = "users")]
    pub struct NotNullWithoutValue {
        #[dataflow(primary_key, auto)]
        pub id: i64,
        pub email: String,
        pub age: i32,
        pub org_id: Option<i64>,
        pub legacy_flag: Option<String>,
        pub plan: String,
    }

    #[derive(Model)]
    #[dataflow(table = "users")]
    pub struct NotNullWithDefault {
        #[dataflow(primary_key, auto)]
        pub id: i64,
        pub email: String,
        pub age: i32,
        pub org_id: Option<i64>,
        pub legacy_flag: Option<String>,
        #[dataflow(default = "free")]
        pub plan: String,
    }

    #[derive(Model)]
    #[dataflow(table = "users")]
    pub struct NotNullWithBackfill {
        #[dataflow(primary_key, auto)]
        pub id: i64,
        pub email: String,
        pub age: i32,
        pub org_id: Option<i64>,
        pub legacy_flag: Option<String>,
        #[dataflow(backfill = "lower(email)")]
        pub email_lower: String,
    }

    #[derive(Model)]
    #[dataflow(table = "users")]
    pub struct IndexedEmail {
        #[dataflow(primary_key, auto)]
        pub id: i64,
        #[dataflow(index)]
        pub email: String,
        pub age: i32,
        pub org_id: Option<i64>,
        pub legacy_flag: Option<String>,
    }

    #[derive(Model)]
    #[dataflow(table = "users")]
    pub struct BigAge {
        #[dataflow(primary_key, auto)]
        pub id: i64,
        pub email: String,
        pub age: i64,
        pub org_id: Option<i64>,
        pub legacy_flag: Option<String>,
    }

    #[derive(Model)]
    #[dataflow(table = "users")]
    pub struct WithoutLegacyFlag {
        #[dataflow(primary_key, auto)]
        pub id: i64,
        pub email: String,
        pub age: i32,
        pub org_id: Option<i64>,
    }

    #[derive(Model)]
    #[dataflow(table = "users")]
    pub struct WithOrgKey {
        #[dataflow(primary_key, auto)]
        pub id: i64,
        pub email: String,
        pub age: i32,
        #[dataflow(references = "orgs.id")]
        pub org_id: Option<i64>,
        pub legacy_flag: Option<String>,
    }
}

/// The scratch database and the models every scenario starts from.
struct Lab {
    url: String,
    rows: i64,
}

impl Lab {
    async fn flow(&self, users: ModelDef) -> Result<DataFlow, dataflow::Error> {
        Ok(DataFlow::connect(&self.url).await?.model::<base::Org>().models([users]))
    }

    /// Shows the preview of `users`' change (no SQL listing: the table and summary say
    /// it), applies it with `max_risk`, checks convergence and rolls it back.
    async fn scenario(
        &self,
        title: &str,
        users: ModelDef,
        policy: MigrateOptions,
    ) -> Result<(), Box<dyn std::error::Error>> {
        let max_risk = policy.max_risk;
        eprintln!("\n=== {title} ===");
        let flow = self.flow(users).await?;
        let preview =
            MigrateOptions::default().with_mode(Mode::DryRun).with_show_rollback_plan(false);
        if let Err(error) = flow.auto_migrate(preview).await {
            eprintln!("Refused before anything ran:\n  {error:?}");
            return Ok(());
        }
        let report = match flow.auto_migrate(policy.with_mode(Mode::AutoConfirm)).await {
            Ok(report) => report,
            Err(error) => {
                eprintln!("Refused (max_risk {max_risk}):\n  {error:?}");
                return Ok(());
            }
        };
        let version = report.version.clone().unwrap_or_default();
        let converged: Plan = flow.plan().await?;
        eprintln!(
            "Applied with max_risk {max_risk} in {} ms; re-plan: {} step(s).",
            report.elapsed_ms,
            converged.steps.len()
        );
        flow.rollback_migration(&version).await?;
        let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM users")
            .fetch_one(scratch::pool(&flow)?)
            .await?;
        assert_eq!(rows, self.rows, "every row survives apply and rollback");
        eprintln!("Rolled back {version}: {rows} rows intact.");
        Ok(())
    }
}

fn rows_flag() -> i64 {
    let args: Vec<String> = std::env::args().collect();
    args.windows(2)
        .find(|pair| pair[0] == "--rows")
        .and_then(|pair| pair[1].replace('_', "").parse().ok())
        .unwrap_or(200_000)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let rows = rows_flag();
    let scratch = scratch::Scratch::create("dataflow_example_risky").await?;
    let lab = Lab { url: scratch.url.clone(), rows };
    let start = lab.flow(ModelDef::of::<base::User>()).await?;
    start.auto_migrate(MigrateOptions::default().with_mode(Mode::AutoConfirm)).await?;
    eprintln!("Filling users with {rows} rows …");
    let fill = format!(
        "INSERT INTO orgs VALUES (1, 'acme'); \
         INSERT INTO users (email, age, org_id, legacy_flag) \
         SELECT 'User' || g || '@Example.com', 20 + g % 50, 1, CASE WHEN g % 3 = 0 THEN 'x' END \
         FROM generate_series(1, {rows}) g; ANALYZE orgs, users"
    );
    scratch::pool(&start)?.execute(fill.as_str()).await?;

    use changed::*;
    let at = |max_risk| MigrateOptions::default().with_max_risk(max_risk);
    let (safe, medium, high) = (at(RiskLevel::Safe), at(RiskLevel::Medium), at(RiskLevel::High));
    let model = |def: fn() -> ModelDef| def();
    let cases = [
        (
            "1a. NOT NULL column without a value",
            model(ModelDef::of::<NotNullWithoutValue>),
            medium.clone(),
        ),
        (
            "1b. NOT NULL column with a constant default",
            model(ModelDef::of::<NotNullWithDefault>),
            medium.clone(),
        ),
        (
            "1c. NOT NULL column with a computed backfill",
            model(ModelDef::of::<NotNullWithBackfill>),
            medium.clone(),
        ),
        (
            "2. Index, built CONCURRENTLY: allowed even by a SAFE-only policy",
            model(ModelDef::of::<IndexedEmail>),
            safe,
        ),
        ("3. Column type change integer → bigint", model(ModelDef::of::<BigAge>), medium.clone()),
        (
            "4a. Drop column, default policy",
            model(ModelDef::of::<WithoutLegacyFlag>),
            medium.clone(),
        ),
        ("4b. Drop column, max_risk HIGH", model(ModelDef::of::<WithoutLegacyFlag>), high),
        (
            "5a. Foreign key: NOT VALID, then VALIDATE",
            model(ModelDef::of::<WithOrgKey>),
            medium.clone(),
        ),
    ];
    for (title, users, policy) in cases {
        lab.scenario(title, users, policy).await?;
    }
    scratch::pool(&start)?
        .execute(
            "ALTER TABLE users ADD CONSTRAINT users_org_id_fkey FOREIGN KEY (org_id) \
             REFERENCES orgs (id) NOT VALID",
        )
        .await?;
    // The same models as 5a, whose run was rolled back: re-applying a rolled-back target
    // needs `force` (otherwise the next replica to start would silently undo a rollback).
    lab.scenario(
        "5b. Foreign key added NOT VALID by hand: only VALIDATE is left",
        ModelDef::of::<WithOrgKey>(),
        medium.with_force(true),
    )
    .await?;
    scratch.drop().await?;
    Ok(())
}
