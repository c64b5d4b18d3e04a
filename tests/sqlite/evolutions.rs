//! Every change kind on a populated table: applied, converged, rolled back with the rows
//! compared, applied again.

use super::support::{models, round_trip, TestFile};
use crate::common::applied::Reversal;
use dataflow::{model, Model, Operation, RiskLevel};

const SEED: &str =
    "INSERT INTO users (email, age) VALUES ('a@x.io', 30), ('b@x.io', NULL), ('c@x.io', 41)";
const PROBE: &str = "SELECT id, email, age FROM users ORDER BY id";

#[derive(Model)]
#[dataflow(table = "users")]
struct User {
    #[dataflow(primary_key, auto)]
    id: i64,
    email: String,
    age: Option<i32>,
}

fn ops(plan: &dataflow::Plan) -> Vec<Operation> {
    plan.steps.iter().map(|s| s.operation).collect()
}

#[tokio::test]
async fn add_columns_in_place() {
    #[derive(Model)]
    #[dataflow(table = "users")]
    struct V2 {
        #[dataflow(primary_key, auto)]
        id: i64,
        email: String,
        age: Option<i32>,
        phone: Option<String>,
        #[dataflow(default = "free")]
        plan: String,
    }
    let (file, plan) = round_trip("add", &[model::<User>()], &[model::<V2>()], SEED, PROBE).await;
    assert_eq!(ops(&plan), vec![Operation::AddColumn, Operation::AddColumn], "{plan}");
    assert!(plan.steps.iter().all(|s| s.shown_level == RiskLevel::Safe), "{plan}");
    assert_eq!(file.rows("SELECT plan FROM users WHERE id = 1").await, vec!["free"]);
}

#[tokio::test]
async fn not_null_column_with_a_backfill_rebuilds_and_computes_it() {
    #[derive(Model)]
    #[dataflow(table = "users")]
    struct V2 {
        #[dataflow(primary_key, auto)]
        id: i64,
        email: String,
        age: Option<i32>,
        #[dataflow(backfill = "upper(email)")]
        email_upper: String,
    }
    let (file, plan) =
        round_trip("backfill", &[model::<User>()], &[model::<V2>()], SEED, PROBE).await;
    assert_eq!(ops(&plan), vec![Operation::RebuildTable], "{plan}");
    assert_eq!(
        file.rows("SELECT email_upper FROM users ORDER BY id").await,
        vec!["A@X.IO", "B@X.IO", "C@X.IO"]
    );
}

#[tokio::test]
async fn rename_column_and_table_in_place() {
    #[derive(Model)]
    #[dataflow(table = "people", renamed_from = "users")]
    struct V2 {
        #[dataflow(primary_key, auto)]
        id: i64,
        #[dataflow(renamed_from = "email")]
        mail: String,
        age: Option<i32>,
    }
    let file = TestFile::new("rename").await;
    file.migrate(&models(&[model::<User>()])).await;
    file.exec(SEED).await;
    let plan = file.migrate(&models(&[model::<V2>()])).await;
    assert_eq!(ops(&plan), vec![Operation::RenameTable, Operation::RenameColumn], "{plan}");
    assert_eq!(
        file.rows("SELECT id, mail, age FROM people ORDER BY id").await,
        vec!["1|a@x.io|30", "2|b@x.io|∅", "3|c@x.io|41"]
    );
    file.rollback_to(&plan, &models(&[model::<User>()])).await;
    assert_eq!(file.rows(PROBE).await, vec!["1|a@x.io|30", "2|b@x.io|∅", "3|c@x.io|41"]);
}

#[tokio::test]
async fn type_change_not_null_and_default_rebuild() {
    #[derive(Model)]
    #[dataflow(table = "users")]
    struct V2 {
        #[dataflow(primary_key, auto)]
        id: i64,
        #[dataflow(max_length = 200, default = "none@x.io")]
        email: String,
        #[dataflow(default = 18)]
        age: i64,
    }
    let file = TestFile::new("retype").await;
    let v1 = models(&[model::<User>()]);
    file.migrate(&v1).await;
    file.exec(SEED).await;
    let one_way = Reversal::OneWay("the NULL age filled from the new default stays 18");
    let plan = file.migrate_with(&models(&[model::<V2>()]), one_way).await;
    assert_eq!(ops(&plan), vec![Operation::RebuildTable], "{plan}");
    assert_eq!(plan.steps[0].shown_level, RiskLevel::Medium, "{plan}");
    // The NULL age was filled from the new default; the rest kept.
    assert_eq!(file.rows(PROBE).await, vec!["1|a@x.io|30", "2|b@x.io|18", "3|c@x.io|41"]);
    file.rollback_to(&plan, &v1).await;
    assert_eq!(
        file.rows(PROBE).await,
        vec!["1|a@x.io|30", "2|b@x.io|18", "3|c@x.io|41"],
        "one-way fill: 18 stays"
    );
}

