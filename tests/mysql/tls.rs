//! TLS against a MariaDB that refuses unencrypted connections (`scripts/tls-servers.sh`,
//! `require_secure_transport=ON`): `ssl-mode=VERIFY_IDENTITY` with the right CA migrates
//! (converges, rolls back with the rows), `REQUIRED` encrypts, a wrong CA fails with the
//! fix named.

use super::support::{unattended, TestDb};
use crate::common::applied::{auto_migrate_and_reverse, Reversal};
use crate::common::tls::TlsServer;
use dataflow::{DataFlow, Model};
use sqlx::{Connection, Executor};
use std::sync::atomic::{AtomicUsize, Ordering};

static COUNTER: AtomicUsize = AtomicUsize::new(0);

fn server() -> Option<TlsServer> {
    TlsServer::from_env("DATAFLOW_TEST_MYSQL_TLS")
}

fn verified(server: &TlsServer, database: &str) -> String {
    server.url_for(database, &format!("ssl-mode=VERIFY_IDENTITY&ssl-ca={}", server.ca))
}

async fn admin(server: &TlsServer, sql: &str) {
    let mut admin =
        sqlx::MySqlConnection::connect(&verified(server, "test")).await.expect("admin over TLS");
    admin.execute(sql).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
    admin.close().await.unwrap();
}

/// The cipher of the session, empty when it is not encrypted.
async fn session_cipher(flow: &DataFlow) -> String {
    let pool = flow.mysql().expect("MySQL").pool();
    let (_, cipher): (String, String) =
        sqlx::query_as("SHOW SESSION STATUS LIKE 'Ssl_cipher'").fetch_one(pool).await.unwrap();
    cipher
}

#[derive(Model)]
#[dataflow(table = "accounts")]
struct AccountV1 {
    #[dataflow(primary_key, auto)]
    id: i64,
    #[dataflow(max_length = 100)]
    email: String,
}

#[derive(Model)]
#[dataflow(table = "accounts")]
struct AccountV2 {
    #[dataflow(primary_key, auto)]
    id: i64,
    #[dataflow(max_length = 100)]
    email: String,
    #[dataflow(max_length = 20)]
    plan: Option<String>,
}

#[tokio::test]
async fn verify_identity_with_the_right_ca_migrates_converges_and_rolls_back() {
    let Some(server) = server() else { return };
    let name = format!("df_tls_{}_{}", std::process::id(), COUNTER.fetch_add(1, Ordering::SeqCst));
    admin(&server, &format!("DROP DATABASE IF EXISTS `{name}`")).await;
    admin(&server, &format!("CREATE DATABASE `{name}`")).await;
    let url = verified(&server, &name);
    let v1 = DataFlow::connect(&url).await.expect("VERIFY_IDENTITY with the right CA connects");
    assert!(!session_cipher(&v1).await.is_empty(), "the session is encrypted");
    v1.clone().model::<AccountV1>().auto_migrate(unattended()).await.expect("v1");
    let db = TestDb::at(name.clone(), url).await;
    db.exec("INSERT INTO accounts (email) VALUES ('a@example.com'), ('b@example.com')").await;

    let v2 = v1.model::<AccountV2>();
    let report = auto_migrate_and_reverse(&db, &v2, unattended(), Reversal::Restores).await;
    assert_eq!(report.plan.steps.len(), 1, "{}", report.plan);
    assert_eq!(
        db.rows("SELECT CAST(COUNT(*) AS CHAR) FROM accounts WHERE plan IS NULL").await,
        ["2"]
    );
    admin(&server, &format!("DROP DATABASE `{name}`")).await;
}

#[tokio::test]
async fn required_encrypts_without_checking_the_certificate() {
    let Some(server) = server() else { return };
    let flow = DataFlow::connect(&server.url_for("test", "ssl-mode=REQUIRED"))
        .await
        .expect("ssl-mode=REQUIRED connects to a certificate no one here trusts");
    assert!(!session_cipher(&flow).await.is_empty(), "the session is encrypted");
}

#[tokio::test]
async fn a_certificate_from_an_unknown_ca_is_refused_with_the_fix_named() {
    let Some(server) = server() else { return };
    let url = server.url_for(
        "test",
        &format!("ssl-mode=VERIFY_IDENTITY&ssl-ca={}&password=hunter2", server.wrong_ca),
    );
    let error = DataFlow::connect(&url).await.expect_err("a wrong CA must not connect");
    let message = error.to_string();
    assert!(message.starts_with("cannot connect to mysql://root@localhost"), "{message}");
    assert!(message.contains("the TLS handshake failed"), "{message}");
    assert!(message.contains("ssl-ca=/path/ca.crt"), "{message}");
    assert!(!message.contains("hunter2"), "{message}");
}

#[tokio::test]
async fn a_plain_connection_to_a_tls_only_server_fails() {
    let Some(server) = server() else { return };
    // MariaDB refuses it as "Access denied" (no dedicated error, unlike MySQL's 3159).
    let error = DataFlow::connect(&server.url_for("test", "ssl-mode=DISABLED"))
        .await
        .expect_err("the server refuses unencrypted connections");
    assert!(error.to_string().contains("cannot connect to mysql://root@localhost"), "{error}");
}
