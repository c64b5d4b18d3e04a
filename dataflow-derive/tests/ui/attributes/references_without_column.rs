use dataflow_derive::Model;

#[derive(Model)]
struct Order {
    #[dataflow(primary_key)]
    id: i64,
    #[dataflow(references = "users")]
    user_id: i64,
}

fn main() {}
