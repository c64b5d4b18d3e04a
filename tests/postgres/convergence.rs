//! Every change kind applied to a populated table: the plan applies, converges (a second
//! plan is empty), and — where the plan is reversible — its rollback restores the schema
//! and the rows.

use super::support::{models, server_available, TestDb};
use crate::common::applied::Reversal;
use dataflow::{model, DbEnum, Model, Schema};

/// v1 → seed rows → v2 (converges) → rollback (back to v1, rows as before).
async fn evolve(label: &str, v1: Schema, v2: Schema, seed: &str, rows_query: &str) -> TestDb {
    let db = TestDb::new(label).await;
    db.migrate(&v1).await;
    db.exec(seed).await;
    let before = db.rows(rows_query).await;
    assert!(!before.is_empty(), "the seed inserted no rows");
    let plan = db.migrate(&v2).await;
    assert!(!plan.is_empty(), "v1 → v2 planned nothing");
    db.rollback_to(&plan, &v1).await;
    assert_eq!(db.rows(rows_query).await, before, "rollback changed the rows");
    db
}

mod columns {
    use super::*;

    #[derive(Model)]
    #[dataflow(table = "people")]
    pub struct V1 {
        #[dataflow(primary_key, auto)]
        pub id: i64,
        pub email: String,
        pub age: Option<i32>,
        pub nickname: Option<String>,
        #[dataflow(default = "x")]
        pub theme: String,
        #[dataflow(max_length = 20)]
        pub city: String,
        pub visits: i32,
        pub zip: String,
        #[dataflow(sql_type = "timestamp")]
        pub seen: Option<String>,
        pub legacy: Option<String>,
    }

    #[derive(Model)]
    #[dataflow(table = "people", comment = "people we know")]
    pub struct V2 {
        #[dataflow(primary_key, auto)]
        pub id: i64,
        pub email: String,
        #[dataflow(default = 0)]
        pub age: Option<i32>,
        #[dataflow(renamed_from = "nickname")]
        pub handle: Option<String>,
        pub theme: String,
        #[dataflow(max_length = 80, comment = "where they live")]
        pub city: String,
        pub visits: i64,
        pub zip: String,
        #[dataflow(sql_type = "timestamptz")]
        pub seen: Option<String>,
        pub phone: Option<String>,
        #[dataflow(default = true)]
        pub active: bool,
        #[dataflow(backfill = "lower(email)")]
        pub email_lower: String,
        #[dataflow(backfill_case(when("visits > 10", "'regular'"), else = "'new'"))]
        pub band: String,
        #[dataflow(backfill_sequence(start = 1000, step = 10))]
        pub ticket: i64,
    }

    #[tokio::test]
    async fn add_drop_rename_retype_default_and_nullability_on_a_populated_table() {
        if !server_available().await {
            return;
        }
        let db = evolve(
            "columns",
            models(&[model::<V1>()]),
            models(&[model::<V2>()]),
            "INSERT INTO people (email, age, nickname, city, visits, zip, seen) VALUES \
             ('A@x.io', 30, 'a', 'Oslo', 12, '0150', '2024-01-01 10:00'), \
             ('B@x.io', NULL, NULL, 'Rome', 3, '00100', NULL), \
             ('C@x.io', 7, 'c', 'Lima', 40, '15001', '2024-06-30 23:59')",
            "SELECT id, email, age, nickname, theme, city, visits, zip, seen FROM people",
        )
        .await;
        // Forward again, then look at the values the plan produced.
        db.migrate(&models(&[model::<V2>()])).await;
        let rows =
            db.rows("SELECT email_lower, band, ticket, age, handle, active FROM people").await;
        assert_eq!(
            rows,
            [
                "(a@x.io,regular,1000,30,a,t)",
                "(b@x.io,new,1010,,,t)",
                "(c@x.io,regular,1020,7,c,t)"
            ]
        );
        db.drop_db().await;
    }

