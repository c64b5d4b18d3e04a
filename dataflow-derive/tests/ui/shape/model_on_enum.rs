use dataflow_derive::Model;

#[derive(Model)]
enum Status {
    Active,
    Banned,
}

fn main() {}