#[tokio::test]
async fn drop_columns_in_place_and_by_rebuild() {
    #[derive(Model)]
    #[dataflow(table = "users", index(columns("age")))]
    struct Indexed {
        #[dataflow(primary_key, auto)]
        id: i64,
        email: String,
        age: Option<i32>,
        note: Option<String>,
    }
    #[derive(Model)]
    #[dataflow(table = "users")]
    struct V2 {
        #[dataflow(primary_key, auto)]
        id: i64,
        email: String,
    }
    let file = TestFile::new("drop").await;
    let v1 = models(&[model::<Indexed>()]);
    file.migrate(&v1).await;
    file.exec(
        "INSERT INTO users (email, age, note) VALUES ('a@x.io', 30, 'n1'), ('b@x.io', NULL, NULL)",
    )
    .await;
    let one_way = Reversal::OneWay(
        "`Sqlite::apply` drops without the migrator's backup (migrator.rs covers that)",
    );
    let plan = file.migrate_with(&models(&[model::<V2>()]), one_way).await;
    // `age` is indexed: SQLite cannot drop it in place, so the table is rebuilt.
    assert_eq!(ops(&plan), vec![Operation::RebuildTable], "{plan}");
    assert_eq!(plan.steps[0].policy_level(), RiskLevel::High, "{plan}");
    assert_eq!(
        file.rows("SELECT id, email FROM users ORDER BY id").await,
        vec!["1|a@x.io", "2|b@x.io"]
    );
    file.rollback_to(&plan, &v1).await;
    assert_eq!(
        file.rows("SELECT id, email, age, note FROM users ORDER BY id").await,
        vec!["1|a@x.io|∅|∅", "2|b@x.io|∅|∅"],
        "the schema comes back; dropped values do not (the step is HIGH for that)"
    );
}

#[tokio::test]
async fn checks_uniques_indexes_and_foreign_keys() {
    #[derive(Model)]
    #[dataflow(table = "orgs")]
    struct Org {
        #[dataflow(primary_key, auto)]
        id: i64,
        name: String,
    }
    #[derive(Model)]
    #[dataflow(table = "users")]
    struct V1 {
        #[dataflow(primary_key, auto)]
        id: i64,
        email: String,
        org_id: Option<i64>,
    }
    #[derive(Model)]
    #[dataflow(table = "users", check = "length(email) > 3", index(columns("org_id", "email")))]
    struct V2 {
        #[dataflow(primary_key, auto)]
        id: i64,
        #[dataflow(unique)]
        email: String,
        #[dataflow(references = "orgs.id", on_delete = "set null")]
        org_id: Option<i64>,
    }
    let seed = "INSERT INTO orgs (name) VALUES ('acme'); INSERT INTO users (email, org_id) VALUES ('a@x.io', 1), ('b@x.io', NULL)";
    let probe = "SELECT id, email, org_id FROM users ORDER BY id";
    let (file, plan) = round_trip(
        "constraints",
        &[model::<Org>(), model::<V1>()],
        &[model::<Org>(), model::<V2>()],
        seed,
        probe,
    )
    .await;
    assert_eq!(
        ops(&plan),
        vec![Operation::RebuildTable],
        "the CHECK and the foreign key need a rebuild, which also makes the indexes:\n{plan}"
    );
    // The constraints hold.
    assert!(sqlx::raw_sql("INSERT INTO users (email) VALUES ('a@x.io')")
        .execute(file.db.pool())
        .await
        .is_err());
    assert!(sqlx::raw_sql("INSERT INTO users (email) VALUES ('x')")
        .execute(file.db.pool())
        .await
        .is_err());
    file.exec("DELETE FROM orgs WHERE id = 1").await;
    assert_eq!(file.rows(probe).await, vec!["1|a@x.io|∅", "2|b@x.io|∅"], "ON DELETE SET NULL");
}

#[tokio::test]
async fn a_change_existing_rows_violate_is_rolled_back_whole() {
    #[derive(Model)]
    #[dataflow(table = "users", check = "age > 35")]
    struct V2 {
        #[dataflow(primary_key, auto)]
        id: i64,
        email: String,
        age: Option<i32>,
        added: Option<String>,
    }
    let file = TestFile::new("violation").await;
    file.migrate(&models(&[model::<User>()])).await;
    file.exec(SEED).await;
    let plan = file.plan(&models(&[model::<V2>()])).await;
    let error = file.db.apply(&plan).await.expect_err("age 30 violates the CHECK");
    assert!(format!("{error:?}").contains("CHECK constraint failed"), "{error:?}");
    assert_eq!(file.rows(PROBE).await, vec!["1|a@x.io|30", "2|b@x.io|∅", "3|c@x.io|41"]);
    file.assert_converged(&models(&[model::<User>()])).await;
}

