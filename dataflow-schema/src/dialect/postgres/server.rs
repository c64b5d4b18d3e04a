//! What one PostgreSQL release can hold: a desired schema fitted to the server it will
//! run on, named by its `server_version_num`. A feature the server lacks is an error
//! naming the object, the release it needs and the one found; a detail it has no place
//! for (a NOT NULL constraint's name before 18) is dropped, as that server would.

use crate::error::PlanError;
use crate::introspect::postgres::version_name;
use crate::model::Schema;
use std::borrow::Cow;

/// `desired` as the server `version` can hold it.
pub fn fit(desired: &Schema, version: u32) -> Result<Cow<'_, Schema>, PlanError> {
    let needs = |object: String, feature: &str, release: u32| PlanError::Unsupported {
        object,
        reason: format!(
            "{feature} needs PostgreSQL {release} or later; this server is {}",
            version_name(version)
        ),
    };
    if version < 150_000 {
        for table in &desired.tables {
            if let Some(unique) = table.uniques.iter().find(|u| u.nulls_not_distinct) {
                let object = format!("unique constraint {} on {}", unique.name, table.name);
                return Err(needs(object, "NULLS NOT DISTINCT", 15));
            }
            if let Some(index) = table.indexes.iter().find(|i| i.nulls_not_distinct) {
                let object = format!("index {} on {}", index.name, table.name);
                return Err(needs(object, "NULLS NOT DISTINCT", 15));
            }
        }
    }
    let named = |schema: &Schema| {
        schema.tables.iter().flat_map(|t| &t.columns).any(|c| c.not_null_constraint.is_some())
    };
    if version < 180_000 && named(desired) {
        let mut fitted = desired.clone();
        for column in fitted.tables.iter_mut().flat_map(|t| &mut t.columns) {
            column.not_null_constraint = None;
        }
        return Ok(Cow::Owned(fitted));
    }
    Ok(Cow::Borrowed(desired))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Column, ColumnType, QualifiedName, Table, UniqueConstraint};

    fn schema_with(unique: bool, not_null_name: bool) -> Schema {
        let mut table = Table::new(QualifiedName::new("users"));
        let mut email = Column::new("email", ColumnType::Text);
        if not_null_name {
            email.not_null_constraint = Some("email_required".into());
        }
        table.columns.push(email);
        if unique {
            table.uniques.push(UniqueConstraint {
                name: "users_email_key".into(),
                columns: vec!["email".into()],
                nulls_not_distinct: true,
                deferrable: false,
                initially_deferred: false,
            });
        }
        Schema { tables: vec![table], ..Schema::default() }
    }

    #[test]
    fn nulls_not_distinct_is_refused_before_15_with_both_versions_named() {
        let error =
            fit(&schema_with(true, false), 140_023).expect_err("14 has no NULLS NOT DISTINCT");
        assert_eq!(
            error.to_string(),
            "unique constraint users_email_key on users: NULLS NOT DISTINCT needs PostgreSQL 15 \
             or later; this server is 14.23"
        );
        assert!(fit(&schema_with(true, false), 150_000).is_ok());
    }

    #[test]
    fn not_null_names_are_kept_from_18_and_dropped_before() {
        let named = schema_with(false, true);
        let column = |s: &Schema| s.tables[0].columns[0].not_null_constraint.clone();
        assert_eq!(column(&fit(&named, 180_004).expect("fits")), Some("email_required".into()));
        assert_eq!(column(&fit(&named, 170_010).expect("fits")), None);
    }
}
