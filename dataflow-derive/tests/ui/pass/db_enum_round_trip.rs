use dataflow::DbEnum as _;
use dataflow_derive::DbEnum;

#[derive(Debug, PartialEq, DbEnum)]
#[dataflow(name = "ticket_state", rename_all = "SCREAMING_SNAKE_CASE")]
enum TicketState {
    Open,
    InProgress,
}

fn main() {
    assert_eq!(TicketState::InProgress.as_db_str(), "IN_PROGRESS");
    assert_eq!(TicketState::from_db_str("OPEN"), Some(TicketState::Open));
    assert_eq!(TicketState::from_db_str("open"), None);
    assert_eq!(TicketState::enum_type().values, ["OPEN", "IN_PROGRESS"]);
}
