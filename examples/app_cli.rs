//! An application exposing dataflow's commands for its own models.
//!
//! Run: `DATABASE_URL=postgres://postgres@127.0.0.1:5432/mydb cargo run --example app_cli -- status`
//! (or `diff --check`, `plan --out plan.json`, `apply`, `apply --plan plan.json`, `history`,
//! `rollback <version>`, `purge --older-than 7d`, `snapshot`; `--help` lists them). The
//! commands behave as the `dataflow` tool's, with the models as the target: only the
//! tables they name are compared and changed.

use dataflow::{DataFlow, Model};
use std::process::ExitCode;

#[allow(dead_code)]
#[derive(Model)]
#[dataflow(table = "users")]
struct User {
    #[dataflow(primary_key, auto)]
    id: i64,
    #[dataflow(unique, max_length = 255)]
    email: String,
}

#[allow(dead_code)]
#[derive(Model)]
#[dataflow(table = "orders")]
struct Order {
    #[dataflow(primary_key, auto)]
    id: i64,
    #[dataflow(references = "users.id", index)]
    user_id: i64,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    // The arguments are parsed first: `--help` needs no database. `.env` is read before
    // the connection; an empty URL reads DATABASE_URL.
    dataflow::cli::run_app(|| async {
        Ok(DataFlow::connect("").await?.model::<User>().model::<Order>())
    })
    .await
}
