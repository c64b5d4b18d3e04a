use dataflow_derive::Model;

#[derive(Model)]
#[dataflow(index(columns()))]
struct User {
    #[dataflow(primary_key)]
    id: i64,
}

fn main() {}
