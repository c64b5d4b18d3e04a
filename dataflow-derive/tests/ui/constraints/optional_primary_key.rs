use dataflow_derive::Model;

#[derive(Model)]
struct User {
    #[dataflow(primary_key)]
    id: Option<i64>,
}

fn main() {}
