//! What differs between PostgreSQL 13 and 18, tested on whichever server runs the suite
//! (`.ci/run` runs it on every supported major version). Each test asserts the behaviour
//! the running version must show, so none is skipped on any version.

use super::support::{models, server_available, TestDb};
use crate::common::applied::Reversal;
use dataflow::{model, Model, Operation};

/// The server's `server_version_num`.
async fn version(db: &TestDb) -> u32 {
    db.scalar::<String>("SHOW server_version_num").await.parse().expect("a number")
}

#[derive(Model)]
#[dataflow(table = "accounts")]
struct Account {
    #[dataflow(primary_key, auto)]
    id: i64,
    #[dataflow(unique)]
    email: Option<String>,
}

/// `NULLS NOT DISTINCT` needs PostgreSQL 15: older servers refuse the plan with both
/// releases named, changing nothing; newer ones apply it, converge and roll back.
#[tokio::test]
async fn a_feature_the_server_lacks_is_refused_with_both_versions_named() {
    if !server_available().await {
        return;
    }
    let db = TestDb::new("versions_nnd").await;
    let version = version(&db).await;
    let mut desired = models(&[model::<Account>()]);
    desired.tables[0].uniques[0].nulls_not_distinct = true;
    if version < 150_000 {
        let error = db
            .db
            .plan_models(&desired, &Default::default())
            .await
            .expect_err("NULLS NOT DISTINCT cannot be planned before 15");
        let shown = dataflow::schema::introspect::postgres::version_name(version);
        assert_eq!(
            error.to_string(),
            format!(
                "unique constraint accounts_email_key on accounts: NULLS NOT DISTINCT needs \
                 PostgreSQL 15 or later; this server is {shown}"
            )
        );
        let tables: i64 =
            db.scalar("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").await;
        assert_eq!(tables, 0, "nothing was created");
    } else {
        db.migrate(&desired).await;
        let nulls_not_distinct: bool = db
            .scalar("SELECT indnullsnotdistinct FROM pg_index WHERE indexrelid = 'accounts_email_key'::regclass")
            .await;
        assert!(nulls_not_distinct);
        db.exec("INSERT INTO accounts (email) VALUES (NULL)").await;
        let second =
            sqlx::query("INSERT INTO accounts (email) VALUES (NULL)").execute(db.db.pool()).await;
        assert!(second.is_err(), "a second NULL is a duplicate");
    }
    db.drop_db().await;
}

#[derive(Model)]
#[dataflow(table = "people")]
struct PersonV1 {
    #[dataflow(primary_key, auto)]
    id: i64,
    name: String,
    nick: Option<String>,
}

#[derive(Model)]
#[dataflow(table = "people")]
struct PersonV2 {
    #[dataflow(primary_key, auto)]
    id: i64,
    name: String,
    #[dataflow(default = "none")]
    nick: String,
    code: String,
}

#[derive(Model)]
#[dataflow(table = "members", renamed_from = "people")]
struct MemberV3 {
    #[dataflow(primary_key, auto)]
    id: i64,
    #[dataflow(renamed_from = "name")]
    full_name: String,
    #[dataflow(default = "none")]
    nick: String,
    code: String,
}

/// The NOT NULL constraints of a table, `name(column)`, sorted (PostgreSQL 18 only:
/// older servers keep none).
async fn not_null_constraints(db: &TestDb, table: &str) -> Vec<String> {
    let sql = format!(
        "SELECT conname || '(' || a.attname || ')' FROM pg_constraint c \
         JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1] \
         WHERE c.contype = 'n' AND c.conrelid = '{table}'::regclass ORDER BY 1"
    );
    sqlx::query_scalar(&sql).fetch_all(db.db.pool()).await.expect("the constraints are read")
}

