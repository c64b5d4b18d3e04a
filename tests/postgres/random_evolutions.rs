//! Suite 4 of the reliability issue on PostgreSQL (see `tests/common/evolutions.rs`): a
//! fresh database per case.

use super::support::{server_available, TestDb};
use crate::common::evolutions::{self, case, run_case, Counts, Db};
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
}

#[test]
fn random_evolutions_apply_converge_and_roll_back_with_their_rows() {
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    if !runtime.block_on(server_available()) {
        return;
    }
    let mut runner = evolutions::runner();
    let cases = runner.config().cases;
    let counts = std::sync::Mutex::new(Counts::default());
    let result = runner.run(&case(), |case| {
        runtime.block_on(async {
            let db = TestDb::new("evolve").await;
            let mut local = Counts::default();
            let outcome = run_case(&db, &case, &mut local).await;
            if outcome.is_ok() {
                {
                    let mut total = counts.lock().expect("counts");
                    total.steps_applied += local.steps_applied;
                    total.rollbacks += local.rollbacks;
                }
                db.drop_db().await;
            }
            outcome
        })
    });
    let counts = counts.into_inner().expect("counts");
    evolutions::report("postgres", cases, &counts);
    if let Err(error) = result {
        panic!("{error}");
    }
}

/// Shrunk from a failure of the suite: a column's type changed (a shadow-column swap, the
/// table's size being unknown) in the same plan that drops its index; the swap re-created
/// the dropped index, so the plan did not converge.
#[test]
fn regression_a_type_swap_keeps_a_dropped_index_dropped() {
    use crate::common::evolutions::{Col, Version};
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    if !runtime.block_on(server_available()) {
        return;
    }
    let col = |variant, indexed| Col {
        variant,
        default: Some(7),
        indexed,
        unique: false,
        checked: false,
        references: false,
    };
    let case = crate::common::evolutions::Case {
        nullable: vec![false; 5],
        versions: vec![
            Version { cols: vec![Some(col(0, true)), None, None, None, None] },
            Version { cols: vec![Some(col(1, false)), None, None, None, None] },
        ],
    };
    runtime.block_on(async {
        let db = TestDb::new("evolve_regression").await;
        let mut counts = Counts::default();
        run_case(&db, &case, &mut counts).await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(counts.rollbacks, 1);
        db.drop_db().await;
    });
}
