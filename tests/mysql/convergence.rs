//! Every column type, default and constraint kind converges after create (reserved words
//! as names included); every change kind on a populated table converges and rolls back
//! with its rows; what MySQL cannot hold is a clear error that changes nothing.

use super::support::{round_trip, round_trip_with, server_available, TestDb};
use crate::common::applied::Reversal;
use dataflow::{model, DbEnum, Error, Json, Model, Operation, RiskLevel};

#[derive(DbEnum)]
enum Mood {
    Sad,
    Ok,
}

#[derive(Model)]
#[dataflow(table = "orgs")]
struct Org {
    #[dataflow(primary_key, auto)]
    id: i64,
    #[dataflow(unique, max_length = 100)]
    name: String,
}

#[derive(Model)]
#[dataflow(
    table = "order",
    index(columns("small", "big"), name = "order_pair_idx"),
    check = "small >= 0",
    comment = "every kind of column"
)]
struct Everything {
    #[dataflow(primary_key, auto)]
    id: i64,
    small: i16,
    int: i32,
    big: i64,
    real: f32,
    double: f64,
    #[dataflow(sql_type = "numeric(10,2)", default = 0)]
    price: f64,
    #[dataflow(default = "it's a \\ backslash")]
    text: String,
    #[dataflow(max_length = 80, unique)]
    key: Option<String>,
    #[dataflow(default = true)]
    flag: bool,
    bytes: Vec<u8>,
    doc: Option<Json<Vec<String>>>,
    mood: Mood,
    #[dataflow(references = "orgs.id", on_delete = "cascade")]
    org_id: Option<i64>,
    #[dataflow(default = -5, comment = "below zero")]
    negative: i32,
    #[dataflow(sql_type = "datetime(6)", default_sql = "now()")]
    created_at: String,
}

const SEED: &str =
    "INSERT INTO users (email, age) VALUES ('a@x.io', 30), ('b@x.io', NULL), ('c@x.io', 41)";
const PROBE: &str = "SELECT CAST(id AS CHAR), email, CAST(age AS CHAR) FROM users ORDER BY id";

#[derive(Model)]
#[dataflow(table = "users")]
struct User {
    #[dataflow(primary_key, auto)]
    id: i64,
    #[dataflow(max_length = 200)]
    email: String,
    age: Option<i32>,
}

fn ops(plan: &dataflow::Plan) -> Vec<Operation> {
    plan.steps.iter().map(|s| s.operation).collect()
}

#[tokio::test]
async fn every_type_default_and_constraint_converges_after_create() {
    if !server_available().await {
        return;
    }
    let db = TestDb::new("create").await;
    let report = db.migrate(&[model::<Org>(), model::<Everything>()]).await;
    let plan = &report.plan;
    assert!(plan.steps.iter().any(|s| s.operation == Operation::AddForeignKey), "{plan}");
    db.exec("INSERT INTO orgs (name) VALUES ('acme');\nINSERT INTO `order` (small, `int`, big, `real`, `double`, bytes, mood, org_id) VALUES (1, 2, 3, 1.5, 2.5, x'00ff', 'ok', 1)").await;
    assert_eq!(
        db.rows("SELECT text, CAST(flag AS CHAR), CAST(negative AS CHAR), CAST(price AS CHAR) FROM `order`").await,
        vec!["it's a \\ backslash|1|-5|0.00"]
    );
    let mut connection = sqlx::MySqlConnection::connect(&db.url).await.expect("connect");
    let bad = sqlx::query("INSERT INTO `order` (small, `int`, big, `real`, `double`, bytes, mood) VALUES (-1, 2, 3, 1.5, 2.5, x'00', 'ok')")
        .execute(&mut connection)
        .await;
    assert!(bad.is_err(), "the CHECK holds");
    let version = report.version.clone().expect("version");
    db.flow(&[model::<Org>(), model::<Everything>()])
        .await
        .rollback_migration(&version)
        .await
        .expect("rollback");
    assert_eq!(db.count("SELECT count(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME IN ('orgs', 'order')").await, 0, "the rollback drops what the plan created");
    db.drop_db().await;
}

use sqlx::Connection;

