use dataflow::Model as _;
use dataflow_derive::Model;

#[derive(Model)]
#[dataflow(primary_key(columns("user_id", "group_id")))]
struct Membership {
    user_id: i64,
    group_id: i64,
    #[dataflow(default = "member")]
    role: String,
}

fn main() {
    let table = Membership::table();
    assert_eq!(table.name.name, "membership");
    assert_eq!(table.primary_key_columns(), ["user_id", "group_id"]);
    assert_eq!(table.primary_key.map(|k| k.name).as_deref(), Some("membership_pkey"));
}
