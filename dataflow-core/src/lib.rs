//! The runtime of dataflow: connections, introspection, the migrator and the command
//! line's logic. Everything that does IO lives here; `dataflow-schema` stays pure.
//!
//! So far it holds the command line's entry point; the database connectors arrive with
//! the PostgreSQL, migrator, SQLite and MySQL work (see ARCHITECTURE.md).

#![warn(missing_docs)]

pub mod cli;
