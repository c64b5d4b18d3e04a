//! Catalog rows → [`crate::Schema`], per dialect. The queries live beside the builders as
//! `.sql` files; running them is `dataflow-core`'s job, so this stays pure and testable.

pub mod mysql;
pub mod postgres;
pub mod sqlite;
