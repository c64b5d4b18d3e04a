//! MySQL/MariaDB against a real server (MariaDB 10.11 in CI): introspection, convergence,
//! every change kind on populated tables with rollback and data, the migrator (history,
//! eight processes, kills, lock timeouts), bad input and sqldef's MySQL corpus. One test
//! binary; each test works in its own database.

// The models here are declarations: their fields are never read.
#![allow(dead_code)]

#[path = "common/mod.rs"]
mod common;

mod mysql {
    pub mod support;

    mod convergence;
    mod corpus;
    mod hostile;
    mod kill_anywhere;
    mod migrator;
    mod random_evolutions;
    mod replicas;
    mod tls;
}
