use dataflow_derive::Model;

#[derive(Model)]
#[dataflow(index(columns("org_id", "created")))]
struct User {
    #[dataflow(primary_key)]
    id: i64,
    org_id: i64,
    #[dataflow(column = "created_at")]
    created: i64,
}

fn main() {}
