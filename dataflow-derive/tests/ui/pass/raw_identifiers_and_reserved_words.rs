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

// A raw struct name is a table name without its `r#`, as a raw field name is a column.
#[allow(non_camel_case_types)]
#[derive(Model)]
struct r#loop {
    #[dataflow(primary_key)]
    id: i32,
}

#[allow(non_camel_case_types)]
#[derive(dataflow_derive::DbEnum)]
enum r#match {
    r#Type,
    Other,
}

fn main() {
    let table = Order::table();
    let names: Vec<_> = table.columns.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["id", "type", "select"]);
    assert_eq!(r#loop::table().name.name, "loop");
    let labels = <r#match as dataflow::DbEnum>::enum_type();
    assert_eq!(labels.name.name, "match");
    assert_eq!(labels.values, ["type", "other"]);
}