    #[derive(Model)]
    #[dataflow(table = "people")]
    pub struct Lossy {
        #[dataflow(primary_key, auto)]
        pub id: i64,
        pub email: String,
        #[dataflow(default = 0)]
        pub age: i32,
        pub nickname: Option<String>,
        #[dataflow(default = "x")]
        pub theme: String,
        #[dataflow(max_length = 20)]
        pub city: String,
        pub visits: i32,
        #[dataflow(sql_type = "integer")]
        pub zip: i32,
        #[dataflow(sql_type = "timestamp")]
        pub seen: Option<String>,
        pub legacy: Option<String>,
    }

    /// Filling NULLs and casting text to integers change values: the plan says so (the
    /// cast is HIGH), the rollback restores the schema, and the values stay as converted.
    #[tokio::test]
    async fn filling_nulls_and_casting_values_are_one_way() {
        if !server_available().await {
            return;
        }
        let db = TestDb::new("lossy").await;
        let v1 = models(&[model::<V1>()]);
        db.migrate(&v1).await;
        db.exec(
            "INSERT INTO people (email, age, city, visits, zip) VALUES ('a', NULL, 'b', 1, '0150')",
        )
        .await;
        let one_way =
            Reversal::OneWay("filled NULLs and cast values ('0150' → 150) stay as written");
        let plan = db.migrate_with(&models(&[model::<Lossy>()]), one_way).await;
        let cast = plan.steps.iter().find(|s| s.details.starts_with("zip:")).expect("a zip step");
        assert_eq!(cast.risk.level, dataflow::RiskLevel::High);
        assert_eq!(db.rows("SELECT age, zip FROM people").await, ["(0,150)"]);
        db.rollback_to(&plan, &v1).await;
        assert_eq!(db.rows("SELECT age, zip FROM people").await, ["(0,150)"]);
        db.drop_db().await;
    }

    #[derive(Model)]
    #[dataflow(table = "people")]
    pub struct WithoutLegacy {
        #[dataflow(primary_key, auto)]
        pub id: i64,
        pub email: String,
        pub age: Option<i32>,
        pub nickname: Option<String>,
        #[dataflow(default = "x")]
        pub theme: String,
        #[dataflow(max_length = 20)]
        pub city: String,
        pub visits: i32,
        pub zip: String,
        #[dataflow(sql_type = "timestamp")]
        pub seen: Option<String>,
    }

    #[tokio::test]
    async fn drop_column_is_high_and_its_rollback_restores_the_column() {
        if !server_available().await {
            return;
        }
        let db = evolve(
            "dropcol",
            models(&[model::<V1>()]),
            models(&[model::<WithoutLegacy>()]),
            "INSERT INTO people (email, city, visits, zip, legacy) VALUES ('a', 'b', 1, '1', NULL)",
            "SELECT id, email FROM people",
        )
        .await;
        db.drop_db().await;
    }
}

mod constraints {
    use super::*;

    #[derive(Model)]
    #[dataflow(table = "orgs")]
    pub struct Org {
        #[dataflow(primary_key, auto)]
        pub id: i64,
        #[dataflow(unique)]
        pub name: String,
    }

    #[derive(Model)]
    #[dataflow(table = "items", index(columns("sku")), check = "qty >= 0")]
    pub struct ItemV1 {
        #[dataflow(primary_key, auto)]
        pub id: i64,
        #[dataflow(unique)]
        pub sku: String,
        pub qty: i32,
        #[dataflow(references = "orgs.id")]
        pub org_id: i64,
        #[dataflow(sql_type = "jsonb")]
        pub specs: String,
        pub price: i64,
        pub shelf: Option<String>,
    }

