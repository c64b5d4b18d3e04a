use dataflow_derive::DbEnum;

#[derive(DbEnum)]
enum Status {
    Active,
    Banned { reason: String },
}

fn main() {}
