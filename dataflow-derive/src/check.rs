//! Cross-field rules of `#[derive(Model)]`, one small function each. Every rule records
//! its errors in the context and goes on, so all problems show in one compile.

use crate::ast::{Container, Field};
use crate::attr::DefaultLit;
use crate::ctxt::Ctxt;
use std::collections::BTreeMap;

const INTEGER_TYPES: &[&str] = &["i16", "i32", "i64"];
const FLOAT_TYPES: &[&str] = &["f32", "f64"];

pub fn check(cx: &Ctxt, cont: &Container) {
    check_skip_is_alone(cx, cont);
    check_one_primary_key(cx, cont);
    check_primary_key_not_nullable(cx, cont);
    check_auto_is_integer(cx, cont);
    check_max_length_is_text(cx, cont);
    check_default_matches_type(cx, cont);
    check_one_default(cx, cont);
    check_references(cx, cont);
    check_unique_column_names(cx, cont);
    check_struct_level_columns(cx, cont);
    check_names(cx, cont);
    check_has_columns(cx, cont);
}

/// A table needs a column: `CREATE TABLE x ()` is refused by SQLite and MySQL, and a
/// table of nothing is a mistake everywhere.
fn check_has_columns(cx: &Ctxt, cont: &Container) {
    if cont.columns().next().is_none() {
        cx.error_spanned_by(
            cont.ident,
            format!(
                "`{}` has no columns (no fields, or every field is `skip`): a table needs at \
                 least one column",
                cont.ident
            ),
        );
    }
}

/// The longest name PostgreSQL keeps (it would silently truncate a longer one).
const MAX_NAME_BYTES: usize = 63;
/// Names the engine keeps for its own tables and columns.
const RESERVED_PREFIX: &str = "_dataflow_";

/// Why `name` cannot name a table or column, if it cannot.
fn name_problem(name: &str) -> Option<String> {
    // Empty `table`/`column` values are refused where the attribute is read.
    if name.contains('\0') {
        Some("names cannot contain a NUL byte".into())
    } else if name.len() > MAX_NAME_BYTES {
        Some(format!(
            "`{name}` is {} bytes long; PostgreSQL keeps {MAX_NAME_BYTES} and would silently truncate it: choose a shorter name",
            name.len()
        ))
    } else if name.starts_with(RESERVED_PREFIX) {
        Some(format!("names starting with `{RESERVED_PREFIX}` are reserved for dataflow's own tables and columns"))
    } else {
        None
    }
}

/// Table and column names the servers would reject or silently alter are compile errors
/// (the planner refuses them too, for schemas built at run time).
fn check_names(cx: &Ctxt, cont: &Container) {
    if let Some(problem) = name_problem(&cont.table_name()) {
        match &cont.attrs.table.value {
            Some(lit) => cx.error_spanned_by(lit, format!("table name: {problem}")),
            None => cx.error_spanned_by(
                cont.ident,
                format!("table name: {problem} (set `table = \"…\"`)"),
            ),
        }
    }
    for field in cont.columns() {
        if let Some(problem) = name_problem(&field.column_name()) {
            match &field.attrs.column.value {
                Some(lit) => cx.error_spanned_by(lit, format!("column name: {problem}")),
                None => cx.error_spanned_by(
                    field.ident,
                    format!("column name: {problem} (set `column = \"…\"`)"),
                ),
            }
        }
    }
}

/// A skipped field is not a column: any other key on it means a mistake.
fn check_skip_is_alone(cx: &Ctxt, cont: &Container) {
    for field in cont.fields.iter().filter(|f| f.attrs.skip.is_set()) {
        for (key, tokens) in field.attrs.keys_besides_skip() {
            let hint = if key == "renamed_from" {
                " (a skipped field has no column to rename)"
            } else {
                ""
            };
            cx.error_spanned_by(tokens, format!("`{key}` cannot be combined with `skip`{hint}"));
        }
    }
}

/// One primary key: a field-level `primary_key` on one field, or a struct-level
/// `primary_key(columns(…))` for a composite key.
fn check_one_primary_key(cx: &Ctxt, cont: &Container) {
    let mut keys = cont.columns().filter(|f| f.attrs.primary_key.is_set());
    if let Some(first) = keys.next() {
        for extra in keys {
            cx.error_spanned_by(
                &extra.attrs.primary_key.tokens,
                format!(
                    "a second primary key (`{}` is already one); for a composite key use \
                     #[dataflow(primary_key(columns(\"{}\", \"{}\")))] on the struct",
                    first.column_name(),
                    first.column_name(),
                    extra.column_name()
                ),
            );
        }
        if cont.attrs.primary_key.is_set() {
            cx.error_spanned_by(
                &cont.attrs.primary_key.tokens,
                format!(
                    "the struct-level primary key conflicts with `primary_key` on field `{}`",
                    first.ident
                ),
            );
        }
    }
    for field in cont.columns().filter(|f| f.attrs.primary_key.is_set() && f.attrs.unique.is_set())
    {
        cx.error_spanned_by(&field.attrs.unique.tokens, "`unique` is redundant on a primary key");
    }
}

fn check_primary_key_not_nullable(cx: &Ctxt, cont: &Container) {
    for field in cont.columns().filter(|f| f.attrs.primary_key.is_set() && f.is_option()) {
        cx.error_spanned_by(
            field.ty,
            format!(
                "primary key `{}` cannot be an Option: primary key columns are NOT NULL",
                field.ident
            ),
        );
    }
}

