use dataflow_derive::DbEnum;

// Checked in the derive for every database, not only at plan time on PostgreSQL.
#[derive(DbEnum)]
#[dataflow(name = "_dataflow_state")]
enum State {
    #[dataflow(rename = "")]
    Empty,
    #[dataflow(rename = "a_label_that_is_far_too_long_for_postgresql_which_keeps_63_bytes_of_it")]
    Long,
    Fine,
}

fn main() {}
