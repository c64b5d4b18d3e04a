//! See `dataflow_schema::invariants::quoting`.
#![no_main]

libfuzzer_sys::fuzz_target!(|text: &str| {
    dataflow_schema::invariants::quoting(text);
});
