//! TLS against a PostgreSQL that refuses unencrypted connections (`scripts/tls-servers.sh`):
//! `sslmode=require` connects, `verify-full` with the right CA migrates (converges, rolls
//! back with the rows), a wrong CA and a plain connection fail with the fix named, and a
//! client certificate is presented.

use super::support::{unattended, TestDb};
use crate::common::applied::{auto_migrate_and_reverse, Reversal};
use crate::common::tls::TlsServer;
use dataflow::{DataFlow, Model};
use sqlx::{Connection, Executor};
use std::sync::atomic::{AtomicUsize, Ordering};

static COUNTER: AtomicUsize = AtomicUsize::new(0);

fn server() -> Option<TlsServer> {
    TlsServer::from_env("DATAFLOW_TEST_POSTGRES_TLS")
}

fn verified(server: &TlsServer, database: &str) -> String {
    server.url_for(database, &format!("sslmode=verify-full&sslrootcert={}", server.ca))
}

/// A fresh database on the TLS server; returns its name.
async fn fresh_database(server: &TlsServer, label: &str) -> String {
    let name =
        format!("df_tls_{label}_{}_{}", std::process::id(), COUNTER.fetch_add(1, Ordering::SeqCst));
    let mut admin =
        sqlx::PgConnection::connect(&verified(server, "postgres")).await.expect("admin over TLS");
    admin
        .execute(format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)").as_str())
        .await
        .unwrap();
    admin.execute(format!("CREATE DATABASE \"{name}\"").as_str()).await.unwrap();
    admin.close().await.unwrap();
    name
}

async fn drop_database(server: &TlsServer, name: &str) {
    let mut admin =
        sqlx::PgConnection::connect(&verified(server, "postgres")).await.expect("admin over TLS");
    admin
        .execute(format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)").as_str())
        .await
        .unwrap();
    admin.close().await.unwrap();
}

/// What `pg_stat_ssl` says of this session: (encrypted, client certificate's DN).
async fn session_tls(flow: &DataFlow) -> (bool, Option<String>) {
    let pool = flow.postgres().expect("PostgreSQL").pool();
    sqlx::query_as("SELECT ssl, client_dn FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
        .fetch_one(pool)
        .await
        .expect("pg_stat_ssl")
}

#[derive(Model)]
#[dataflow(table = "accounts")]
struct AccountV1 {
    #[dataflow(primary_key, auto)]
    id: i64,
    email: String,
}

#[derive(Model)]
#[dataflow(table = "accounts")]
struct AccountV2 {
    #[dataflow(primary_key, auto)]
    id: i64,
    email: String,
    #[dataflow(max_length = 20)]
    plan: Option<String>,
}

#[tokio::test]
async fn verify_full_with_the_right_ca_migrates_converges_and_rolls_back() {
    let Some(server) = server() else { return };
    let name = fresh_database(&server, "verified").await;
    let url = verified(&server, &name);
    let v1 = DataFlow::connect(&url).await.expect("verify-full with the right CA connects");
    assert_eq!(session_tls(&v1).await, (true, None));
    v1.clone().model::<AccountV1>().auto_migrate(unattended()).await.expect("v1");
    let db = TestDb { name: name.clone(), url: url.clone(), db: v1.postgres().unwrap().clone() };
    db.exec("INSERT INTO accounts (email) VALUES ('a@example.com'), ('b@example.com')").await;

    let v2 = v1.model::<AccountV2>();
    let report = auto_migrate_and_reverse(&db, &v2, unattended(), Reversal::Restores).await;
    assert_eq!(report.plan.steps.len(), 1, "{}", report.plan);
    let rows: i64 = db.scalar("SELECT count(*) FROM accounts WHERE plan IS NULL").await;
    assert_eq!(rows, 2);
    db.db.pool().close().await;
    drop_database(&server, &name).await;
}

#[tokio::test]
async fn require_encrypts_without_checking_the_certificate() {
    let Some(server) = server() else { return };
    // The server's certificate is signed by a CA this client was not given: `require`
    // encrypts without checking it.
    let flow = DataFlow::connect(&server.url_for("postgres", "sslmode=require"))
        .await
        .expect("sslmode=require connects to a certificate no one here trusts");
    assert_eq!(session_tls(&flow).await, (true, None));
    let plan = flow.plan().await.expect("a plan over TLS");
    assert!(plan.is_empty());
}

#[tokio::test]
async fn a_certificate_from_an_unknown_ca_is_refused_with_the_fix_named() {
    let Some(server) = server() else { return };
    let url = server.url_for(
        "postgres",
        &format!("sslmode=verify-full&sslrootcert={}&password=hunter2", server.wrong_ca),
    );
    let error = DataFlow::connect(&url).await.expect_err("a wrong CA must not connect");
    let message = error.to_string();
    assert!(message.starts_with("cannot connect to postgres://postgres@localhost"), "{message}");
    assert!(message.contains("the TLS handshake failed"), "{message}");
    assert!(message.contains("sslrootcert=/path/ca.crt"), "{message}");
    assert!(message.contains("password=***") && !message.contains("hunter2"), "{message}");
}

#[tokio::test]
async fn a_plain_connection_to_a_tls_only_server_is_told_to_use_tls() {
    let Some(server) = server() else { return };
    let error = DataFlow::connect(&server.url_for("postgres", "sslmode=disable"))
        .await
        .expect_err("the server refuses unencrypted connections");
    // Debug is the whole report: the message, then the server's reason as its cause.
    let message = format!("{error:?}");
    assert!(
        message.contains("caused by: error returned from database: pg_hba.conf rejects"),
        "{message}"
    );
    assert!(message.contains("no encryption"), "{message}");
    assert!(message.contains("the server accepts only encrypted connections"), "{message}");
}

#[tokio::test]
async fn a_client_certificate_is_presented() {
    let Some(server) = server() else { return };
    let url = server.url_for(
        "postgres",
        &format!(
            "sslmode=verify-full&sslrootcert={}&sslcert={}&sslkey={}",
            server.ca, server.client_cert, server.client_key
        ),
    );
    let flow = DataFlow::connect(&url).await.expect("connects with a client certificate");
    assert_eq!(session_tls(&flow).await, (true, Some("/CN=postgres".to_owned())));
}

#[tokio::test]
async fn the_command_line_connects_over_tls() {
    let Some(server) = server() else { return };
    let run = |url: String| {
        std::process::Command::new(env!("CARGO_BIN_EXE_dataflow"))
            .args(["history", "--db", &url])
            .env_remove("DATABASE_URL")
            .output()
            .expect("the dataflow binary runs")
    };
    let ok = run(verified(&server, "postgres"));
    assert_eq!(ok.status.code(), Some(0), "{}", String::from_utf8_lossy(&ok.stderr));
    let refused =
        run(server
            .url_for("postgres", &format!("sslmode=verify-full&sslrootcert={}", server.wrong_ca)));
    assert_eq!(refused.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("the TLS handshake failed"), "{stderr}");
}