#[tokio::test]
async fn add_columns_instantly_and_with_a_backfill() {
    if !server_available().await {
        return;
    }
    #[derive(Model)]
    #[dataflow(table = "users")]
    struct V2 {
        #[dataflow(primary_key, auto)]
        id: i64,
        #[dataflow(max_length = 200)]
        email: String,
        age: Option<i32>,
        phone: Option<String>,
        #[dataflow(default = "free")]
        plan: String,
        #[dataflow(backfill = "upper(email)")]
        email_upper: String,
    }
    let (db, report) = round_trip("add", &[model::<User>()], &[model::<V2>()], SEED, PROBE).await;
    let plan = &report.plan;
    assert_eq!(ops(plan), vec![Operation::AddColumn; 3], "{plan}");
    assert!(plan.steps[0].up[0].ends_with("ALGORITHM=INSTANT"), "{plan}");
    assert_eq!(
        db.rows("SELECT plan, email_upper FROM users ORDER BY id").await,
        vec!["free|A@X.IO", "free|B@X.IO", "free|C@X.IO"]
    );
    db.drop_db().await;
}

#[tokio::test]
async fn rename_column_and_table() {
    if !server_available().await {
        return;
    }
    #[derive(Model)]
    #[dataflow(table = "people", renamed_from = "users")]
    struct V2 {
        #[dataflow(primary_key, auto)]
        id: i64,
        #[dataflow(max_length = 200, renamed_from = "email")]
        mail: String,
        age: Option<i32>,
    }
    let db = TestDb::new("rename").await;
    db.migrate(&[model::<User>()]).await;
    db.exec(SEED).await;
    let report = db.migrate(&[model::<V2>()]).await;
    assert_eq!(
        ops(&report.plan),
        vec![Operation::RenameTable, Operation::RenameColumn],
        "{}",
        report.plan
    );
    assert_eq!(
        db.rows("SELECT mail FROM people ORDER BY id").await,
        vec!["a@x.io", "b@x.io", "c@x.io"]
    );
    db.rollback_to(&report.version.expect("version"), &[model::<User>()]).await;
    assert_eq!(
        db.rows("SELECT email FROM users ORDER BY id").await,
        vec!["a@x.io", "b@x.io", "c@x.io"]
    );
    db.drop_db().await;
}

#[tokio::test]
async fn type_changes_not_null_and_defaults() {
    if !server_available().await {
        return;
    }
    #[derive(Model)]
    #[dataflow(table = "users")]
    struct V2 {
        #[dataflow(primary_key, auto)]
        id: i64,
        #[dataflow(max_length = 250, default = "nobody")]
        email: String,
        #[dataflow(default = 18)]
        age: i64,
    }
    let probe = "SELECT CAST(id AS CHAR), email FROM users ORDER BY id";
    let one_way = Reversal::OneWay("the NULL age filled from the new default stays 18");
    let (db, report) =
        round_trip_with("types", &[model::<User>()], &[model::<V2>()], SEED, probe, one_way).await;
    let plan = &report.plan;
    let email_widening = plan
        .steps
        .iter()
        .find(|s| s.operation == Operation::AlterColumnType && s.details.contains("email"));
    assert!(
        email_widening.is_some_and(|s| s.up[0].ends_with("ALGORITHM=INPLACE, LOCK=NONE")),
        "varchar growth is online\n{plan}"
    );
    assert_eq!(
        db.rows("SELECT CAST(age AS CHAR) FROM users ORDER BY id").await,
        vec!["30", "18", "41"],
        "NULL filled from the default"
    );
    db.drop_db().await;
}

