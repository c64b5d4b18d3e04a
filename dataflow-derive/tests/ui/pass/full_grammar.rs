//! Every key of the attribute grammar in one model (DESIGN.md "The derive").
use dataflow::Model as _;
use dataflow_derive::{DbEnum, Model};

#[derive(DbEnum)]
enum Status {
    Active,
    #[dataflow(rename = "on-hold")]
    OnHold,
}

#[derive(Model)]
#[dataflow(table = "orgs")]
struct Org {
    #[dataflow(primary_key, auto)]
    id: i64,
    name: String,
}

#[derive(Model)]
#[dataflow(table = "users", schema = "app", renamed_from = "accounts", comment = "people",
           index(columns("org_id", "created_at")),
           index(columns("price"), predicate = "price > 0", name = "users_paid_idx"),
           index(columns("specs"), method = "gin"),
           unique(columns("org_id", "slug")),
           check = "price >= 0 OR is_free")]
struct User {
    #[dataflow(primary_key, auto)]
    id: i64,
    #[dataflow(unique, max_length = 255)]
    email: String,
    name: String,
    phone: Option<String>,
    #[dataflow(column = "active")]
    is_active: bool,
    #[dataflow(default = true)]
    verified: bool,
    #[dataflow(default_sql = "now()", sql_type = "timestamptz")]
    created_at: String,
    #[dataflow(backfill = "lower(email)")]
    email_lower: String,
    #[dataflow(backfill_case(when("age >= 18", "'adult'"), else = "'minor'"))]
    band: String,
    age: i32,
    #[dataflow(backfill_sequence(start = 1000, step = 1))]
    ticket: i64,
    #[dataflow(references = "public.orgs.id", on_delete = "cascade", on_update = "no action", index,
               backfill_fk(table = "public.orgs", where = "name = 'default'"))]
    org_id: i64,
    #[dataflow(references = "public.orgs.id", on_delete = "set null", backfill_fk(value = 1))]
    billing_org_id: Option<i64>,
    #[dataflow(sql_type = "numeric(10,2)", check = "price < 1000000")]
    price: f64,
    is_free: bool,
    slug: String,
    #[dataflow(sql_type = "jsonb")]
    specs: String,
    #[dataflow(renamed_from = "fullname", comment = "shown in the UI")]
    display_name: String,
    status: Status,
    #[dataflow(default = -1)]
    rank: i32,
    #[dataflow(skip)]
    cache: Vec<u8>,
}

fn main() {
    let table = User::table();
    assert_eq!(table.name.to_string(), "app.users");
    assert_eq!(table.column("active").map(|c| c.nullable), Some(false));
    assert!(table.column("cache").is_none());
    assert_eq!(table.indexes.len(), 4);
    assert_eq!(User::enums().len(), 1);
    let _ = Org::table();
}
