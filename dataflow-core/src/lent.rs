//! A pool connection lent to work that opens transactions or changes session settings,
//! for every database.

use sqlx::pool::PoolConnection;
use sqlx::Database;
use std::ops::{Deref, DerefMut};

/// A pool connection lent to work that opens transactions or changes session settings.
/// It goes back to the pool (which may be the application's own) only through
/// [`Lent::give_back`], after the work ended cleanly. Dropped on the way — a cancelled
/// future (a `tokio::time::timeout` around `auto_migrate`), a panic, an error path that
/// did not clean up — it is closed instead: the server then rolls back its open
/// transaction and frees its locks, and no half-done transaction or foreign session
/// setting reaches the application's next query.
pub(crate) struct Lent<DB: Database> {
    connection: Option<PoolConnection<DB>>,
}

impl<DB: Database> Lent<DB> {
    pub(crate) fn new(connection: PoolConnection<DB>) -> Lent<DB> {
        Lent { connection: Some(connection) }
    }

    /// The work ended cleanly (no transaction open, session settings as they were): the
    /// connection may serve again.
    pub(crate) fn give_back(mut self) {
        drop(self.connection.take());
    }
}

impl<DB: Database> Deref for Lent<DB> {
    type Target = DB::Connection;
    fn deref(&self) -> &DB::Connection {
        // Present until `give_back` or drop consumes it.
        self.connection.as_deref().expect("a lent connection is present until given back")
    }
}

impl<DB: Database> DerefMut for Lent<DB> {
    fn deref_mut(&mut self) -> &mut DB::Connection {
        self.connection.as_deref_mut().expect("a lent connection is present until given back")
    }
}

impl<DB: Database> Drop for Lent<DB> {
    fn drop(&mut self) {
        if let Some(mut connection) = self.connection.take() {
            connection.close_on_drop();
        }
    }
}
