use dataflow_derive::Model;

#[derive(Model)]
struct User {
    #[dataflow(primary_key)]
    id: i64,
    #[dataflow(skip, renamed_from = "cache_blob")]
    cache: Vec<u8>,
}

fn main() {}
