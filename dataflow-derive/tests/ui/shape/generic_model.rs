use dataflow_derive::Model;

#[derive(Model)]
struct Wrapper<T> {
    #[dataflow(primary_key)]
    id: i64,
    value: T,
}

fn main() {}