#[tokio::test]
async fn orphan_rows_fail_the_foreign_key_check_and_change_nothing() {
    #[derive(Model)]
    #[dataflow(table = "orgs")]
    struct Org {
        #[dataflow(primary_key, auto)]
        id: i64,
    }
    #[derive(Model)]
    #[dataflow(table = "users")]
    struct V1 {
        #[dataflow(primary_key, auto)]
        id: i64,
        org_id: Option<i64>,
    }
    #[derive(Model)]
    #[dataflow(table = "users")]
    struct V2 {
        #[dataflow(primary_key, auto)]
        id: i64,
        #[dataflow(references = "orgs.id")]
        org_id: Option<i64>,
    }
    let file = TestFile::new("orphans").await;
    let v1 = models(&[model::<Org>(), model::<V1>()]);
    file.migrate(&v1).await;
    file.exec("INSERT INTO orgs (id) VALUES (1); INSERT INTO users (org_id) VALUES (1), (7)").await;
    let plan = file.plan(&models(&[model::<Org>(), model::<V2>()])).await;
    let error = file.db.apply(&plan).await.expect_err("org 7 does not exist");
    assert!(format!("{error:?}").contains("break foreign keys"), "{error:?}");
    file.assert_converged(&v1).await;
    assert_eq!(file.rows("SELECT org_id FROM users ORDER BY id").await, vec!["1", "7"]);
}

#[tokio::test]
async fn a_rebuild_keeps_indexes_triggers_incoming_keys_and_rows() {
    #[derive(Model)]
    #[dataflow(table = "users", index(columns("email")))]
    struct Parent {
        #[dataflow(primary_key, auto)]
        id: i64,
        email: String,
        age: Option<i32>,
    }
    #[derive(Model)]
    #[dataflow(table = "users", index(columns("email")))]
    struct ParentV2 {
        #[dataflow(primary_key, auto)]
        id: i64,
        email: String,
        #[dataflow(default = 0)]
        age: i32,
    }
    #[derive(Model)]
    #[dataflow(table = "posts")]
    struct Post {
        #[dataflow(primary_key, auto)]
        id: i64,
        #[dataflow(references = "users.id", on_delete = "cascade")]
        user_id: i64,
    }
    let file = TestFile::new("rebuild").await;
    file.migrate(&models(&[model::<Parent>(), model::<Post>()])).await;
    file.exec(
        "WITH RECURSIVE n(v) AS (SELECT 1 UNION ALL SELECT v + 1 FROM n WHERE v < 1000) \
         INSERT INTO users (email, age) SELECT 'u' || v || '@x.io', NULL FROM n",
    )
    .await;
    file.exec("CREATE TABLE audit (user_id integer); CREATE TRIGGER users_audit AFTER INSERT ON users BEGIN INSERT INTO audit VALUES (new.id); END; INSERT INTO posts (user_id) VALUES (1), (2)").await;
    file.exec("CREATE VIEW adults AS SELECT id, email FROM users WHERE age >= 18").await;
    let one_way = Reversal::OneWay("the NULL ages filled with the new default stay 0");
    let plan = file.migrate_with(&models(&[model::<ParentV2>(), model::<Post>()]), one_way).await;
    assert_eq!(ops(&plan), vec![Operation::RebuildTable], "{plan}");
    assert_eq!(file.rows("SELECT count(*), sum(age) FROM users").await, vec!["1000|0"]);
    assert_eq!(
        file.rows("SELECT name FROM sqlite_schema WHERE type = 'index' AND tbl_name = 'users'")
            .await,
        vec!["users_email_idx"]
    );
    file.exec("INSERT INTO users (email) VALUES ('new@x.io')").await;
    assert_eq!(
        file.rows("SELECT count(*) FROM audit").await,
        vec!["1"],
        "the trigger survived the rebuild"
    );
    file.exec("DELETE FROM users WHERE id = 1").await;
    assert_eq!(
        file.rows("SELECT user_id FROM posts").await,
        vec!["2"],
        "the incoming foreign key still cascades"
    );
    file.rollback_to(&plan, &models(&[model::<Parent>(), model::<Post>()])).await;
    assert_eq!(
        file.rows("SELECT count(*) FROM users").await,
        vec!["1000"],
        "rows kept on the way back"
    );
    file.exec("INSERT INTO users (email) VALUES ('back@x.io')").await;
    assert_eq!(
        file.rows("SELECT count(*) FROM audit").await,
        vec!["2"],
        "the trigger survived the rebuild back"
    );
}

