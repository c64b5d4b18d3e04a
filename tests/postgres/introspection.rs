//! Model → create → introspect → empty re-plan, for every supported type, default form
//! and constraint kind; ownership; introspection errors.

use super::support::{admin, models, server_available, url_for, TestDb};
use crate::common::applied::Reversal;
use dataflow::{model, DbEnum, Model};
use dataflow_core::{Error, Postgres};

#[derive(DbEnum)]
#[dataflow(name = "mood")]
enum Mood {
    Sad,
    Fine,
    Happy,
}

#[derive(Model)]
#[dataflow(table = "owners")]
struct Owner {
    #[dataflow(primary_key, auto)]
    id: i64,
    #[dataflow(unique)]
    name: String,
}

/// Every `SqlType`, every default form, every constraint and index kind.
#[derive(Model)]
#[dataflow(
    table = "everything",
    comment = "one of each",
    index(columns("big", "text")),
    index(columns("payload"), method = "gin"),
    index(columns("price"), predicate = "price > 0 AND NOT flag", name = "everything_paid_idx"),
    index(columns("text"), unique, name = "everything_text_uidx"),
    unique(columns("small", "int")),
    check = "price >= 0 OR flag",
    check = "status IN ('new', 'done') AND int BETWEEN -100 AND 100"
)]
struct Everything {
    #[dataflow(primary_key, auto)]
    id: i64,
    small: i16,
    int: i32,
    big: i64,
    real: f32,
    double: f64,
    flag: bool,
    text: String,
    bytes: Vec<u8>,
    maybe: Option<String>,
    maybe_int: Option<i64>,
    #[dataflow(max_length = 40)]
    short: String,
    #[dataflow(sql_type = "numeric(10,2)")]
    price: String,
    #[dataflow(sql_type = "numeric")]
    ratio: Option<String>,
    #[dataflow(sql_type = "uuid", default_sql = "gen_random_uuid()")]
    uid: String,
    #[dataflow(sql_type = "date", default = "2020-01-01")]
    day: String,
    #[dataflow(sql_type = "time")]
    at: Option<String>,
    #[dataflow(sql_type = "timestamp", default_sql = "CURRENT_TIMESTAMP")]
    local: String,
    #[dataflow(sql_type = "timestamptz", default_sql = "now()")]
    created: String,
    #[dataflow(sql_type = "json")]
    raw: Option<String>,
    #[dataflow(sql_type = "jsonb", default = "{}")]
    payload: String,
    #[dataflow(sql_type = "text[]", default_sql = "'{}'::text[]")]
    tags: String,
    #[dataflow(sql_type = "char(3)", default = "abc")]
    code: String,
    #[dataflow(sql_type = "character varying")]
    unbounded: Option<String>,
    #[dataflow(sql_type = "interval")]
    wait: Option<String>,
    mood: Mood,
    moods: Option<Mood>,
    #[dataflow(default = true)]
    active: bool,
    #[dataflow(default = -5)]
    score: i32,
    #[dataflow(default = 1.5)]
    weight: f64,
    #[dataflow(default = "it's \"quoted\" \\ here")]
    note: String,
    #[dataflow(default = "new", check = "status <> ''")]
    status: String,
    #[dataflow(default_sql = "lower('ABC')")]
    lowered: String,
    #[dataflow(references = "owners.id", on_delete = "set null", on_update = "cascade", index)]
    owner_id: Option<i64>,
    #[dataflow(references = "owners.name", on_delete = "cascade", comment = "owner by name")]
    owner_name: String,
}

#[tokio::test]
async fn every_type_default_and_constraint_converges_after_create() {
    if !server_available().await {
        return;
    }
    let db = TestDb::new("types").await;
    let desired = models(&[model::<Everything>(), model::<Owner>()]);
    let plan = db.migrate(&desired).await;
    assert!(plan.steps.len() >= 4, "{plan}");
    let found = db.introspect().await.schema;
    let table = found.tables.iter().find(|t| t.name.name == "everything").expect("table created");
    assert_eq!(table.columns.len(), 35);
    assert_eq!(table.indexes.len(), 5, "{:?}", table.indexes);
    assert_eq!(found.enums.len(), 1);
    db.drop_db().await;
}

#[derive(Model)]
#[dataflow(table = "user", index(columns("select", "Mixed Case")))]
struct ReservedUser {
    #[dataflow(primary_key, auto)]
    id: i64,
    #[dataflow(column = "select", unique)]
    select: String,
    #[dataflow(column = "Mixed Case", default = "x'y")]
    mixed: String,
    #[dataflow(column = "we\"ird", check = "\"we\"\"ird\" > 0")]
    weird: Option<i32>,
    #[dataflow(column = "naïve_表")]
    unicode: Option<String>,
}

#[derive(Model)]
#[dataflow(table = "order", schema = "from")]
struct ReservedOrder {
    #[dataflow(primary_key, auto)]
    id: i64,
    #[dataflow(references = "public.user.id")]
    user: i64,
}

