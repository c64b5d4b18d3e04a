//! The offline path (no database): models → desired schema → plan, snapshot-tested.
//! One test binary; each module is one concern.

// The models here are declarations: their fields are never read.
#![allow(dead_code)]

mod offline {
    pub mod support;

    mod assertion_path;
    mod determinism;
    mod evolutions;
    mod mysql;
    mod preview;
    mod quoting;
    mod secrets;
    mod sqlite;
    mod workflow;
}