fn check_auto_is_integer(cx: &Ctxt, cont: &Container) {
    for field in cont.columns().filter(|f| f.attrs.auto.is_set()) {
        let integer = field.value_type_name().is_some_and(|n| INTEGER_TYPES.contains(&n.as_str()));
        if !integer || field.is_option() {
            cx.error_spanned_by(
                &field.attrs.auto.tokens,
                format!(
                    "`auto` needs an integer field (i16, i32 or i64), but `{}` is `{}`",
                    field.ident,
                    quote::ToTokens::to_token_stream(field.ty).to_string().replace(' ', "")
                ),
            );
        }
    }
}

fn is_string(field: &Field) -> bool {
    field.value_type_name().is_some_and(|n| n == "String")
}

fn check_max_length_is_text(cx: &Ctxt, cont: &Container) {
    for field in cont.columns().filter(|f| f.attrs.max_length.is_set()) {
        if field.attrs.sql_type.is_set() {
            cx.error_spanned_by(
                &field.attrs.max_length.tokens,
                "`max_length` conflicts with `sql_type`: write the length in the type, e.g. sql_type = \"varchar(255)\"",
            );
        } else if !is_string(field) {
            cx.error_spanned_by(
                &field.attrs.max_length.tokens,
                format!(
                    "`max_length` applies to String fields only; `{}` is not a String",
                    field.ident
                ),
            );
        }
    }
}

/// A literal default must fit the field's Rust type where the macro can tell.
fn check_default_matches_type(cx: &Ctxt, cont: &Container) {
    for field in cont.columns() {
        let Some(default) = &field.attrs.default.value else {
            continue;
        };
        let Some(type_name) = field.value_type_name() else {
            continue;
        };
        let expected = match type_name.as_str() {
            "bool" => Some("a bool"),
            "String" => Some("a string"),
            name if INTEGER_TYPES.contains(&name) => Some("an integer"),
            name if FLOAT_TYPES.contains(&name) => Some("a number"),
            _ => None,
        };
        let fits = matches!(
            (expected, default),
            (None, _)
                | (Some("a bool"), DefaultLit::Bool(_))
                | (Some("a string"), DefaultLit::Str(_))
                | (Some("an integer"), DefaultLit::Int(_))
                | (Some("a number"), DefaultLit::Int(_) | DefaultLit::Float(_))
        );
        if !fits && !field.attrs.sql_type.is_set() {
            cx.error_spanned_by(
                &field.attrs.default.tokens,
                format!(
                    "`default` of field `{}` is {}, but the field is `{type_name}` and needs {}",
                    field.ident,
                    default.kind(),
                    expected.unwrap_or("another literal")
                ),
            );
        }
    }
}

fn check_one_default(cx: &Ctxt, cont: &Container) {
    for field in cont.columns() {
        if field.attrs.default.is_set() && field.attrs.default_sql.is_set() {
            cx.error_spanned_by(
                &field.attrs.default_sql.tokens,
                "`default` and `default_sql` both set: keep one (a literal, or an SQL expression)",
            );
        }
        if field.attrs.auto.is_set()
            && (field.attrs.default.is_set() || field.attrs.default_sql.is_set())
        {
            cx.error_spanned_by(
                &field.attrs.auto.tokens,
                "an `auto` column generates its values: remove the default",
            );
        }
    }
}

fn check_references(cx: &Ctxt, cont: &Container) {
    for field in cont.columns() {
        match &field.attrs.references.value {
            Some(target) => {
                let text = target.value();
                let parts: Vec<&str> = text.split('.').collect();
                if !(2..=3).contains(&parts.len()) || parts.iter().any(|p| p.trim().is_empty()) {
                    cx.error_spanned_by(
                        target,
                        format!("references = {text:?} must name a column: \"table.column\" or \"schema.table.column\""),
                    );
                }
            }
            None => {
                for action in [&field.attrs.on_delete, &field.attrs.on_update] {
                    if action.is_set() {
                        cx.error_spanned_by(
                            &action.tokens,
                            "needs `references = \"table.column\"` on the same field",
                        );
                    }
                }
            }
        }
    }
}

fn check_unique_column_names(cx: &Ctxt, cont: &Container) {
    let mut seen: BTreeMap<String, &syn::Ident> = BTreeMap::new();
    for field in cont.columns() {
        let name = field.column_name();
        if let Some(first) = seen.insert(name.clone(), field.ident) {
            cx.error_spanned_by(
                field.ident,
                format!("fields `{first}` and `{}` both map to column `{name}`: rename one with `column = \"…\"`", field.ident),
            );
        }
    }
}

/// Struct-level `index`, `unique` and `primary_key` name existing columns.
fn check_struct_level_columns(cx: &Ctxt, cont: &Container) {
    let known: Vec<String> = cont.columns().map(|f| f.column_name()).collect();
    let mut lists = Vec::new();
    for index in &cont.attrs.indexes {
        lists.push(("index", index.span, &index.columns));
    }
    for unique in &cont.attrs.uniques {
        lists.push(("unique", unique.span, &unique.columns));
    }
    if let Some(pk) = &cont.attrs.primary_key.value {
        lists.push(("primary_key", pk.span, &pk.columns));
    }
    for (kind, span, columns) in lists {
        if columns.is_empty() {
            cx.syn_error(syn::Error::new(
                span,
                format!("{kind}(columns()) is empty: name at least one column"),
            ));
        }
        for column in columns {
            let name = column.value();
            if !known.contains(&name) {
                let field_hint = cont
                    .columns()
                    .find(|f| f.ident == name.as_str())
                    .map(|f| format!(" (field `{name}` is stored as column `{}`)", f.column_name()))
                    .unwrap_or_default();
                cx.error_spanned_by(
                    column,
                    format!("{kind} names column `{name}`, which this model does not have{field_hint}; columns: {}", known.join(", ")),
                );
            }
        }
    }
}
