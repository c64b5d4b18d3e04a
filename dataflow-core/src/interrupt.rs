//! What Ctrl-C does to a run of the `dataflow` command.
//!
//! Dropping the run's future is not enough: a server keeps executing the statement a
//! vanished client sent (a `CREATE INDEX CONCURRENTLY`, a batch of a fill) until it
//! finishes, holding its locks, and the history row would stay `running`. So while the
//! command line runs, every server session the connectors open is noted here; on an
//! interrupt the run is dropped, those sessions are ended on the server (their statement
//! cancelled, their transaction rolled back, the migration lock freed), the run this
//! process recorded is closed as `failed`, and the user is told where things stand.
//!
//! The sessions are noted by `sessions.rs`, which the connectors call.

use crate::sessions::{sessions, Server};
use sqlx::mysql::MySqlConnectOptions;
use sqlx::postgres::PgConnectOptions;
use sqlx::Connection;

/// What ending the interrupted run did.
#[derive(Debug, Default)]
pub struct Stopped {
    /// Sessions that were still on the server and were ended.
    pub sessions_ended: usize,
    /// Runs this process had recorded `running`, now closed: `failed`, or `applied` when
    /// every step had finished before the interrupt took effect.
    pub runs_closed: Vec<(String, crate::history::RunStatus)>,
    /// What could not be done (the server is unreachable, say), for the message.
    pub problems: Vec<String>,
}

/// Ends the server sessions this process opened and closes the runs it recorded.
pub async fn stop_server_work() -> Stopped {
    let sessions = sessions();
    // Group the sessions by server (a run touches one; DB-vs-DB reads a second).
    let mut servers: Vec<(Server, Vec<i64>)> = Vec::new();
    for (server, id) in sessions {
        let key = server.describe();
        match servers.iter_mut().find(|(s, _)| s.describe() == key) {
            Some((_, ids)) => ids.push(id),
            None => servers.push((server, vec![id])),
        }
    }
    let mut stopped = Stopped::default();
    for (server, ids) in servers {
        let outcome = match &server {
            Server::Postgres(options) => stop_postgres(options, &ids).await,
            Server::Mysql(options) => stop_mysql(options, &ids).await,
        };
        match outcome {
            Ok((ended, closed)) => {
                stopped.sessions_ended += ended;
                stopped.runs_closed.extend(closed);
            }
            Err(error) => stopped.problems.push(format!("{}: {error}", server.describe())),
        }
    }
    stopped
}

const INTERRUPTED: &str = "interrupted by the operator (Ctrl-C): the running statement was \
    cancelled; the next run re-plans from the live schema";

async fn stop_postgres(
    options: &PgConnectOptions,
    pids: &[i64],
) -> Result<(usize, Vec<(String, crate::history::RunStatus)>), sqlx::Error> {
    let mut connection = sqlx::PgConnection::connect_with(options).await?;
    // Ending the session cancels its statement, rolls its transaction back and frees the
    // session-level migration lock; the server does it asynchronously, so wait (briefly)
    // until the sessions are gone.
    let pids: Vec<i32> = pids.iter().filter_map(|p| i32::try_from(*p).ok()).collect();
    // The filter runs on the rows WHERE kept: only this process's sessions are ended.
    let ended: i64 = sqlx::query_scalar(
        "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity \
         WHERE pid = ANY($1) AND pid <> pg_backend_pid()",
    )
    .bind(&pids)
    .fetch_one(&mut connection)
    .await?;
    for _ in 0..100 {
        let left: i64 =
            sqlx::query_scalar("SELECT count(*) FROM pg_stat_activity WHERE pid = ANY($1)")
                .bind(&pids)
                .fetch_one(&mut connection)
                .await?;
        if left == 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let closed = crate::connector::postgres::history::close_own_running(
        &mut connection,
        dataflow_schema::introspect::postgres::DEFAULT_NAMESPACE,
        INTERRUPTED,
    )
    .await?;
    let _ = connection.close().await;
    Ok((usize::try_from(ended).unwrap_or(0), closed))
}

async fn stop_mysql(
    options: &MySqlConnectOptions,
    ids: &[i64],
) -> Result<(usize, Vec<(String, crate::history::RunStatus)>), sqlx::Error> {
    let mut connection = sqlx::MySqlConnection::connect_with(options).await?;
    let mut ended = 0;
    for id in ids {
        let alive: i64 =
            sqlx::query_scalar("SELECT count(*) FROM information_schema.PROCESSLIST WHERE ID = ?")
                .bind(id)
                .fetch_one(&mut connection)
                .await?;
        if alive > 0 && sqlx::query(&format!("KILL {id}")).execute(&mut connection).await.is_ok() {
            ended += 1;
        }
    }
    // KILL sets a flag the session checks between rows or statements: wait (briefly)
    // until the sessions are gone, so their locks are too.
    for _ in 0..200 {
        let left: i64 = sqlx::query_scalar(&format!(
            "SELECT count(*) FROM information_schema.PROCESSLIST WHERE ID IN ({})",
            ids.iter().map(i64::to_string).collect::<Vec<_>>().join(", ")
        ))
        .fetch_one(&mut connection)
        .await?;
        if left == 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let closed =
        crate::connector::mysql::history::close_own_running(&mut connection, INTERRUPTED).await?;
    let _ = connection.close().await;
    Ok((ended, closed))
}
