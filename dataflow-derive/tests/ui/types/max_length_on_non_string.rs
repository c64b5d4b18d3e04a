use dataflow_derive::Model;

#[derive(Model)]
struct User {
    #[dataflow(primary_key)]
    id: i64,
    #[dataflow(max_length = 3)]
    age: i32,
}

fn main() {}
