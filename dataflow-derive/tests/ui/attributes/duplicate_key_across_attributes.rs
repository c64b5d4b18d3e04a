use dataflow_derive::Model;

#[derive(Model)]
#[dataflow(table = "users")]
#[dataflow(table = "people")]
struct User {
    #[dataflow(primary_key)]
    id: i64,
}

fn main() {}
