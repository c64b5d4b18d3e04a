//! Rust type → SQL column type mapping, as a trait (never string matching).

use crate::model::{ColumnType, EnumType};

/// A Rust type that can be stored in a column.
///
/// Implemented for the integer, float, bool, string and byte types, for `Option<T>`
/// (nullable), for [`Json<T>`], for enums with `#[derive(DbEnum)]`, and behind cargo
/// features for `chrono`, `time`, `uuid`, `rust_decimal` and `serde_json::Value`.
/// A field whose type has no impl needs `#[dataflow(sql_type = "…")]`.
#[diagnostic::on_unimplemented(
    message = "`{Self}` has no SQL column type",
    label = "this field's type does not implement `dataflow::SqlType`",
    note = "give the field an explicit type: #[dataflow(sql_type = \"text\")], derive `DbEnum` for an enum, enable the cargo feature for chrono/time/uuid/rust_decimal/serde_json, or implement `dataflow::SqlType`"
)]
pub trait SqlType {
    /// The column type.
    fn column_type() -> ColumnType;
    /// Whether the column is nullable (`Option<T>`).
    const NULLABLE: bool = false;
    /// The enum type the column uses, if any, so it is created with the table.
    fn enum_type() -> Option<EnumType> {
        None
    }
}

macro_rules! sql_types {
    ($($rust:ty => $column:expr),* $(,)?) => {
        $(impl SqlType for $rust {
            fn column_type() -> ColumnType {
                $column
            }
        })*
    };
}

sql_types! {
    i16 => ColumnType::SmallInt,
    i32 => ColumnType::Integer,
    i64 => ColumnType::BigInt,
    f32 => ColumnType::Real,
    f64 => ColumnType::Double,
    bool => ColumnType::Bool,
    String => ColumnType::Text,
    Vec<u8> => ColumnType::Bytes,
}

impl<T: SqlType> SqlType for Option<T> {
    fn column_type() -> ColumnType {
        T::column_type()
    }
    const NULLABLE: bool = true;
    fn enum_type() -> Option<EnumType> {
        T::enum_type()
    }
}

/// A value stored as JSON (`jsonb` on PostgreSQL, `json` elsewhere).
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Json<T>(pub T);

impl<T> SqlType for Json<T> {
    fn column_type() -> ColumnType {
        ColumnType::Jsonb
    }
}

#[cfg(feature = "serde_json")]
sql_types! { serde_json::Value => ColumnType::Jsonb }

#[cfg(feature = "chrono")]
sql_types! {
    chrono::NaiveDate => ColumnType::Date,
    chrono::NaiveTime => ColumnType::Time,
    chrono::NaiveDateTime => ColumnType::Timestamp,
    chrono::DateTime<chrono::Utc> => ColumnType::TimestampTz,
    chrono::DateTime<chrono::FixedOffset> => ColumnType::TimestampTz,
}

#[cfg(feature = "time")]
sql_types! {
    time::Date => ColumnType::Date,
    time::Time => ColumnType::Time,
    time::PrimitiveDateTime => ColumnType::Timestamp,
    time::OffsetDateTime => ColumnType::TimestampTz,
}

#[cfg(feature = "uuid")]
sql_types! { uuid::Uuid => ColumnType::Uuid }

#[cfg(feature = "rust_decimal")]
sql_types! { rust_decimal::Decimal => ColumnType::Numeric { precision: None, scale: None } }

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn option_is_nullable_and_keeps_the_inner_type() {
        assert_eq!(<Option<i64>>::column_type(), ColumnType::BigInt);
        const { assert!(<Option<i64> as SqlType>::NULLABLE) };
        const { assert!(!<i64 as SqlType>::NULLABLE) };
    }
}
