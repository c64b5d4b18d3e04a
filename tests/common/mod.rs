//! Code shared by the database suites (included by path: not a test target).

pub mod applied;
pub mod evolutions;
pub mod hostile;
pub mod model_sets;
pub mod replicas;
pub mod skip;
pub mod snapshot_cases;
pub mod soak;
pub mod tls;
