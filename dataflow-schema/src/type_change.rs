//! How a column's values convert from one type to another ([`classify_type_change`]):
//! the facts RISK.md rows 10a–10e state for PostgreSQL, which the differ also uses to
//! tell when a default cannot be cast along with its column.

use crate::model::ColumnType;

/// How PostgreSQL converts a column from one type to another (RISK.md rows 10a–10e).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TypeChange {
    /// Binary-coercible widening: catalog-only.
    NoRewrite,
    /// Catalog-only with the session in UTC, but stored values are reinterpreted.
    Reinterpret,
    /// Lossless, but rewrites the table and every index.
    Rewrite,
    /// Narrower type: fails on values that do not fit.
    Narrowing,
    /// Cross-type cast: fails on un-castable values and may lose information.
    Cast,
}

/// Classifies a type change.
pub fn classify_type_change(from: &ColumnType, to: &ColumnType) -> TypeChange {
    use ColumnType::*;
    let int_rank = |t: &ColumnType| match t {
        SmallInt => Some(1),
        Integer => Some(2),
        BigInt => Some(3),
        _ => None,
    };
    match (from, to) {
        (a, b) if a == b => TypeChange::NoRewrite,
        (Varchar(n), Varchar(m)) if m >= n => TypeChange::NoRewrite,
        (Varchar(_) | Char(_), Varchar(_))
        | (Text, Varchar(_) | Char(_))
        | (Varchar(_), Char(_)) => TypeChange::Narrowing,
        (Varchar(_), Text) => TypeChange::NoRewrite,
        (Numeric { precision: Some(p), scale: s }, Numeric { precision: Some(q), scale: t })
            if q >= p && s == t =>
        {
            TypeChange::NoRewrite
        }
        (Numeric { .. }, Numeric { precision: None, scale: None }) => TypeChange::NoRewrite,
        (Numeric { .. }, Numeric { .. }) => TypeChange::Narrowing,
        (Timestamp, TimestampTz) | (TimestampTz, Timestamp) => TypeChange::Reinterpret,
        (a, b) if int_rank(a).is_some() && int_rank(b).is_some() => {
            if int_rank(b) > int_rank(a) {
                TypeChange::Rewrite
            } else {
                TypeChange::Narrowing
            }
        }
        (SmallInt | Integer | BigInt, Numeric { precision: None, .. }) => TypeChange::Rewrite,
        (SmallInt | Integer, Double) | (SmallInt, Real) | (Real, Double) => TypeChange::Rewrite,
        (Double, Real) => TypeChange::Narrowing,
        (Jsonb, Json) | (Enum(_), Text) | (Uuid, Text) | (Bool, Text) => TypeChange::Rewrite,
        _ => TypeChange::Cast,
    }
}
