//! trybuild UI tests: each compile-fail case pins the message and the caret.
//! Regenerate with `TRYBUILD=overwrite cargo test -p dataflow-derive --test ui`, then read
//! the diff. These depend on the derive and dataflow-schema only (no sqlx, no tokio).

#[test]
fn ui() {
    let cases = trybuild::TestCases::new();
    for category in ["attributes", "constraints", "types", "shape"] {
        cases.compile_fail(format!("tests/ui/{category}/*.rs"));
    }
    cases.pass("tests/ui/pass/*.rs");
}
