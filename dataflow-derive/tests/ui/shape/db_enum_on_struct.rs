use dataflow_derive::DbEnum;

#[derive(DbEnum)]
struct Status {
    active: bool,
}

fn main() {}
