//! The preview people read before applying (DESIGN.md "Preview"): one plan holding every
//! risk level, rendered at a fixed width, with and without SQL, rollback plan and colour.

use super::support::{plan, schema, with_rows};
use dataflow::schema::dialect::postgres::keep::keep_data;
use dataflow::{model, Model, Plan, PreviewOptions, RiskLevel};
use insta::assert_snapshot;

#[derive(Model)]
#[dataflow(table = "users")]
struct UserV1 {
    #[dataflow(primary_key, auto)]
    id: i64,
    email: String,
    fax: Option<String>,
}

#[derive(Model)]
#[dataflow(table = "orders")]
struct OrderV1 {
    #[dataflow(primary_key, auto)]
    id: i64,
    total: i32,
}

#[derive(Model)]
#[dataflow(table = "legacy_notes")]
struct LegacyNote {
    #[dataflow(primary_key, auto)]
    id: i64,
    body: String,
}

#[derive(Model)]
#[dataflow(table = "events")]
struct Event {
    #[dataflow(primary_key, auto)]
    id: i64,
}

#[derive(Model)]
#[dataflow(table = "events")]
struct EventV2 {
    #[dataflow(primary_key, auto)]
    id: i64,
    kind: Option<String>,
}

#[derive(Model)]
#[dataflow(table = "audit_log")]
struct AuditLogV1 {
    #[dataflow(primary_key, auto)]
    id: i64,
    message: String,
}

/// v2: a nullable column (SAFE), an index built concurrently on 2.4M rows (SAFE), a type
/// change rewriting 60k rows (MEDIUM), a dropped column and a dropped table (HIGH), an
/// index on a tiny table (shown SAFE, MEDIUM when large) and a column on a table without
/// statistics (size unknown).
#[derive(Model)]
#[dataflow(table = "users")]
struct UserV2 {
    #[dataflow(primary_key, auto)]
    id: i64,
    #[dataflow(index)]
    email: String,
    phone: Option<String>,
}

#[derive(Model)]
#[dataflow(table = "orders")]
struct OrderV2 {
    #[dataflow(primary_key, auto)]
    id: i64,
    total: i64,
}

#[derive(Model)]
#[dataflow(table = "audit_log", index(columns("message")))]
struct AuditLogV2 {
    #[dataflow(primary_key, auto)]
    id: i64,
    message: String,
    #[dataflow(default = 0)]
    level: i32,
}

fn every_level() -> Plan {
    let current = schema(&[
        model::<UserV1>(),
        model::<OrderV1>(),
        model::<LegacyNote>(),
        model::<AuditLogV1>(),
        model::<Event>(),
    ]);
    let current = with_rows(current, "users", 2_400_000);
    let current = with_rows(current, "orders", 60_000);
    let current = with_rows(current, "audit_log", 40);
    let current = with_rows(current, "legacy_notes", 5_000);
    let desired =
        schema(&[model::<UserV2>(), model::<OrderV2>(), model::<AuditLogV2>(), model::<EventV2>()]);
    plan(&current, &desired)
}

#[test]
fn plan_holds_every_level() {
    let plan = every_level();
    for level in [RiskLevel::Safe, RiskLevel::Medium, RiskLevel::High] {
        assert!(plan.steps.iter().any(|s| s.shown_level == level), "no {level} step:\n{plan}");
    }
}

#[test]
fn preview_with_sql_and_rollback() {
    assert_snapshot!(every_level().preview(PreviewOptions::default().with_width(100)));
}

#[test]
fn preview_without_sql_or_rollback_plan_narrow() {
    let options = PreviewOptions::default()
        .with_show_sql(false)
        .with_show_rollback_plan(false)
        .with_width(80)
        .with_color(false);
    let text = every_level().preview(options).to_string();
    assert!(!text.contains("ALTER TABLE"), "SQL shown although show_sql is off:\n{text}");
    assert!(!text.contains("Rollback plan"), "rollback shown although off:\n{text}");
    assert!(text.lines().all(|line| line.chars().count() <= 80), "wider than 80:\n{text}");
    assert_snapshot!(text);
}

#[test]
fn preview_of_kept_drops_says_the_data_is_kept() {
    let mut plan = every_level();
    keep_data(&mut plan, "20261123000000_0123abcd");
    let summary = plan.safety();
    assert!(summary.data_loss.is_empty(), "kept drops reported as loss: {summary:?}");
    assert_eq!(summary.data_kept.len(), 2, "{summary:?}");
    assert_snapshot!(serde_json::to_string_pretty(&summary).unwrap_or_default());
}

#[test]
fn colour_only_when_asked() {
    let plain = every_level().preview(PreviewOptions::default()).to_string();
    assert!(!plain.contains('\x1b'), "escape codes without colour");
    let coloured = every_level().preview(PreviewOptions::default().with_color(true)).to_string();
    assert!(coloured.contains("\x1b[1;31m2 HIGH\x1b[0m"), "HIGH not red:\n{coloured}");
}

#[test]
fn empty_plan_says_no_changes() {
    let models = schema(&[model::<UserV1>()]);
    assert_eq!(
        plan(&models, &models).preview(PreviewOptions::default()).to_string(),
        "No changes.\n"
    );
}

#[derive(Model)]
#[dataflow(table = "customer_subscription_invoices")]
struct InvoiceV1 {
    #[dataflow(primary_key, auto)]
    id: i64,
}

#[derive(Model)]
#[dataflow(table = "customer_subscription_invoices")]
struct InvoiceV2 {
    #[dataflow(primary_key, auto)]
    id: i64,
    #[dataflow(index)]
    billing_address_second_line_override: Option<String>,
}

/// A narrow terminal wraps the table between words: a table, column or index name is
/// never cut in two (it used to read `customer_subscripti` / `on_invoices`).
#[test]
fn a_narrow_preview_never_splits_an_identifier() {
    let current = with_rows(schema(&[model::<InvoiceV1>()]), "customer_subscription_invoices", 90);
    let plan = plan(&current, &schema(&[model::<InvoiceV2>()]));
    for width in [40, 60, 80] {
        let options = PreviewOptions::default()
            .with_show_sql(false)
            .with_show_rollback_plan(false)
            .with_width(width)
            .with_color(false);
        let text = plan.preview(options).to_string();
        for name in [
            "customer_subscription_invoices",
            "billing_address_second_line_override",
            // Shortened to PostgreSQL's 63 bytes, still one word.
            "customer_subscription_invoice_billing_address_second_line_o_idx",
        ] {
            assert!(text.contains(name), "{name} is split at width {width}:\n{text}");
        }
    }
}
