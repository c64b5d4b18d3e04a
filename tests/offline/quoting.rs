//! Identifiers that need quoting and values that try to break out of their literal
//! render safely: every identifier double-quoted, every value escaped.

use super::support::{evolve, plan, schema};
use dataflow::{model, Model};
use insta::assert_snapshot;

#[derive(Model)]
#[dataflow(table = "user", index(columns("select", "Mixed Case")))]
struct ReservedUser {
    #[dataflow(primary_key, auto)]
    id: i64,
    #[dataflow(column = "select")]
    select: String,
    #[dataflow(column = "Mixed Case")]
    mixed: String,
    #[dataflow(column = "naïve_表_🦀")]
    unicode: Option<String>,
    #[dataflow(column = "we\"ird")]
    weird: Option<i32>,
}

#[derive(Model)]
#[dataflow(table = "order")]
struct Order {
    #[dataflow(primary_key, auto)]
    id: i64,
    #[dataflow(references = "user.id", on_delete = "cascade")]
    user: i64,
    #[dataflow(default = "'; DROP TABLE x; --")]
    note: String,
    #[dataflow(default = "it's O'Reilly \\ back\\slash")]
    publisher: String,
    #[dataflow(default = "$$ dollar $$ /* comment */ -- dash")]
    remark: String,
}

#[test]
fn reserved_words_spaces_quotes_unicode_and_hostile_defaults() {
    assert_snapshot!(evolve(&[], &[model::<ReservedUser>(), model::<Order>()]));
}

#[test]
fn renaming_into_reserved_and_quoted_names() {
    #[derive(Model)]
    #[dataflow(table = "My Table")]
    struct V1 {
        #[dataflow(primary_key, auto)]
        id: i64,
        plain: String,
    }
    #[derive(Model)]
    #[dataflow(table = "from", renamed_from = "My Table")]
    struct V2 {
        #[dataflow(primary_key, auto)]
        id: i64,
        #[dataflow(column = "x\"; DROP TABLE y; --", renamed_from = "plain")]
        plain: String,
    }
    assert_snapshot!(evolve(&[model::<V1>()], &[model::<V2>()]));
}

#[test]
fn statements_never_contain_an_unquoted_hostile_value() {
    let text = plan(&Default::default(), &schema(&[model::<ReservedUser>(), model::<Order>()]))
        .to_string();
    assert!(text.contains("DEFAULT '''; DROP TABLE x; --'"), "{text}");
    assert!(text.contains(r#"E'it''s O''Reilly \\ back\\slash'"#), "{text}");
    assert!(text.contains(r#""we""ird""#), "{text}");
}

/// Two implicit names that PostgreSQL's 63-byte truncation makes equal are an error that
/// says to name one explicitly — never two objects silently sharing a name.
#[test]
fn implicit_names_truncated_into_one_are_an_error() {
    #[derive(Model)]
    #[dataflow(table = "a_very_long_table_name_that_uses_most_of_the_limit_of_63_b")]
    struct Long {
        #[dataflow(primary_key)]
        id: i64,
        #[dataflow(index)]
        column_number_with_a_long_name_one: i32,
        #[dataflow(index)]
        column_number_with_a_long_name_two: i32,
    }
    let desired = dataflow::schema_of(&[dataflow::model::<Long>()]).expect("models");
    let error = dataflow::plan_offline(
        &dataflow::Schema::default(),
        &desired,
        dataflow::Dialect::Postgres,
        &dataflow::PlanOptions::default(),
    )
    .expect_err("a collision");
    let message = error.to_string();
    assert!(message.contains("explicitly"), "{message}");
}
