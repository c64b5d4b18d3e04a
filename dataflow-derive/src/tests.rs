//! Snapshots of the code the macros generate for typical structs.

use crate::{db_enum, expand};

fn pretty(tokens: proc_macro2::TokenStream) -> String {
    match syn::parse2::<syn::File>(tokens.clone()) {
        Ok(file) => prettyplease::unparse(&file),
        Err(_) => tokens.to_string(),
    }
}

#[test]
fn expands_a_minimal_model() {
    let input = syn::parse_quote! {
        struct Tag {
            #[dataflow(primary_key, auto)]
            id: i64,
            name: String,
            note: Option<String>,
        }
    };
    insta::assert_snapshot!(pretty(expand::derive_model(&input)));
}

#[test]
fn expands_a_model_with_constraints_and_backfills() {
    let input = syn::parse_quote! {
        #[dataflow(table = "users", schema = "app", renamed_from = "accounts",
                   index(columns("org_id", "created_at")),
                   unique(columns("org_id", "email")),
                   check = "length(email) > 3")]
        struct User {
            #[dataflow(primary_key, auto)] id: i64,
            #[dataflow(unique, max_length = 255)] email: String,
            #[dataflow(default = true)] verified: bool,
            #[dataflow(default_sql = "now()", sql_type = "timestamptz")] created_at: String,
            #[dataflow(references = "orgs.id", on_delete = "cascade", index,
                       backfill_fk(table = "orgs", where = "name = 'default'"))] org_id: i64,
            #[dataflow(renamed_from = "fullname", backfill = "'unknown'")] display_name: String,
            #[dataflow(skip)] cache: Vec<u8>,
        }
    };
    insta::assert_snapshot!(pretty(expand::derive_model(&input)));
}

#[test]
fn expands_a_join_table_with_a_composite_key() {
    let input = syn::parse_quote! {
        #[dataflow(table = "memberships", primary_key(columns("user_id", "group_id")),
                   index(columns("group_id"), name = "memberships_by_group"))]
        struct Membership {
            #[dataflow(references = "users.id", on_delete = "cascade")]
            user_id: i64,
            #[dataflow(references = "groups.id", on_delete = "cascade")]
            group_id: i64,
            #[dataflow(default = "member", check = "role IN ('member', 'admin')")]
            role: String,
        }
    };
    insta::assert_snapshot!(pretty(expand::derive_model(&input)));
}

#[test]
fn expands_a_db_enum() {
    let input = syn::parse_quote! {
        #[dataflow(name = "order_status")]
        enum OrderStatus { Pending, InTransit, #[dataflow(rename = "done")] Delivered }
    };
    insta::assert_snapshot!(pretty(db_enum::derive_db_enum(&input)));
}

#[test]
fn errors_expand_to_compile_errors_and_a_stub() {
    let input = syn::parse_quote! {
        struct Broken {
            #[dataflow(primary_key, nope)] id: i64,
        }
    };
    let out = pretty(expand::derive_model(&input));
    assert!(out.contains("compile_error"), "{out}");
    assert!(out.contains("unknown dataflow field attribute `nope`"), "{out}");
    assert!(out.contains("unimplemented"), "{out}");
}

#[test]
fn snake_case_names() {
    use crate::ast::snake_case;
    assert_eq!(snake_case("OrderItem"), "order_item");
    assert_eq!(snake_case("HTTPLog"), "http_log");
    assert_eq!(snake_case("User"), "user");
    assert_eq!(snake_case("V2Thing"), "v2_thing");
}
