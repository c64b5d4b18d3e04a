//! Suite 4 of the reliability issue on SQLite (see `tests/common/evolutions.rs`): a
//! fresh file per case.

use super::support::TestFile;
use crate::common::evolutions::{self, case, run_case, Counts, Db};
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

#[test]
fn random_evolutions_apply_converge_and_roll_back_with_their_rows() {
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    let mut runner = evolutions::runner();
    let cases = runner.config().cases;
    let counts = std::sync::Mutex::new(Counts::default());
    let result = runner.run(&case(), |case| {
        runtime.block_on(async {
            let file = TestFile::new("evolve").await;
            let mut local = Counts::default();
            let outcome = run_case(&file, &case, &mut local).await;
            if outcome.is_ok() {
                counts.lock().expect("counts").merge(local);
            }
            outcome
        })
    });
    let counts = counts.into_inner().expect("counts");
    evolutions::report("sqlite", cases, &counts);
    if let Err(error) = result {
        panic!("{error}");
    }
}
