use dataflow_derive::Model;

struct Money {
    cents: i64,
}

#[derive(Model)]
struct Invoice {
    #[dataflow(primary_key)]
    id: i64,
    total: Money,
}

fn main() {}
