//! Suite 6 of the reliability issue on PostgreSQL: a role that can read but not alter
//! (no CREATE on the schema, not the tables' owner) and a role that may create but does
//! not own the tables. Each gets `Error::InsufficientPrivilege` naming the role and the
//! server's message (the privilege and the object), and nothing changes: the same
//! tables, columns, indexes and applied runs as before (the creator's failed attempt is
//! recorded as such). The read-only role can still see what
//! is pending.

use super::support::{admin, server_available, TestDb};
use dataflow::{DataFlow, Error, MigrateOptions, Mode, Model};

#[derive(Model)]
#[dataflow(table = "accounts")]
struct V1 {
    #[dataflow(primary_key, auto)]
    id: i64,
    email: String,
}

#[derive(Model)]
#[dataflow(table = "accounts", index(columns("email")))]
struct V2 {
    #[dataflow(primary_key, auto)]
    id: i64,
    email: String,
    nickname: Option<String>,
}

fn unattended() -> MigrateOptions {
    MigrateOptions::default().with_mode(Mode::AutoConfirm)
}

/// The schema and the applied runs.
async fn shape(db: &TestDb) -> Vec<String> {
    db.rows(
        "SELECT table_name || '.' || column_name FROM information_schema.columns WHERE table_schema = 'public' \
         UNION ALL SELECT indexname FROM pg_indexes WHERE schemaname = 'public' \
         UNION ALL SELECT version FROM _dataflow_migrations WHERE status = 'applied'",
    )
    .await
}

// assertion path: every apply here is refused for want of a privilege (asserted: nothing changed)
#[tokio::test]
async fn roles_without_the_privileges_get_a_clear_error_and_change_nothing() {
    if !server_available().await {
        return;
    }
    let db = TestDb::new("privileges").await;
    let owner = DataFlow::connect(&db.url).await.expect("connect").model::<V1>();
    owner.auto_migrate(unattended()).await.expect("v1 as the owner");
    let before = shape(&db).await;
    let pid = std::process::id();
    let (reader, creator) = (format!("df_reader_{pid}"), format!("df_creator_{pid}"));
    admin(&[
        &format!("DROP ROLE IF EXISTS {reader}"),
        &format!("DROP ROLE IF EXISTS {creator}"),
        &format!("CREATE ROLE {reader} LOGIN"),
        &format!("CREATE ROLE {creator} LOGIN"),
    ])
    .await;
    db.exec(&format!(
        "REVOKE CREATE ON SCHEMA public FROM PUBLIC; \
         GRANT USAGE ON SCHEMA public TO {reader}, {creator}; \
         GRANT SELECT ON ALL TABLES IN SCHEMA public TO {reader}, {creator}; \
         GRANT CREATE ON SCHEMA public TO {creator}; \
         GRANT INSERT, UPDATE ON _dataflow_migrations TO {creator}"
    ))
    .await;
    for (role, needle) in [(&reader, "permission denied"), (&creator, "must be owner")] {
        let url = db.url.replacen("postgres@", &format!("{role}@"), 1);
        let flow = DataFlow::connect(&url).await.expect("the role may connect").model::<V2>();
        let pending = flow.plan().await.expect("a role that can read sees the plan");
        assert!(!pending.is_empty(), "v2 is pending");
        let error = flow.auto_migrate(unattended()).await.expect_err("not allowed");
        let Error::InsufficientPrivilege { role: named, server, .. } = &error else {
            panic!("{role}: {error:?}")
        };
        assert_eq!(named, role);
        assert!(server.contains(needle), "{role}: {server}");
        let message = error.to_string();
        assert!(
            message.contains(role.as_str()) && message.contains("owner of the tables"),
            "{message}"
        );
        assert_eq!(shape(&db).await, before, "{role}: nothing changed");
        eprintln!("{role}: {message}");
        flow.postgres().expect("postgres").pool().close().await;
    }
    db.drop_db().await;
    admin(&[&format!("DROP ROLE IF EXISTS {reader}"), &format!("DROP ROLE IF EXISTS {creator}")])
        .await;
}
