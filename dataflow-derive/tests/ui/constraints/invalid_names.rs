use dataflow_derive::Model;

#[derive(Model)]
#[dataflow(table = "")]
struct Empty {
    #[dataflow(primary_key)]
    id: i64,
}

#[derive(Model)]
#[dataflow(table = "a_table_name_that_is_far_too_long_for_postgresql_which_keeps_63_bytes")]
struct TooLong {
    #[dataflow(primary_key)]
    id: i64,
    #[dataflow(column = "_dataflow_shadow")]
    shadow: i32,
}

fn main() {}
