//! The server sessions this process opened, noted for the command line's Ctrl-C
//! (`interrupt.rs` ends them). Tracking is off unless the command line turns it on, so an
//! application's long-lived pools note nothing.

#[cfg(feature = "mysql")]
use sqlx::mysql::MySqlConnectOptions;
#[cfg(feature = "postgres")]
use sqlx::postgres::PgConnectOptions;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

static TRACKING: AtomicBool = AtomicBool::new(false);

/// A server, as a connector reaches it (its options hold the password: never printed).
// Only the command line reads the registry back (to end the sessions on Ctrl-C).
#[cfg_attr(not(feature = "cli"), allow(dead_code))]
#[derive(Clone)]
pub(crate) enum Server {
    /// A PostgreSQL database.
    #[cfg(feature = "postgres")]
    Postgres(Box<PgConnectOptions>),
    /// A MySQL/MariaDB database.
    #[cfg(feature = "mysql")]
    Mysql(Box<MySqlConnectOptions>),
}

impl Server {
    /// Host, port and database, for messages.
    #[cfg(feature = "cli")]
    pub(crate) fn describe(&self) -> String {
        match self {
            #[cfg(feature = "postgres")]
            Server::Postgres(o) => {
                format!("{}:{}/{}", o.get_host(), o.get_port(), o.get_database().unwrap_or("?"))
            }
            #[cfg(feature = "mysql")]
            Server::Mysql(o) => {
                format!("{}:{}/{}", o.get_host(), o.get_port(), o.get_database().unwrap_or("?"))
            }
        }
    }
}

/// The server sessions this process opened, with the server they are on.
static SESSIONS: Mutex<Vec<(Server, i64)>> = Mutex::new(Vec::new());

/// Notes the server sessions opened from now on (the command line calls this).
pub fn track_sessions() {
    TRACKING.store(true, Ordering::SeqCst);
}

/// Whether sessions are being noted (connectors ask before they look up their id).
pub(crate) fn tracking() -> bool {
    TRACKING.load(Ordering::SeqCst)
}

/// Notes a session of `server` (PostgreSQL backend pid, MySQL connection id).
pub(crate) fn note_session(server: &Server, id: i64) {
    if let Ok(mut sessions) = SESSIONS.lock() {
        sessions.push((server.clone(), id));
    }
}

/// Every session noted so far.
#[cfg(feature = "cli")]
pub(crate) fn sessions() -> Vec<(Server, i64)> {
    SESSIONS.lock().map(|s| s.clone()).unwrap_or_default()
}
