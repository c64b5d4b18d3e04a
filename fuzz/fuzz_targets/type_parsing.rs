//! See `dataflow_schema::invariants::type_parsing`.
#![no_main]

libfuzzer_sys::fuzz_target!(|text: &str| {
    dataflow_schema::invariants::type_parsing(text);
});
