use dataflow_derive::Model;

#[derive(Model)]
struct Membership {
    #[dataflow(primary_key)]
    user_id: i64,
    #[dataflow(primary_key)]
    group_id: i64,
}

fn main() {}
