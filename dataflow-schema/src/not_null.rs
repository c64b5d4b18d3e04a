//! The NOT NULL strategies (seed 000): how the rows a table already holds get a value for a
//! new NOT NULL column, and which strategy suits a column. Pure: the handler that plans,
//! validates and runs them is `dataflow_core::not_null`.

use crate::model::{Backfill, Column, ColumnType, DefaultExpr, Literal, QualifiedName};
use serde::Serialize;

/// How existing rows get their value: seed 000's six strategies. `Static` and `Function`
/// are a column default (they serve new rows too); the other four are a [`Backfill`] —
/// `Backfill::Computed` (an expression over the row), `Backfill::Conditional` (CASE
/// rules), `Backfill::Sequence` (numbers in primary-key order) and
/// `Backfill::ForeignKeyValue` / `Backfill::ForeignKeyLookup` (a fixed or looked-up id) —
/// which fill existing rows only, in keyset batches on a populated table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Strategy {
    /// One constant for every row, and the default of new rows (`default = …`). Instant on
    /// PostgreSQL 11+: the value is stored once in the catalog.
    Static(Literal),
    /// An SQL function, also the default of new rows (`default_sql = "now()"`). A stable one
    /// (`now()`) is instant and gives every row the same value; a volatile one
    /// (`gen_random_uuid()`) gives each row its own, filled in keyset batches.
    Function(String),
    /// A value computed for each existing row (the derive's `backfill*` attributes).
    Backfill(Backfill),
}

/// The six strategies, as [`Strategy::kind`] names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StrategyKind {
    /// [`Strategy::Static`].
    Static,
    /// [`Strategy::Function`].
    Function,
    /// `Backfill::Computed`.
    Computed,
    /// `Backfill::Conditional`.
    Conditional,
    /// `Backfill::Sequence`.
    Sequence,
    /// `Backfill::ForeignKeyValue` or `Backfill::ForeignKeyLookup`.
    ForeignKey,
}

impl Strategy {
    /// Its kind.
    pub fn kind(&self) -> StrategyKind {
        match self {
            Strategy::Static(_) => StrategyKind::Static,
            Strategy::Function(_) => StrategyKind::Function,
            Strategy::Backfill(Backfill::Computed(_)) => StrategyKind::Computed,
            Strategy::Backfill(Backfill::Conditional { .. }) => StrategyKind::Conditional,
            Strategy::Backfill(Backfill::Sequence { .. }) => StrategyKind::Sequence,
            Strategy::Backfill(
                Backfill::ForeignKeyValue(_) | Backfill::ForeignKeyLookup { .. },
            ) => StrategyKind::ForeignKey,
        }
    }

    /// Whether new rows get a value too (a default); otherwise the application must write
    /// the column from the moment the change runs.
    pub fn covers_new_rows(&self) -> bool {
        matches!(self, Strategy::Static(_) | Strategy::Function(_))
    }

    /// `column` as the models would declare it: NOT NULL, with this strategy's `default`
    /// or `backfill`.
    pub fn apply_to(&self, column: &mut Column) {
        column.nullable = false;
        column.default = None;
        column.backfill = None;
        match self.clone() {
            Strategy::Static(value) => column.default = Some(DefaultExpr::Literal(value)),
            Strategy::Function(sql) => column.default = Some(DefaultExpr::Sql(sql)),
            Strategy::Backfill(backfill) => column.backfill = Some(backfill),
        }
    }
}

/// What [`recommend_strategy`] knows about the column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnTraits<'a> {
    /// Its type.
    pub ty: &'a ColumnType,
    /// Whether its values must be distinct.
    pub unique: bool,
    /// The table it references, when it is a foreign key.
    pub references: Option<&'a QualifiedName>,
}

/// The strategy that suits a column, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Recommendation {
    /// The strategy kind.
    pub kind: StrategyKind,
    /// Why.
    pub reason: String,
}

/// Recommends a strategy for a new NOT NULL column of a table with `rows` rows (`None`:
/// unknown), with the reason.
pub fn recommend_strategy(column: &ColumnTraits<'_>, rows: Option<u64>) -> Recommendation {
    let pick = |kind, reason: &str| Recommendation { kind, reason: reason.to_owned() };
    if let Some(target) = column.references {
        return Recommendation {
            kind: StrategyKind::ForeignKey,
            reason: format!(
                "it references {target}: give existing rows an id that exists there, fixed or \
                 looked up (the value is checked against {target} before anything changes)"
            ),
        };
    }
    let integer =
        matches!(column.ty, ColumnType::SmallInt | ColumnType::Integer | ColumnType::BigInt);
    if column.unique && integer {
        return pick(
            StrategyKind::Sequence,
            "unique integers need a distinct value per row: a sequence numbers rows in \
             primary-key order",
        );
    }
    if column.unique && matches!(column.ty, ColumnType::Uuid) {
        return pick(
            StrategyKind::Function,
            "unique UUIDs: gen_random_uuid() gives each row its own, existing rows filled in \
             keyset batches, new rows by the default",
        );
    }
    if column.unique {
        return pick(
            StrategyKind::Computed,
            "unique values must come from the row itself (say, from its key); a constant would \
             break the uniqueness on the second row",
        );
    }
    if matches!(column.ty, ColumnType::Timestamp | ColumnType::TimestampTz | ColumnType::Date) {
        return pick(
            StrategyKind::Function,
            "a point in time: now() is stable, so the change is instant; existing rows get the \
             time of the migration, new rows their own",
        );
    }
    if rows == Some(0) {
        return pick(StrategyKind::Static, "the table is empty: a constant default is instant");
    }
    pick(
        StrategyKind::Static,
        "one constant for every row: instant on PostgreSQL 11+ (stored once in the catalog, no \
         rewrite), and the default of new rows; use Computed or Conditional when the value \
         depends on the row",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn traits(ty: &ColumnType, unique: bool) -> ColumnTraits<'_> {
        ColumnTraits { ty, unique, references: None }
    }

    #[test]
    fn recommendations_follow_the_column() {
        let orgs = QualifiedName::new("orgs");
        let fk = ColumnTraits { references: Some(&orgs), ..traits(&ColumnType::BigInt, false) };
        assert_eq!(recommend_strategy(&fk, Some(10)).kind, StrategyKind::ForeignKey);
        let kind = |ty: ColumnType, unique| recommend_strategy(&traits(&ty, unique), Some(10)).kind;
        assert_eq!(kind(ColumnType::Integer, true), StrategyKind::Sequence);
        assert_eq!(kind(ColumnType::Uuid, true), StrategyKind::Function);
        assert_eq!(kind(ColumnType::Text, true), StrategyKind::Computed);
        assert_eq!(kind(ColumnType::TimestampTz, false), StrategyKind::Function);
        assert_eq!(kind(ColumnType::Text, false), StrategyKind::Static);
        assert!(recommend_strategy(&fk, None).reason.contains("orgs"));
    }

    #[test]
    fn a_strategy_becomes_the_column_the_models_would_declare() {
        let mut column = Column::new("status", ColumnType::Text);
        Strategy::Static(Literal::Text("active".into())).apply_to(&mut column);
        assert!(!column.nullable);
        assert_eq!(column.default, Some(DefaultExpr::Literal(Literal::Text("active".into()))));
        Strategy::Backfill(Backfill::Sequence { start: 1, step: 1 }).apply_to(&mut column);
        assert_eq!((column.default.clone(), column.backfill.is_some()), (None, true));
        assert!(!Strategy::Backfill(Backfill::Computed("1".into())).covers_new_rows());
    }
}
