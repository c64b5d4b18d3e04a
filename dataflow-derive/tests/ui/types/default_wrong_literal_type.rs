use dataflow_derive::Model;

#[derive(Model)]
struct User {
    #[dataflow(primary_key)]
    id: i64,
    #[dataflow(default = "yes")]
    verified: bool,
    #[dataflow(default = 1.5)]
    logins: i32,
}

fn main() {}
