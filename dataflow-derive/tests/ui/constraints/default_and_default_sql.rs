use dataflow_derive::Model;

#[derive(Model)]
struct User {
    #[dataflow(primary_key)]
    id: i64,
    #[dataflow(default = "x", default_sql = "'x'")]
    name: String,
}

fn main() {}
