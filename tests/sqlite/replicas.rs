//! Suite 1 of the reliability issue on SQLite, eight processes on one file (see
//! `tests/common/replicas.rs`).

use super::support::TestFile;
use crate::common::replicas;

#[tokio::test]
#[ignore = "a replica process of eight_replicas_start_at_once_round_after_round"]
async fn replica_child() {
    replicas::child().await;
}

#[tokio::test]
async fn eight_replicas_start_at_once_round_after_round() {
    let file = TestFile::new("replicas_rounds").await;
    let figure = replicas::run(&file.url, "sqlite::replicas::replica_child").await;
    replicas::check("sqlite", &figure);
}
