//! Two applications with their own models on one database (issue 28.7), the same on every
//! database: each one's tables are never the other's orphans — reported as not named, and
//! not dropped with `drop_orphans`.

use dataflow::{DataFlow, MigrateOptions, Mode, Model, RiskLevel};

#[derive(Model)]
#[dataflow(table = "users")]
struct User {
    #[dataflow(primary_key, auto)]
    id: i64,
    email: String,
}

#[derive(Model)]
#[dataflow(table = "invoices")]
struct Invoice {
    #[dataflow(primary_key, auto)]
    id: i64,
    total: i64,
}

/// Creates `users` through `first` and `invoices` through `second` (two flows on one empty
/// database), then checks neither sees the other's table as an orphan. The caller then
/// checks both tables are still there.
pub async fn never_orphan_each_other(first: DataFlow, second: DataFlow) {
    let unattended = || MigrateOptions::default().with_mode(Mode::AutoConfirm);
    let users = first.model::<User>();
    let invoices = second.model::<Invoice>();
    users.auto_migrate(unattended()).await.expect("users");
    invoices.auto_migrate(unattended()).await.expect("invoices");
    let drop = unattended().with_drop_orphans(true).with_max_risk(RiskLevel::High);
    for (app, other) in [(&users, "invoices"), (&invoices, "users")] {
        let plan = app.plan().await.expect("plan");
        assert!(plan.is_empty(), "{plan}");
        let expected = format!("table {other} is not named by any model");
        assert!(plan.warnings.iter().any(|w| w.starts_with(&expected)), "{:?}", plan.warnings);
        assert!(!plan.warnings.iter().any(|w| w.contains("orphaned")), "{:?}", plan.warnings);
        let report = app.auto_migrate(drop.clone()).await.expect("nothing to drop");
        assert!(report.plan.is_empty() && !report.applied, "{}", report.plan);
    }
}