#[tokio::test]
async fn reserved_words_and_quoted_identifiers_converge() {
    if !server_available().await {
        return;
    }
    let db = TestDb::new("reserved").await;
    let desired = models(&[model::<ReservedUser>(), model::<ReservedOrder>()]);
    db.migrate(&desired).await;
    db.exec(r#"INSERT INTO "user" ("select", "Mixed Case") VALUES ('a', 'b'); INSERT INTO "from"."order" ("user") VALUES (1)"#).await;
    assert_eq!(db.scalar::<String>(r#"SELECT "Mixed Case" FROM "user" WHERE "select" = 'x'"#.replace("'x'", "'a'").as_str()).await, "b");
    db.drop_db().await;
}

#[tokio::test]
async fn a_table_no_model_names_is_reported_and_never_dropped() {
    if !server_available().await {
        return;
    }
    let db = TestDb::new("owner").await;
    db.exec("CREATE TABLE legacy (id int PRIMARY KEY, note text); INSERT INTO legacy VALUES (1, 'keep me')").await;
    let desired = models(&[model::<Owner>()]);
    let plan = db.migrate(&desired).await;
    assert!(plan.steps.iter().all(|s| s.table != "legacy"), "{plan}");
    assert!(
        plan.warnings.iter().any(|w| w.contains("legacy") && w.contains("left alone")),
        "{:?}",
        plan.warnings
    );
    assert_eq!(db.scalar::<String>("SELECT note FROM legacy").await, "keep me");
    db.drop_db().await;
}

#[tokio::test]
async fn introspection_failures_are_errors_not_empty_schemas() {
    if !server_available().await {
        return;
    }
    let db = TestDb::new("errors").await;
    let error = db
        .db
        .introspect(&["no_such_schema".to_owned()])
        .await
        .expect_err("a missing schema is an error");
    assert!(matches!(error, Error::NoSuchNamespace { .. }), "{error}");
    assert!(error.to_string().contains("no_such_schema"), "{error}");

    // A role that may not connect to the database.
    let role = format!("df_noperm_{}", std::process::id());
    admin(&[
        &format!("DROP ROLE IF EXISTS {role}"),
        &format!("CREATE ROLE {role} LOGIN"),
        &format!("REVOKE CONNECT ON DATABASE \"{}\" FROM PUBLIC", db.name),
    ])
    .await;
    let url = url_for(&db.name).replacen("postgres@", &format!("{role}@"), 1);
    let error = Postgres::connect(&url).await.expect_err("the role may not connect");
    let message = format!("{error:?}");
    assert!(message.contains("permission denied") && message.contains("may log in"), "{message}");
    let unsupported =
        Postgres::connect("mysql://root@localhost/test").await.expect_err("not postgres");
    assert!(unsupported.to_string().contains("unsupported database URL"), "{unsupported}");
    db.drop_db().await;
    admin(&[&format!("DROP ROLE IF EXISTS {role}")]).await;
}

#[derive(Model)]
#[dataflow(table = "accounts", index(columns("email"), unique, name = "accounts_email_uidx"))]
struct Account {
    #[dataflow(primary_key, auto)]
    id: i64,
    email: String,
    #[dataflow(references = "owners.id")]
    owner_id: Option<i64>,
    #[dataflow(check = "balance >= 0")]
    balance: i64,
}

/// What a failed or half-finished online change leaves behind is seen and repaired: an
/// INVALID index is rebuilt, NOT VALID constraints are validated, and the engine's own
/// `_dataflow_*` tables are never part of a diff.
#[tokio::test]
async fn invalid_indexes_not_valid_constraints_and_engine_tables() {
    if !server_available().await {
        return;
    }
    let db = TestDb::new("leftovers").await;
    db.exec(
        "CREATE TABLE owners (id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, name text NOT NULL UNIQUE); \
         CREATE TABLE accounts (id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, email text NOT NULL, \
                                owner_id bigint, balance bigint NOT NULL); \
         INSERT INTO accounts (email, balance) VALUES ('a', 1), ('a', 2); \
         ALTER TABLE accounts ADD CONSTRAINT accounts_owner_id_fkey FOREIGN KEY (owner_id) REFERENCES owners (id) NOT VALID; \
         ALTER TABLE accounts ADD CONSTRAINT accounts_balance_check CHECK (balance >= 0) NOT VALID; \
         CREATE TABLE _dataflow_migrations (version text PRIMARY KEY);",
    )
    .await;
    // A unique index built concurrently over duplicates fails and stays INVALID.
    let failed =
        sqlx::query("CREATE UNIQUE INDEX CONCURRENTLY accounts_email_uidx ON accounts (email)")
            .execute(db.db.pool())
            .await;
    assert!(failed.is_err(), "the duplicate makes the build fail");
    let found = db.introspect().await.schema;
    assert!(found.tables.iter().all(|t| !t.name.name.starts_with("_dataflow_")));
    let accounts = found.tables.iter().find(|t| t.name.name == "accounts").expect("accounts");
    assert!(accounts.indexes.iter().any(|i| i.name == "accounts_email_uidx" && i.invalid));
    assert!(accounts.foreign_keys[0].not_valid && accounts.checks[0].not_valid);

    db.exec("DELETE FROM accounts WHERE balance = 2").await;
    let desired = models(&[model::<Account>(), model::<Owner>()]);
    let one_way =
        Reversal::OneWay("the state before holds an INVALID index; its undo builds a valid one");
    let plan = db.migrate_with(&desired, one_way).await;
    let operations: Vec<&str> = plan.steps.iter().map(|s| s.operation.label()).collect();
    assert_eq!(
        operations,
        ["DROP INDEX", "ADD INDEX", "VALIDATE CONSTRAINT", "VALIDATE CONSTRAINT"],
        "{plan}"
    );
    assert!(plan.steps.iter().all(|s| !s.table.starts_with("_dataflow_")));
    db.drop_db().await;
}
