use dataflow_derive::Model;

#[derive(Model)]
struct UserId(i64);

fn main() {}
