use dataflow_derive::Model;

#[derive(Model)]
struct User {
    #[dataflow(primary_key)]
    id: i64,
    #[dataflow(column = "mail", column = "email")]
    email: String,
}

fn main() {}
