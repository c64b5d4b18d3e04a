//! Suite 4 of the reliability issue on SQLite (see `tests/common/evolutions.rs`): a
//! fresh file per case.

use super::support::TestFile;
use crate::common::evolutions::{self, case, run_case, Counts, Db, FreshDb};
use proptest::strategy::Strategy;
use std::future::Future;
use std::pin::Pin;

impl Db for TestFile {
    fn url(&self) -> String {
        self.url.clone()
    }
    fn exec<'a>(&'a self, sql: &'a str) -> Pin<Box<dyn Future<Output = ()> + Send + 'a>> {
        Box::pin(TestFile::exec(self, sql))
    }
    fn rows<'a>(&'a self, sql: &'a str) -> Pin<Box<dyn Future<Output = Vec<String>> + Send + 'a>> {
        Box::pin(TestFile::rows(self, sql))
    }
}

impl FreshDb for TestFile {
    async fn fresh(label: &str) -> Self {
        TestFile::new(label).await
    }
    // The file goes with the value.
    async fn dispose(self) {}
}

#[test]
fn random_evolutions_apply_converge_and_roll_back_with_their_rows() {
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    // Generated columns are not supported on SQLite yet (a documented limitation).
    let strategy = case().prop_map(|mut case| {
        for version in &mut case.versions {
            version.generated = None;
        }
        case
    });
    evolutions::run_suite::<TestFile>(&runtime, "sqlite", 32, strategy);
}

/// Shrunk from a failure of the soak run: a column renamed with its index renamed too
/// (SQLite drops and re-creates it); the rollback re-created the index on the column's
/// old name before the column was renamed back.
#[tokio::test]
async fn regression_an_index_renamed_with_its_column_rolls_back() {
    use crate::common::evolutions::{Case, Col, Version};
    let col = Col { default: None, indexed: true, ..Col::plain(2) };
    let empty = Version::new(Vec::new(), Vec::new(), 0);
    let with =
        |name: u8| Version::new(vec![None, None, None, Some(col.clone())], vec![0, 0, 0, name], 0);
    let case = Case::new(vec![false, false, false, true], vec![empty, with(0), with(1)]);
    let file = TestFile::new("evolve_rename_index").await;
    let mut counts = Counts::default();
    run_case(&file, &case, &mut counts).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(counts.rollbacks, 3, "the first version and both steps");
}

/// Shrunk from a failure of the soak run: a foreign key dropped in the plan that renames
/// its table; the rebuild that drops it was keyed by the old name and skipped.
#[tokio::test]
async fn regression_a_foreign_key_dropped_while_its_table_is_renamed() {
    use crate::common::evolutions::{Case, Col, Version};
    let col = |references| Col { default: None, checked: true, references, ..Col::plain(0) };
    let case = Case::new(
        vec![false, false, true, false, true],
        vec![
            Version::new(Vec::new(), Vec::new(), 0),
            Version::new(vec![None, None, None, None, Some(col(true))], vec![0, 0, 0, 0, 1], 0),
            Version::new(vec![None, None, None, None, Some(col(false))], vec![0, 0, 0, 0, 1], 1),
        ],
    );
    let file = TestFile::new("evolve_fk_rename").await;
    let mut counts = Counts::default();
    run_case(&file, &case, &mut counts).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(counts.rollbacks, 3, "the first version and both steps");
}