#[tokio::test]
async fn drop_columns_and_tables_keep_their_data_for_the_rollback() {
    if !server_available().await {
        return;
    }
    #[derive(Model)]
    #[dataflow(table = "users")]
    struct V2 {
        #[dataflow(primary_key, auto)]
        id: i64,
        #[dataflow(max_length = 200)]
        email: String,
    }
    let db = TestDb::new("drops").await;
    db.migrate(&[model::<User>(), model::<Org>()]).await;
    db.exec(SEED).await;
    db.exec("INSERT INTO orgs (name) VALUES ('acme'), ('initech')").await;
    // DB-vs-DB: the target is the whole database, so `orgs` is dropped too.
    let mysql = dataflow::Mysql::connect(&db.url).await.expect("connect");
    let report = dataflow::migrate_mysql_to(
        &mysql,
        super::support::models(&[model::<V2>()]),
        super::support::unattended(),
    )
    .await
    .expect("drops");
    assert!(
        report.plan.steps.iter().any(|s| s.operation == Operation::DropTable),
        "{}",
        report.plan
    );
    assert!(
        report.plan.steps.iter().any(|s| s.operation == Operation::DropColumn),
        "{}",
        report.plan
    );
    assert_eq!(report.plan.max_policy_level(), Some(RiskLevel::High));
    assert_eq!(db.count("SELECT count(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME LIKE '\\_dataflow\\_%'").await, 3, "history, trash and backup");
    db.rollback_to(&report.version.expect("version"), &[model::<User>(), model::<Org>()]).await;
    assert_eq!(
        db.rows(PROBE).await,
        vec!["1|a@x.io|30", "2|b@x.io|∅", "3|c@x.io|41"],
        "column values restored"
    );
    assert_eq!(
        db.rows("SELECT name FROM orgs ORDER BY id").await,
        vec!["acme", "initech"],
        "rows restored"
    );
    db.drop_db().await;
}

#[tokio::test]
async fn checks_uniques_indexes_foreign_keys_and_enum_values() {
    if !server_available().await {
        return;
    }
    #[derive(DbEnum)]
    #[dataflow(name = "mood")]
    enum MoreMood {
        Sad,
        Ok,
        Glad,
    }
    #[derive(Model)]
    #[dataflow(table = "users", index(columns("age"), name = "users_age_idx"), check = "age > 0")]
    struct V2 {
        #[dataflow(primary_key, auto)]
        id: i64,
        #[dataflow(max_length = 200, unique)]
        email: String,
        age: Option<i32>,
        #[dataflow(references = "orgs.id")]
        org_id: Option<i64>,
        mood: Option<MoreMood>,
    }
    #[derive(Model)]
    #[dataflow(table = "users")]
    struct V1 {
        #[dataflow(primary_key, auto)]
        id: i64,
        #[dataflow(max_length = 200)]
        email: String,
        age: Option<i32>,
        org_id: Option<i64>,
        mood: Option<Mood>,
    }
    let (db, report) = round_trip(
        "constraints",
        &[model::<V1>(), model::<Org>()],
        &[model::<V2>(), model::<Org>()],
        "INSERT INTO orgs (name) VALUES ('acme');\nINSERT INTO users (email, age, org_id, mood) VALUES ('a@x.io', 30, 1, 'ok'), ('b@x.io', NULL, NULL, NULL)",
        "SELECT email, CAST(age AS CHAR), CAST(org_id AS CHAR), CAST(mood AS CHAR) FROM users ORDER BY id",
    )
    .await;
    let plan = &report.plan;
    for op in [
        Operation::AddCheck,
        Operation::AddIndex,
        Operation::AddForeignKey,
        Operation::AlterColumnType,
    ] {
        assert!(ops(plan).contains(&op), "{op:?} in\n{plan}");
    }
    let enum_step =
        plan.steps.iter().find(|s| s.operation == Operation::AlterColumnType).expect("enum");
    assert_eq!(enum_step.shown_level, RiskLevel::Safe, "appending an enum value is online\n{plan}");
    db.drop_db().await;
}

// assertion path: every apply here is refused; the test asserts nothing changed
#[tokio::test]
async fn what_mysql_cannot_hold_is_a_clear_error_that_changes_nothing() {
    if !server_available().await {
        return;
    }
    #[derive(Model)]
    #[dataflow(table = "notes")]
    struct UnboundedKey {
        #[dataflow(primary_key, auto)]
        id: i64,
        #[dataflow(unique)]
        body: String,
    }
    #[derive(Model)]
    #[dataflow(table = "notes", schema = "app")]
    struct Qualified {
        #[dataflow(primary_key, auto)]
        id: i64,
    }
    // Built at run time: the derive refuses these names at compile time.
    let renamed = |name: &str| {
        let mut def = model::<Qualified>();
        def.table.name = dataflow::QualifiedName::new(name);
        def
    };
    let too_long = renamed("a_table_name_that_is_far_too_long_for_any_server_which_keep_64_chars");
    let reserved = renamed("_dataflow_mine");
    let db = TestDb::new("bad_input").await;
    for (defs, needle) in [
        (vec![model::<UnboundedKey>()], "notes.body: MySQL cannot index unbounded text"),
        (vec![model::<Qualified>()], "the namespace is the database in the URL"),
        (vec![too_long], "a_table_name_that_is_far_too_long"),
        (vec![reserved], "reserved for dataflow"),
    ] {
        let error = db
            .flow(&defs)
            .await
            .auto_migrate(super::support::unattended())
            .await
            .expect_err("refused");
        assert!(matches!(error, Error::Plan(_)), "{error:?}");
        assert!(format!("{error:?}").contains(needle), "{error:?}");
    }
    assert_eq!(
        db.count("SELECT count(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE()")
            .await,
        0,
        "nothing created, not even the history"
    );
    db.drop_db().await;
}