    #[derive(Model)]
    #[dataflow(
        table = "items",
        index(columns("specs"), method = "gin"),
        index(columns("price"), predicate = "price > 100", name = "items_pricey_idx"),
        unique(columns("org_id", "sku")),
        check = "qty >= 0 AND qty < 1000000"
    )]
    pub struct ItemV2 {
        #[dataflow(primary_key, auto)]
        pub id: i64,
        pub sku: String,
        pub qty: i32,
        #[dataflow(references = "orgs.id", on_delete = "cascade")]
        pub org_id: i64,
        #[dataflow(sql_type = "jsonb")]
        pub specs: String,
        #[dataflow(check = "price > 0")]
        pub price: i64,
        #[dataflow(references = "orgs.name", on_update = "cascade")]
        pub shelf: Option<String>,
    }

    #[tokio::test]
    async fn indexes_uniques_checks_and_foreign_keys_added_changed_and_dropped() {
        if !server_available().await {
            return;
        }
        let db = evolve(
            "constraints",
            models(&[model::<ItemV1>(), model::<Org>()]),
            models(&[model::<ItemV2>(), model::<Org>()]),
            "INSERT INTO orgs (name) VALUES ('acme'), ('zen'); \
             INSERT INTO items (sku, qty, org_id, specs, price, shelf) VALUES \
             ('a1', 5, 1, '{\"w\": 1}', 120, 'acme'), ('b2', 0, 2, '{}', 80, NULL)",
            "SELECT * FROM items",
        )
        .await;
        db.drop_db().await;
    }

    #[derive(Model)]
    #[dataflow(table = "pairs")]
    pub struct PairV1 {
        #[dataflow(primary_key)]
        pub left_id: i64,
        pub right_id: i64,
        #[dataflow(auto)]
        pub seq: i64,
    }

    #[derive(Model)]
    #[dataflow(table = "pairs", primary_key(columns("left_id", "right_id")))]
    pub struct PairV2 {
        pub left_id: i64,
        pub right_id: i64,
        pub seq: i64,
        #[dataflow(auto)]
        pub number: i64,
    }

    #[tokio::test]
    async fn primary_key_and_identity_changes() {
        if !server_available().await {
            return;
        }
        let db = TestDb::new("pk").await;
        let (v1, v2) = (models(&[model::<PairV1>()]), models(&[model::<PairV2>()]));
        db.migrate(&v1).await;
        db.exec("INSERT INTO pairs (left_id, right_id) VALUES (1, 2), (2, 3)").await;
        let before = db.rows("SELECT left_id, right_id, seq FROM pairs").await;
        // `number` is NOT NULL and new: refused against a populated table? No — an
        // identity fills existing rows itself.
        let plan = db.migrate(&v2).await;
        db.exec("INSERT INTO pairs (left_id, right_id, seq) VALUES (5, 6, 9)").await;
        assert_eq!(db.rows("SELECT number FROM pairs").await, ["(1)", "(2)", "(3)"]);
        db.exec("DELETE FROM pairs WHERE left_id = 5").await;
        db.rollback_to(&plan, &v1).await;
        assert_eq!(db.rows("SELECT left_id, right_id, seq FROM pairs").await, before);
        db.exec("INSERT INTO pairs (left_id, right_id) VALUES (7, 8)").await;
        db.drop_db().await;
    }
}

mod tables_and_types {
    use super::*;

    #[derive(DbEnum)]
    #[dataflow(name = "state")]
    pub enum StateV1 {
        Open,
        Closed,
        Archived,
    }

    #[derive(DbEnum)]
    #[dataflow(name = "state")]
    pub enum StateV2 {
        Open,
        Closed,
    }

    #[derive(Model)]
    #[dataflow(table = "tickets")]
    pub struct TicketV1 {
        #[dataflow(primary_key, auto)]
        pub id: i64,
        pub title: String,
        #[dataflow(default = "open")]
        pub state: StateV1,
    }

    #[derive(Model)]
    #[dataflow(table = "issues", renamed_from = "tickets", schema = "tracker")]
    pub struct IssueV2 {
        #[dataflow(primary_key, auto)]
        pub id: i64,
        pub title: String,
        #[dataflow(default = "open")]
        pub state: StateV2,
    }

