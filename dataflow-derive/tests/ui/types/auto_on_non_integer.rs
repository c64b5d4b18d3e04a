use dataflow_derive::Model;

#[derive(Model)]
struct User {
    #[dataflow(primary_key, auto)]
    id: String,
}

fn main() {}