#[tokio::test]
async fn removing_constraints_defaults_not_null_and_changing_comments_and_keys() {
    if !server_available().await {
        return;
    }
    #[derive(Model)]
    #[dataflow(
        table = "users",
        index(columns("age"), name = "users_age_idx"),
        check = "age > 0",
        comment = "people"
    )]
    struct Strict {
        #[dataflow(primary_key, auto)]
        id: i64,
        #[dataflow(max_length = 200, unique, default = "none", comment = "where to write")]
        email: String,
        #[dataflow(default = 1)]
        age: i32,
        #[dataflow(references = "orgs.id")]
        org_id: Option<i64>,
    }
    #[derive(Model)]
    #[dataflow(table = "users", primary_key(columns("id", "email")))]
    struct Loose {
        id: i64,
        #[dataflow(max_length = 200)]
        email: String,
        age: Option<i32>,
        org_id: Option<i64>,
    }
    let (db, report) = round_trip(
        "loosen",
        &[model::<Strict>(), model::<Org>()],
        &[model::<Loose>(), model::<Org>()],
        "INSERT INTO orgs (name) VALUES ('acme');\nINSERT INTO users (email, age, org_id) VALUES ('a@x.io', 30, 1), ('b@x.io', 2, NULL)",
        "SELECT CAST(id AS CHAR), email, CAST(age AS CHAR), CAST(org_id AS CHAR) FROM users ORDER BY id",
    )
    .await;
    let plan = &report.plan;
    for op in [
        Operation::DropCheck,
        Operation::DropIndex,
        Operation::DropForeignKey,
        Operation::DropDefault,
        Operation::DropNotNull,
        Operation::SetComment,
        Operation::DropPrimaryKey,
        Operation::AddPrimaryKey,
        Operation::DropIdentity,
    ] {
        assert!(ops(plan).contains(&op), "{op:?} in\n{plan}");
    }
    db.drop_db().await;
}

/// MySQL gives a NOT NULL column added without a value the type's zero ('' or 0) on every
/// existing row, silently: the engine refuses that before anything runs.
#[tokio::test]
async fn a_not_null_column_without_a_value_is_refused_on_a_populated_table() {
    if !server_available().await {
        return;
    }
    #[derive(Model)]
    #[dataflow(table = "users")]
    struct V2 {
        #[dataflow(primary_key, auto)]
        id: i64,
        #[dataflow(max_length = 200)]
        email: String,
        age: Option<i32>,
        #[dataflow(max_length = 20)]
        phone: String,
    }
    let db = TestDb::new("not_null").await;
    db.migrate(&[model::<User>()]).await;
    db.exec(SEED).await;
    let error = db
        .flow(&[model::<V2>()])
        .await
        .auto_migrate(super::support::unattended())
        .await
        .expect_err("refused");
    let text = error.to_string();
    assert!(text.contains("users.phone") || text.contains("phone"), "{text}");
    assert_eq!(
        db.count("SELECT count(*) FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'users' AND COLUMN_NAME = 'phone'").await,
        0,
        "nothing changed"
    );
    eprintln!("{text}");
    db.drop_db().await;
}

/// Every plan the offline snapshots show for this database runs here as printed: its up
/// SQL converges and its down SQL gives the schema back (`tests/common/snapshot_cases.rs`).
#[tokio::test]
async fn every_snapshot_runs_up_and_down_on_the_server() {
    if !server_available().await {
        return;
    }
    let ran = crate::common::snapshot_cases::run_all::<TestDb>("mysql").await;
    eprintln!("{ran} snapshot cases ran up and down");
}
