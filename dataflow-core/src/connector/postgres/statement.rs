//! Running SQL text as it is — the statements of a plan, `SET`s, `BEGIN`/`COMMIT` — on
//! a connection that goes back to its pool only clean.

use sqlx::pool::PoolConnection;
use sqlx::Executor;
use std::ops::{Deref, DerefMut};

/// A pool connection lent to work that opens transactions or changes session settings.
/// It goes back to the pool (which may be the application's own) only through
/// [`Lent::give_back`], after the work ended cleanly. Dropped on the way — a cancelled
/// future (a `tokio::time::timeout` around `auto_migrate`), a panic, an error path that
/// did not clean up — it is closed instead: the server then rolls back its open
/// transaction and frees its locks, and no half-done transaction or foreign session
/// setting reaches the application's next query.
pub(crate) struct Lent {
    connection: Option<PoolConnection<sqlx::Postgres>>,
}

impl Lent {
    pub(crate) fn new(connection: PoolConnection<sqlx::Postgres>) -> Lent {
        Lent { connection: Some(connection) }
    }

    /// The work ended cleanly (no transaction open, session settings as they were): the
    /// connection may serve again.
    pub(crate) fn give_back(mut self) {
        drop(self.connection.take());
    }
}

impl Deref for Lent {
    type Target = sqlx::PgConnection;
    fn deref(&self) -> &sqlx::PgConnection {
        // Present until `give_back` or drop consumes it.
        self.connection.as_deref().expect("a lent connection is present until given back")
    }
}

impl DerefMut for Lent {
    fn deref_mut(&mut self) -> &mut sqlx::PgConnection {
        self.connection.as_deref_mut().expect("a lent connection is present until given back")
    }
}

impl Drop for Lent {
    fn drop(&mut self) {
        if let Some(mut connection) = self.connection.take() {
            connection.close_on_drop();
        }
    }
}

/// One statement (or several, `;`-separated) over the simple query protocol.
pub(crate) async fn execute(
    connection: &mut sqlx::PgConnection,
    sql: &str,
) -> std::result::Result<(), sqlx::Error> {
    // `connection.execute(raw_sql(..))`, not `raw_sql(..).execute(connection)`: the
    // latter's future is not `Send` for every lifetime (sqlx issue #3150).
    connection.execute(sqlx::raw_sql(sql)).await.map(|_| ())
}
