use dataflow_derive::Model;

#[derive(Model)]
struct Order {
    #[dataflow(primary_key)]
    id: i64,
    #[dataflow(on_delete = "cascade")]
    user_id: i64,
}

fn main() {}
