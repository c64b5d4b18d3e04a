use dataflow_derive::Model;

#[derive(Model)]
struct User {
    #[dataflow(primary_key, nullable)]
    id: i64,
}

fn main() {}
