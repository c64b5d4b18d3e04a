use dataflow_derive::Model;

#[derive(Model)]
struct User {
    #[dataflow(primary_key)]
    id: i64,
    #[dataflow(backfill = "lower(email)", backfill_sequence(start = 1, step = 1))]
    ticket: i64,
}

fn main() {}
