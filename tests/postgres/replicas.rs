//! Suite 1 of the reliability issue on PostgreSQL (see `tests/common/replicas.rs`).

use super::support::{server_available, TestDb};
use crate::common::replicas;

#[tokio::test]
#[ignore = "a replica process of eight_replicas_start_at_once_round_after_round"]
async fn replica_child() {
    replicas::child().await;
}

#[tokio::test]
async fn eight_replicas_start_at_once_round_after_round() {
    if !server_available().await {
        return;
    }
    let db = TestDb::new("replicas_rounds").await;
    let figure = replicas::run(&db.url, "postgres::replicas::replica_child").await;
    replicas::check("postgres", &figure);
    db.drop_db().await;
}