#[tokio::test]
async fn removing_constraints_defaults_and_not_null() {
    #[derive(Model)]
    #[dataflow(table = "orgs")]
    struct Org {
        #[dataflow(primary_key, auto)]
        id: i64,
        name: String,
    }
    #[derive(Model)]
    #[dataflow(table = "users", check = "length(email) > 3", index(columns("org_id", "email")))]
    struct Strict {
        #[dataflow(primary_key, auto)]
        id: i64,
        #[dataflow(unique, default = "none@x.io")]
        email: String,
        #[dataflow(references = "orgs.id", on_delete = "set null")]
        org_id: Option<i64>,
        #[dataflow(default = 1)]
        level: i32,
    }
    #[derive(Model)]
    #[dataflow(table = "users")]
    struct Loose {
        #[dataflow(primary_key, auto)]
        id: i64,
        email: String,
        org_id: Option<i64>,
        level: Option<i32>,
    }
    let seed = "INSERT INTO orgs (name) VALUES ('acme'); INSERT INTO users (email, org_id, level) VALUES ('a@x.io', 1, 3), ('b@x.io', NULL, 1)";
    let probe = "SELECT id, email, org_id, level FROM users ORDER BY id";
    let (file, plan) = round_trip(
        "loosen",
        &[model::<Org>(), model::<Strict>()],
        &[model::<Org>(), model::<Loose>()],
        seed,
        probe,
    )
    .await;
    assert_eq!(
        ops(&plan),
        vec![Operation::RebuildTable],
        "the index drops go into the rebuild: {plan}"
    );
    file.exec("INSERT INTO users (email, org_id, level) VALUES ('x', 99, NULL)").await;
}

#[tokio::test]
async fn enum_values_and_primary_keys_change_by_rebuild() {
    #[derive(dataflow::DbEnum)]
    enum Mood {
        Sad,
        Ok,
    }
    #[derive(dataflow::DbEnum)]
    #[dataflow(name = "mood")]
    enum MoodV2 {
        Sad,
        Ok,
        Glad,
    }
    #[derive(Model)]
    #[dataflow(table = "pairs", primary_key(columns("a")))]
    struct V1 {
        a: i64,
        b: i64,
        mood: Mood,
    }
    #[derive(Model)]
    #[dataflow(table = "pairs", primary_key(columns("a", "b")))]
    struct V2 {
        a: i64,
        b: i64,
        mood: MoodV2,
    }
    let seed = "INSERT INTO pairs (a, b, mood) VALUES (1, 1, 'sad'), (2, 1, 'ok')";
    let probe = "SELECT a, b, mood FROM pairs ORDER BY a";
    let (file, plan) = round_trip("enum_pk", &[model::<V1>()], &[model::<V2>()], seed, probe).await;
    assert_eq!(ops(&plan), vec![Operation::RebuildTable], "{plan}");
    file.exec("INSERT INTO pairs (a, b, mood) VALUES (1, 2, 'glad')").await;
}

// assertion path: a regression test of the rollback itself; it converges back to v1
/// A connection that read the schema before another connection changed it still runs
/// DDL against the current schema: SQLite validates `DROP COLUMN` against the schema it
/// cached when it prepares the statement, so the write lock reloads it first.
#[tokio::test]
async fn ddl_on_a_connection_with_a_stale_schema_sees_the_current_one() {
    #[derive(Model)]
    #[dataflow(table = "users")]
    struct V2 {
        #[dataflow(primary_key, auto)]
        id: i64,
        email: String,
        age: Option<i32>,
        #[dataflow(default = "free")]
        plan: String,
    }
    let file = TestFile::new("stale_schema").await;
    let v1 = models(&[model::<User>()]);
    file.db.apply(&file.plan(&v1).await).await.expect("v1");
    // A second handle on the file: its connection caches the schema as of now.
    let stale = dataflow::Sqlite::connect(&file.url).await.expect("a second handle");
    assert!(stale.introspect().await.expect("introspect").schema.tables.len() == 1);
    let plan = file.plan(&models(&[model::<V2>()])).await;
    file.db.apply(&plan).await.expect("v2 through the first handle");
    stale.rollback(&plan).await.expect("the rollback through the stale handle drops `plan`");
    file.assert_converged(&v1).await;
    stale.pool().close().await;
}
