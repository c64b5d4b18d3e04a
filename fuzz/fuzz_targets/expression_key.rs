//! See `dataflow_schema::invariants::expression_normalising`.
#![no_main]

libfuzzer_sys::fuzz_target!(|text: &str| {
    dataflow_schema::invariants::expression_normalising(text);
});