    #[derive(Model)]
    #[dataflow(table = "issues", renamed_from = "tickets")]
    pub struct IssueV2Public {
        #[dataflow(primary_key, auto)]
        pub id: i64,
        pub title: String,
        #[dataflow(default = "open")]
        pub state: StateV2,
    }

    #[tokio::test]
    async fn rename_table_and_remove_an_enum_value() {
        if !server_available().await {
            return;
        }
        let db = evolve(
            "rename",
            models(&[model::<TicketV1>()]),
            models(&[model::<IssueV2Public>()]),
            "INSERT INTO tickets (title, state) VALUES ('a', 'open'), ('b', 'closed')",
            "SELECT id, title, state::text FROM tickets",
        )
        .await;
        db.drop_db().await;
    }

    #[tokio::test]
    async fn a_new_schema_is_created_for_models_that_name_it() {
        if !server_available().await {
            return;
        }
        let db = TestDb::new("namespace").await;
        let desired = models(&[model::<IssueV2>()]);
        db.migrate(&desired).await;
        db.exec("INSERT INTO tracker.issues (title) VALUES ('x')").await;
        assert_eq!(db.scalar::<String>("SELECT state::text FROM tracker.issues").await, "open");
        db.drop_db().await;
    }

    #[derive(Model)]
    #[dataflow(table = "tickets")]
    pub struct TicketV3 {
        #[dataflow(primary_key, auto)]
        pub id: i64,
        pub title: String,
        #[dataflow(default = "open")]
        pub state: StateV1,
        pub extra: Option<StateV1>,
    }

    #[derive(DbEnum)]
    #[dataflow(name = "state")]
    pub enum StateV4 {
        Open,
        Closed,
        Archived,
        Deleted,
    }

    #[derive(Model)]
    #[dataflow(table = "tickets")]
    pub struct TicketV4 {
        #[dataflow(primary_key, auto)]
        pub id: i64,
        pub title: String,
        #[dataflow(default = "open")]
        pub state: StateV4,
        pub extra: Option<StateV4>,
    }

    /// PostgreSQL has no `DROP VALUE`: the rollback re-creates the type without the
    /// appended value. While a row holds it the rollback fails and changes nothing.
    #[tokio::test]
    async fn an_appended_enum_value_rolls_back_once_no_row_holds_it() {
        if !server_available().await {
            return;
        }
        let db = TestDb::new("enumadd").await;
        db.migrate(&models(&[model::<TicketV3>()])).await;
        db.exec("INSERT INTO tickets (title) VALUES ('a'), ('b')").await;
        let plan = db.migrate(&models(&[model::<TicketV4>()])).await;
        db.exec("UPDATE tickets SET extra = 'deleted' WHERE title = 'a'").await;
        let error = db
            .db
            .rollback(&plan, &Default::default())
            .await
            .expect_err("a row holds the added value");
        assert!(format!("{error:?}").contains("deleted"), "{error:?}");
        db.assert_converged(&models(&[model::<TicketV4>()])).await;
        db.exec("UPDATE tickets SET extra = 'closed' WHERE title = 'a'").await;
        db.rollback_to(&plan, &models(&[model::<TicketV3>()])).await;
        assert_eq!(
            db.rows("SELECT title, state::text, extra::text FROM tickets").await,
            ["(a,open,closed)", "(b,open,)"]
        );
        db.drop_db().await;
    }
}

/// Every plan the offline snapshots show for this database runs here as printed: its up
/// SQL converges and its down SQL gives the schema back (`tests/common/snapshot_cases.rs`).
#[tokio::test]
async fn every_snapshot_runs_up_and_down_on_the_server() {
    if !server_available().await {
        return;
    }
    let ran = crate::common::snapshot_cases::run_all::<TestDb>("postgresql").await;
    eprintln!("{ran} snapshot cases ran up and down");
}
