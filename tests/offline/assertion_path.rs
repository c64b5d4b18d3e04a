//! Counts the database tests that apply plans and how many take the one assertion path
//! (`tests/common/applied.rs`): apply → re-plan empty → rollback → schema and rows as
//! before → apply again. A test that applies a plan any other way must say why at its
//! top with a `// assertion path: <reason>` comment, or this test fails naming it.

use std::path::Path;

/// Calls that apply a plan without the path's checks.
const DIRECT_APPLIES: &[&str] = &[
    "auto_migrate(",
    ".apply(&",
    "apply_plan(",
    "\"apply\"",
    "migrate_to(",
    "migrate_sqlite_to(",
    "migrate_mysql_to(",
    "handler.execute(",
    ".execute(&plan",
];

/// Calls that take the path (the suites' `migrate`/`round_trip` helpers go through
/// `apply_and_reverse`; `Snapshot` is the path taken by hand).
const PATH_TAKEN: &[&str] = &[
    ".migrate(",
    ".migrate_with(",
    "round_trip(",
    "round_trip_with(",
    "apply_and_reverse(",
    "auto_migrate_and_reverse(",
    "assert_restored(",
];

struct TestFn {
    file: String,
    name: String,
    body: String,
}

fn test_functions(dir: &Path) -> Vec<TestFn> {
    let mut found = Vec::new();
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.extension().is_some_and(|ext| ext == "rs"))
        .collect();
    files.sort();
    for path in files {
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{e}"));
        let lines: Vec<&str> = text.lines().collect();
        let mut i = 0;
        while i < lines.len() {
            let line = lines[i].trim();
            if line == "#[tokio::test]" || line == "#[test]" || line.starts_with("#[tokio::test(") {
                // The function: from its attribute to the first line that closes it at
                // the attribute's indentation.
                let indent = lines[i].len() - lines[i].trim_start().len();
                let start = i;
                let mut name = String::new();
                let mut end = i + 1;
                while end < lines.len() {
                    let l = lines[end];
                    if name.is_empty() {
                        if let Some(at) = l.find("fn ") {
                            name = l[at + 3..].split(['(', '<']).next().unwrap_or("").to_owned();
                        }
                    }
                    if l.len() > indent && l[..indent].trim().is_empty() && &l[indent..] == "}" {
                        break;
                    }
                    end += 1;
                }
                // Doc comments above the attribute belong to the test too.
                let mut doc = start;
                while doc > 0 && lines[doc - 1].trim_start().starts_with("//") {
                    doc -= 1;
                }
                found.push(TestFn {
                    file: path
                        .file_name()
                        .map(|f| f.to_string_lossy().into_owned())
                        .unwrap_or_default(),
                    name,
                    body: lines[doc..=end.min(lines.len() - 1)].join("\n"),
                });
                i = end;
            }
            i += 1;
        }
    }
    found
}

#[test]
fn every_plan_applying_test_takes_the_assertion_path_or_says_why_not() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests");
    let (mut applying, mut through, mut exempt, mut one_way) = (0, 0, 0, 0);
    let mut unexplained = Vec::new();
    for suite in ["postgres", "sqlite", "mysql"] {
        let (mut suite_applying, mut suite_through) = (0, 0);
        for test in test_functions(&root.join(suite)) {
            let direct = DIRECT_APPLIES.iter().any(|call| test.body.contains(call));
            let path = PATH_TAKEN.iter().any(|call| test.body.contains(call));
            if !direct && !path {
                continue;
            }
            applying += 1;
            suite_applying += 1;
            let explained = test.body.contains("// assertion path:");
            if test.body.contains("Reversal::OneWay(") {
                one_way += 1;
            }
            // A test whose change under test takes the path may set up by other means.
            if path {
                through += 1;
                suite_through += 1;
            } else if explained {
                exempt += 1;
            } else {
                unexplained.push(format!("{suite}/{}: {}", test.file, test.name));
            }
        }
        println!("{suite}: {suite_applying} plan-applying tests, {suite_through} through the assertion path");
    }
    println!(
        "all: {applying} plan-applying tests; {through} through the assertion path \
         ({one_way} of them with a one-way step); {exempt} say why not"
    );
    assert!(applying > 50, "the scan found only {applying} plan-applying tests: is it broken?");
    assert!(
        unexplained.is_empty(),
        "these tests apply plans outside the assertion path (tests/common/applied.rs) without \
         a `// assertion path: <reason>` comment:\n  {}",
        unexplained.join("\n  ")
    );
}
