use dataflow_derive::Model;

#[derive(Model)]
#[dataflow(tabel = "users")]
struct User {
    #[dataflow(primary_key)]
    id: i64,
}

fn main() {}
