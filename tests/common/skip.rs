//! Skipping a test so that it shows and counts.
//!
//! libtest captures `eprintln!` of passing tests and counts an early `return` as a pass, so
//! a suite without its server used to look green. A skip here writes a `SKIPPED` line
//! straight to the process's stderr (past the capture), appends it to the file named by
//! `DATAFLOW_SKIP_LOG` (`scripts/test.sh` counts those lines in its summary), and under
//! `CI=true` fails the test instead: CI must run everything.

use std::io::Write;
use std::path::PathBuf;

/// Whether this is a CI run (`CI=true`, as CI services set it; `CI=false` is not).
pub fn under_ci() -> bool {
    std::env::var("CI").is_ok_and(|value| value.eq_ignore_ascii_case("true"))
}

/// Records that the running test skips its work because of `reason`; panics under CI.
pub fn skip(reason: &str) {
    let current = std::thread::current();
    let test = current.name().unwrap_or("(unnamed test)");
    if under_ci() {
        panic!("{test} cannot run under CI=true: {reason}");
    }
    let line = format!("SKIPPED {test}: {reason}\n");
    let _ = std::io::stderr().lock().write_all(line.as_bytes());
    if let Some(log) = std::env::var_os("DATAFLOW_SKIP_LOG") {
        let appended = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .and_then(|mut file| file.write_all(line.as_bytes()));
        if let Err(error) = appended {
            panic!("cannot record the skip in {}: {error}", PathBuf::from(log).display());
        }
    }
}

/// The folder of other projects' schema-evolution cases: `DATAFLOW_CORPUS`, by default
/// `../shared/corpus` beside the repository.
pub fn corpus_dir() -> PathBuf {
    match std::env::var_os("DATAFLOW_CORPUS") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus"),
    }
}

/// The text of `sqldef/<file>` in the corpus, or `None` after a visible skip when it is
/// missing (a failure under CI).
pub fn read_corpus(file: &str) -> Option<String> {
    let path = corpus_dir().join("sqldef").join(file);
    match std::fs::read_to_string(&path) {
        Ok(text) => Some(text),
        Err(error) => {
            skip(&format!(
                "the corpus is not at {} ({error}); set DATAFLOW_CORPUS to the folder holding sqldef/",
                path.display()
            ));
            None
        }
    }
}
