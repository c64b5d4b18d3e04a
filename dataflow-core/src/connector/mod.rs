//! Everything specific to one database, a folder each: connecting, reading the catalog,
//! applying a plan by that database's crash-safety rules, its history table and its
//! migration lock. What is the same for every database lives outside this folder.

pub(crate) mod contract;
#[cfg(feature = "mysql")]
pub mod mysql;
#[cfg(feature = "postgres")]
pub mod postgres;
#[cfg(feature = "sqlite")]
pub mod sqlite;

#[cfg(any(feature = "postgres", feature = "mysql"))]
use std::time::Duration;

/// How long a server may take to accept a connection.
#[cfg(any(feature = "postgres", feature = "mysql"))]
pub(crate) const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Opens and closes one connection outside any pool, so that an unreachable server, a
/// refused login or a failed TLS handshake is reported at once with the driver's own
/// reason — a pool retries until its acquire timeout and then says only "pool timed out".
#[cfg(any(feature = "postgres", feature = "mysql"))]
pub(crate) async fn probe<C: sqlx::Connection>(options: &C::Options) -> Result<(), sqlx::Error> {
    match tokio::time::timeout(CONNECT_TIMEOUT, C::connect_with(options)).await {
        Ok(connection) => connection?.close().await,
        Err(_) => Err(sqlx::Error::Io(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            format!("no answer from the server within {} s", CONNECT_TIMEOUT.as_secs()),
        ))),
    }
}
