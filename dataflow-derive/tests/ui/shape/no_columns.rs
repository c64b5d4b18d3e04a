use dataflow_derive::Model;

// `CREATE TABLE "settings" ()` is a syntax error on SQLite and MySQL: refused here.
#[derive(Model)]
struct Settings {
    #[dataflow(skip)]
    cache: Vec<u8>,
}

#[derive(Model)]
struct Nothing {}

fn main() {}
