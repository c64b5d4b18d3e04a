use dataflow_derive::Model;

#[derive(Model)]
struct User {
    #[dataflow(primary_key)]
    id: i64,
    #[dataflow(default = now())]
    created_at: String,
}

fn main() {}
