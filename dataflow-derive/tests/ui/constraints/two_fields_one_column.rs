use dataflow_derive::Model;

#[derive(Model)]
struct User {
    #[dataflow(primary_key)]
    id: i64,
    email: String,
    #[dataflow(column = "email")]
    contact: String,
}

fn main() {}
