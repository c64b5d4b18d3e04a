use dataflow::Model as _;
use dataflow_derive::Model;

#[derive(Model)]
#[dataflow(table = "order")]
struct Order {
    #[dataflow(primary_key, auto)]
    id: i32,
    r#type: String,
    #[dataflow(column = "select")]
    chosen: Option<bool>,
}

fn main() {
    let table = Order::table();
    let names: Vec<_> = table.columns.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["id", "type", "select"]);
}
