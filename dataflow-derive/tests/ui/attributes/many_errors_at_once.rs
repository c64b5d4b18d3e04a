use dataflow_derive::Model;

// Every mistake is reported in one compile, not one per attempt.
#[derive(Model)]
#[dataflow(tabel = "users")]
struct User {
    #[dataflow(primary_key, auto)]
    id: String,
    #[dataflow(max_length = 10)]
    age: i32,
    #[dataflow(colour = "red")]
    name: String,
}

fn main() {}