/// A model-created table, a NOT NULL made by the online recipe (20,000 rows: filled,
/// proven by a check, then set), one made by hand and one named by hand all converge; on
/// PostgreSQL 18 each constraint ends under the server's own name, a hand-given name is
/// renamed to it (and back by the rollback), and renames of the table and a column take
/// their constraints' names along. Older servers keep no such constraints.
#[tokio::test]
async fn not_null_constraints_converge_whatever_made_them() {
    if !server_available().await {
        return;
    }
    let db = TestDb::new("versions_nn").await;
    let named = version(&db).await >= 180_000;
    db.migrate(&models(&[model::<PersonV1>()])).await;
    db.exec(
        "INSERT INTO people (name, nick) SELECT 'p' || g, CASE WHEN g % 3 = 0 THEN 'n' END \
         FROM generate_series(1, 20000) g; \
         ALTER TABLE people ADD COLUMN code text; UPDATE people SET code = 'c' || id; \
         ALTER TABLE people ALTER COLUMN code SET NOT NULL; ANALYZE people",
    )
    .await;
    let one_way = Reversal::OneWay("the NULLs the fill gave a value keep it");
    let v2 = models(&[model::<PersonV2>()]);
    let plan = db.migrate_with(&v2, one_way).await;
    let set_not_null = plan.steps.iter().find(|s| s.operation == Operation::SetNotNull);
    assert!(set_not_null.is_some_and(|s| !s.transactional), "the online recipe ran:\n{plan}");
    assert!(plan.steps.iter().all(|s| s.operation != Operation::RenameConstraint), "{plan}");
    let expected: Vec<String> = if named {
        [
            "people_code_not_null(code)",
            "people_id_not_null(id)",
            "people_name_not_null(name)",
            "people_nick_not_null(nick)",
        ]
        .map(String::from)
        .to_vec()
    } else {
        Vec::new()
    };
    assert_eq!(not_null_constraints(&db, "people").await, expected);

    // A NOT NULL given a name by hand (PostgreSQL 18 syntax; older servers have no name
    // to give, and the same column made NOT NULL by hand plans nothing).
    if named {
        db.exec(
            "ALTER TABLE people ALTER COLUMN code DROP NOT NULL; \
             ALTER TABLE people ADD CONSTRAINT code_required NOT NULL code",
        )
        .await;
        let plan = db.migrate(&v2).await;
        let renames: Vec<&str> = plan
            .steps
            .iter()
            .filter(|s| s.operation == Operation::RenameConstraint)
            .map(|s| s.details.as_str())
            .collect();
        assert_eq!(renames, ["code_required → people_code_not_null"], "{plan}");
    } else {
        assert!(db.plan(&v2).await.is_empty());
    }

    // A rename of the table and a column: the constraints follow, in the same plan.
    let v3 = models(&[model::<MemberV3>()]);
    db.migrate(&v3).await;
    let expected: Vec<String> = if named {
        [
            "members_code_not_null(code)",
            "members_full_name_not_null(full_name)",
            "members_id_not_null(id)",
            "members_nick_not_null(nick)",
        ]
        .map(String::from)
        .to_vec()
    } else {
        Vec::new()
    };
    assert_eq!(not_null_constraints(&db, "members").await, expected);
    db.drop_db().await;
}

/// What PostgreSQL 18 added that dataflow does not manage (virtual generated columns,
/// NOT ENFORCED and temporal constraints, NOT NULL NOT VALID) is named in the warning
/// of unmanaged objects; on older servers the same table without them warns of nothing.
#[tokio::test]
async fn what_a_version_adds_and_dataflow_does_not_manage_is_reported() {
    if !server_available().await {
        return;
    }
    let db = TestDb::new("versions_unmanaged").await;
    if version(&db).await >= 180_000 {
        db.exec(
            "CREATE EXTENSION IF NOT EXISTS btree_gist; \
             CREATE TABLE odd (id int PRIMARY KEY, doubled int GENERATED ALWAYS AS (id * 2) VIRTUAL, \
               during tstzrange NOT NULL, note text, \
               CONSTRAINT odd_id_check CHECK (id > 0) NOT ENFORCED, \
               CONSTRAINT odd_during_key UNIQUE (id, during WITHOUT OVERLAPS)); \
             ALTER TABLE odd ADD CONSTRAINT odd_note_nn NOT NULL note NOT VALID",
        )
        .await;
        let unmanaged = db.introspect().await.unmanaged;
        for expected in [
            "virtual generated column odd.doubled",
            "NOT ENFORCED constraint odd_id_check on odd",
            "temporal constraint odd_during_key on odd",
            "NOT NULL NOT VALID on odd.note",
        ] {
            assert!(unmanaged.iter().any(|u| u.starts_with(expected)), "{expected}: {unmanaged:?}");
        }
    } else {
        db.exec("CREATE TABLE odd (id int PRIMARY KEY, doubled int GENERATED ALWAYS AS (id * 2) STORED, note text)")
            .await;
        assert_eq!(db.introspect().await.unmanaged, Vec::<String>::new());
    }
    db.drop_db().await;
}

/// A table never vacuumed or analyzed is of unknown size, never "tiny": PostgreSQL 13
/// reports 0 rows for it (14 and later report -1), which must not make 50,000 rows look
/// like an empty table and get the blocking direct forms.
#[tokio::test]
async fn a_table_never_analyzed_is_never_taken_for_an_empty_one() {
    if !server_available().await {
        return;
    }
    let db = TestDb::new("versions_stats").await;
    db.exec(
        "CREATE TABLE fresh (id bigint PRIMARY KEY, v int); \
         ALTER TABLE fresh SET (autovacuum_enabled = false); \
         INSERT INTO fresh SELECT g, g FROM generate_series(1, 50000) g",
    )
    .await;
    let found = db.introspect().await.schema;
    let stats = found.tables[0].stats.expect("statistics are read");
    assert_eq!(stats.rows, None, "unknown, not {:?}", stats.rows);
    db.drop_db().await;
}
