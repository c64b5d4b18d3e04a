//! SQLite against real database files: introspection, convergence, every change kind on
//! populated tables with rollback, table rebuilds. One test binary; each test works in its
//! own file under the temp directory.

// The models here are declarations: their fields are never read.
#![allow(dead_code)]

#[path = "common/mod.rs"]
mod common;

mod sqlite {
    pub mod support;

    mod cli;
    mod convergence;
    mod corpus;
    mod evolutions;
    mod hostile;
    mod migrator;
    mod random_evolutions;
    mod replicas;
}
