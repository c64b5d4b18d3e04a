use dataflow::Model as _;
use dataflow_derive::Model;

#[derive(Model)]
struct Note {
    body: String,
}

fn main() {
    assert!(Note::table().primary_key.is_none());
}
