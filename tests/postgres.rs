//! Integration tests against a real PostgreSQL (127.0.0.1:5432 by default; set
//! DATAFLOW_TEST_POSTGRES to another admin URL). Each test works in its own database.
//! When the server is unreachable the tests fail under CI and skip loudly elsewhere.

// Models in tests are declarations: their fields are never read.
#![allow(dead_code)]

#[path = "common/mod.rs"]
mod common;

mod postgres {
    pub mod support;

    mod cancellation;
    mod cli;
    mod connection_faults;
    mod convergence;
    mod corpus;
    mod hostile;
    mod interrupt;
    mod introspection;
    mod kill_anywhere;
    mod migrator;
    mod not_null;
    mod online;
    mod preflight;
    mod privileges;
    mod random_evolutions;
    mod replicas;
    mod tls;
    mod versions;
}
