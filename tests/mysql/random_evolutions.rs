//! Suite 4 of the reliability issue on MariaDB (see `tests/common/evolutions.rs`): a
//! fresh database per case. The generator's cases minus what MySQL refuses with a clear
//! error by design: partial indexes, keys on unbounded text (`longtext`), and a foreign
//! key from an `int` column to a `bigint` one. Not asked of the reliability issue (it
//! names PostgreSQL and SQLite); it found two MySQL bugs, fixed with the tests below.

use super::support::{server_available, TestDb};
use crate::common::evolutions::{self, case, run_case, unbounded_text, Counts, Db, FreshDb};
use proptest::strategy::Strategy;
use std::future::Future;
use std::pin::Pin;

impl Db for TestDb {
    fn url(&self) -> String {
        self.url.clone()
    }
    fn exec<'a>(&'a self, sql: &'a str) -> Pin<Box<dyn Future<Output = ()> + Send + 'a>> {
        Box::pin(TestDb::exec(self, sql))
    }
    fn rows<'a>(&'a self, sql: &'a str) -> Pin<Box<dyn Future<Output = Vec<String>> + Send + 'a>> {
        Box::pin(TestDb::rows(self, sql))
    }
    fn mysql(&self) -> bool {
        true
    }
}

impl FreshDb for TestDb {
    async fn fresh(label: &str) -> Self {
        TestDb::new(label).await
    }
    async fn dispose(self) {
        self.drop_db().await;
    }
}

#[test]
fn random_evolutions_apply_converge_and_roll_back_with_their_rows() {
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    if !runtime.block_on(server_available()) {
        return;
    }
    let strategy = case().prop_map(|mut case| {
        for version in &mut case.versions {
            for (k, col) in version.cols.iter_mut().enumerate() {
                if let Some(col) = col {
                    col.partial = false;
                    // InnoDB needs the parent's type: the planner refuses `int` → `bigint`.
                    col.references &= col.variant == 1;
                    if unbounded_text(k, col.variant) {
                        col.indexed = false;
                        col.unique = false;
                    }
                }
            }
        }
        case
    });
    // 16 cases (about a minute: MariaDB's DDL is slower); the soak runs 1,000.
    evolutions::run_suite::<TestDb>(&runtime, "mysql", 16, strategy);
}

/// The key moved from `seq` to `id` while `id` becomes AUTO_INCREMENT: the identity was
/// added before the key (MySQL refuses an AUTO_INCREMENT column outside a key, 1075); and
/// back in the rollback.
#[tokio::test]
async fn regression_an_identity_added_with_the_key_that_holds_it() {
    use crate::common::evolutions::{Case, Version};
    let keyed = |key| Version { key, ..Version::new(Vec::new(), Vec::new(), 0) };
    let case = Case::new(Vec::new(), vec![keyed(1), keyed(0), keyed(1)]);
    regression("evolve_identity_key", case, 3).await;
}

/// Runs a fixed case (a failure the suite found) on a fresh database: every step must
/// pass, with `rollbacks` rollbacks (the first version's included).
async fn regression(label: &str, case: crate::common::evolutions::Case, rollbacks: usize) {
    if !server_available().await {
        return;
    }
    let db = TestDb::new(label).await;
    let mut counts = Counts::default();
    run_case(&db, &case, &mut counts).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(counts.rollbacks, rollbacks);
    db.drop_db().await;
}

/// A foreign key from an `int` column to a `bigint` one: InnoDB refused it at the server
/// ("incorrectly formed", errno 150) after the run's earlier steps were applied. The
/// planner now refuses it, naming both columns, and nothing is created.
#[tokio::test]
async fn a_foreign_key_between_different_integer_types_is_refused_before_anything_runs() {
    use crate::common::evolutions::{models, Case, Col, Version};
    if !server_available().await {
        return;
    }
    let db = TestDb::new("evolve_fk_types").await;
    let referencing = Col { references: true, ..Col::plain(0) };
    let version = Version::new(vec![None, None, None, None, Some(referencing)], Vec::new(), 0);
    let case = Case::new(Vec::new(), vec![version.clone()]);
    let flow = dataflow::DataFlow::connect(&db.url).await.expect("a connection");
    let error = flow
        .models(models(&case, &version, None))
        .plan()
        .await
        .expect_err("int → bigint foreign key");
    let message = error.to_string();
    assert!(message.contains("t_c4_fkey") && message.contains("parent.id is bigint"), "{message}");
    assert_eq!(
        db.count("SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE()")
            .await,
        0
    );
    db.drop_db().await;
}

/// Found by the soak (bisected by hand): the table and a checked column renamed and
/// another column dropped (its values backed up); rolling back, MariaDB refused to rename
/// the column back — "Unknown column 'c0_r1' in 'CHECK'" — from a stale CHECK definition
/// in its table cache after the backup's restore. The statement now runs again after
/// `FLUSH TABLES` of that table.
#[tokio::test]
async fn regression_a_checked_column_renamed_with_its_table_rolls_back() {
    use crate::common::evolutions::{Case, Col, Version};
    let checked = Col { checked: true, ..Col::plain(0) };
    let text = Col { default: None, ..Col::plain(0) };
    let case = Case::new(
        vec![false, false, false, true],
        vec![
            Version::new(vec![Some(checked.clone()), None, None, Some(text)], Vec::new(), 0),
            Version::new(vec![Some(checked)], vec![1], 1),
        ],
    );
    regression("evolve_check_rename", case, 2).await;
}
