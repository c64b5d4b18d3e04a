//! Suite 4 of the reliability issue on PostgreSQL (see `tests/common/evolutions.rs`): a
//! fresh database per case.

use super::support::{server_available, TestDb};
use crate::common::evolutions::{self, case, run_case, Case, Col, Counts, Db, FreshDb, Version};
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
    evolutions::run_suite::<TestDb>(&runtime, "postgres", 32, case());
}

/// Runs a fixed case (a shrunk failure of the suite) and requires every step to pass.
fn regression(label: &str, case: Case) {
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    if !runtime.block_on(server_available()) {
        return;
    }
    runtime.block_on(async {
        let db = TestDb::new(label).await;
        let mut counts = Counts::default();
        run_case(&db, &case, &mut counts).await.unwrap_or_else(|e| panic!("{e}"));
        assert!(counts.rollbacks >= 1);
        db.drop_db().await;
    });
}

fn col(variant: u8, indexed: bool, unique: bool, checked: bool) -> Col {
    Col {
        default: if unique { None } else { Some(7) },
        indexed,
        unique,
        checked,
        ..Col::plain(variant)
    }
}

fn version(cols: [Option<Col>; 5], names: [u8; 5], table: u8) -> Version {
    Version::new(cols.to_vec(), names.to_vec(), table)
}

/// A column's type changed (a shadow-column swap, the table's size being unknown) in the
/// same plan that drops its index: the swap re-created the dropped index.
#[test]
fn regression_a_type_swap_keeps_a_dropped_index_dropped() {
    let case = Case::new(
        vec![false; 5],
        vec![
            version([Some(col(0, true, false, false)), None, None, None, None], [0; 5], 0),
            version([Some(col(1, false, false, false)), None, None, None, None], [0; 5], 0),
        ],
    );
    regression("evolve_swap_index", case);
}

/// A column renamed and re-typed (a swap) with a check on it: the swap did not see the
/// check under the column's new name and dropped it with the old column.
#[test]
fn regression_a_type_swap_after_a_rename_keeps_the_check() {
    let case = Case::new(
        vec![false; 5],
        vec![
            version([None, None, Some(col(0, false, false, true)), None, None], [0, 0, 1, 0, 0], 0),
            version([None, None, Some(col(1, false, false, true)), None, None], [0; 5], 0),
            version([None, None, None, None, None], [0; 5], 0),
        ],
    );
    regression("evolve_swap_check", case);
}

/// A column renamed while its unique index is dropped and the table renamed: the
/// rollback re-creates the index under the names the table has at that moment.
#[test]
fn regression_a_dropped_index_on_a_renamed_column_rolls_back() {
    let mut nullable = vec![false; 5];
    nullable[4] = true;
    let case = Case::new(
        nullable,
        vec![
            version([None, None, None, None, None], [0; 5], 0),
            version([None, None, None, None, Some(col(0, false, true, false))], [0, 0, 0, 0, 1], 0),
            version([None, None, None, None, Some(col(0, false, false, false))], [0; 5], 1),
        ],
    );
    regression("evolve_rename_index", case);
}

/// A column dropped in the plan that moves the primary key from `(id, seq)` to `seq`:
/// the backup was skipped because the key changed, and the rollback re-created the
/// column with its default instead of its values.
#[test]
fn regression_a_column_dropped_while_the_key_changes_rolls_back_with_its_values() {
    let with_key = |cols: [Option<Col>; 5], key| Version { key, ..version(cols, [0; 5], 0) };
    let case = Case::new(
        vec![false; 5],
        vec![
            with_key([Some(col(1, false, false, false)), None, None, None, None], 2),
            with_key([None, None, None, None, None], 1),
            with_key([None, None, None, None, None], 0),
        ],
    );
    regression("evolve_key_backup", case);
}

/// An enum column dropped (its values kept in a backup table of the enum type), then the
/// enum's values reordered: re-creating the type failed because the backup table still
/// used the old one.
#[test]
fn regression_an_enum_recreated_while_a_backup_table_uses_it() {
    let mood = |present: bool, mood| {
        let mut v = Version::new(Vec::new(), Vec::new(), 0);
        v.cols[5] = present.then(|| Col::plain(0));
        Version { mood, ..v }
    };
    let case = Case::new(vec![false; 6], vec![mood(true, 0), mood(false, 3), mood(false, 1)]);
    regression("evolve_enum_backup", case);
}

/// A stored generated column dropped: the kept-data backup copied its values and the
/// rollback tried to write them back (`column "g" can only be updated to DEFAULT`); its
/// values come back with its expression.
#[test]
fn regression_a_dropped_generated_column_rolls_back() {
    let generated = |n| Version { generated: n, ..Version::new(Vec::new(), Vec::new(), 0) };
    let case =
        Case::new(vec![false; 5], vec![generated(Some(2)), generated(None), generated(Some(3))]);
    regression("evolve_generated", case);
}
