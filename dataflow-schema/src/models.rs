//! The traits `#[derive(Model)]` and `#[derive(DbEnum)]` implement, and the desired
//! [`Schema`] built from a set of models.

use crate::error::ModelError;
use crate::model::{EnumType, Schema, Table};
use crate::naming;

/// A struct mapped to a table. Implement it with `#[derive(Model)]`.
pub trait Model {
    /// The table this struct maps to, with implicit constraint and index names filled in.
    fn table() -> Table;
    /// The enum types its columns use (created together with the table).
    fn enums() -> Vec<EnumType> {
        Vec::new()
    }
}

/// A Rust enum mapped to an SQL enum type. Implement it with `#[derive(DbEnum)]`.
pub trait DbEnum: Sized + 'static {
    /// The enum type: name and values in declaration order.
    fn enum_type() -> EnumType;
    /// The value stored for this variant.
    fn as_db_str(&self) -> &'static str;
    /// The variant stored as `value`, if any.
    fn from_db_str(value: &str) -> Option<Self>;
}

/// One model's contribution to the desired schema: its table and the enum types it uses.
/// `#[non_exhaustive]`: built with [`ModelDef::of`] (a derived model) or [`ModelDef::new`]
/// (a table built at run time).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ModelDef {
    /// The model's table.
    pub table: Table,
    /// Enum types its columns use.
    pub enums: Vec<EnumType>,
    /// The Rust type it comes from (`std::any::type_name`), for messages.
    pub rust_type: Option<&'static str>,
}

impl ModelDef {
    /// The definition of model `M`.
    pub fn of<M: Model>() -> ModelDef {
        ModelDef {
            table: M::table(),
            enums: M::enums(),
            rust_type: Some(std::any::type_name::<M>()),
        }
    }

    /// A model defined at run time: a table and the enum types its columns use.
    pub fn new(table: Table, enums: Vec<EnumType>) -> ModelDef {
        ModelDef { table, enums, rust_type: None }
    }

    /// How messages name it: the Rust type, or the table.
    fn shown(&self) -> String {
        match self.rust_type {
            Some(rust_type) => format!("`{rust_type}`"),
            None => format!("the model of table {}", self.table.name),
        }
    }
}

/// Shorthand for [`ModelDef::of`]: `schema_of(&[model::<User>(), model::<Order>()])`.
pub fn model<M: Model>() -> ModelDef {
    ModelDef::of::<M>()
}

/// Builds the desired schema from a set of models, in any order (the result is canonical).
///
/// Fails when two models name the same table, two enums of the same name disagree, or a
/// foreign key names a column its (modelled) target table does not have.
pub fn schema_of(models: &[ModelDef]) -> Result<Schema, ModelError> {
    let mut schema = Schema::default();
    for (index, def) in models.iter().enumerate() {
        if let Some(first) = models[..index].iter().find(|m| m.table.name == def.table.name) {
            // The same model registered twice is one model.
            if first.table == def.table && first.enums == def.enums {
                continue;
            }
            return Err(ModelError::DuplicateTable {
                table: def.table.name.clone(),
                first: first.shown(),
                second: def.shown(),
            });
        }
        schema.tables.push(def.table.clone());
        for enum_type in &def.enums {
            match schema.enum_type(&enum_type.name) {
                None => schema.enums.push(enum_type.clone()),
                Some(existing) if existing == enum_type => {}
                Some(existing) => {
                    return Err(ModelError::ConflictingEnum {
                        name: enum_type.name.clone(),
                        first: existing.values.clone(),
                        second: enum_type.values.clone(),
                    })
                }
            }
        }
    }
    for table in &schema.tables {
        check_foreign_keys(&schema, table)?;
    }
    schema.canonicalize();
    Ok(schema)
}

fn check_foreign_keys(schema: &Schema, table: &Table) -> Result<(), ModelError> {
    for fk in &table.foreign_keys {
        let Some(target) = schema.table(&fk.ref_table) else {
            // A table no model names may still exist in the database; the plan checks it.
            continue;
        };
        for column in &fk.ref_columns {
            if target.column(column).is_none() {
                return Err(ModelError::UnknownReference {
                    table: table.name.to_string(),
                    constraint: fk.name.clone(),
                    target: fk.ref_table.to_string(),
                    column: column.clone(),
                });
            }
        }
    }
    Ok(())
}

/// Fills in the implicit names of a table's primary key, unique and check constraints,
/// indexes and foreign keys, the way PostgreSQL would name them. Called by the derive.
pub fn finish_table(mut table: Table) -> Table {
    naming::fill_implicit_names(&mut table);
    table
}
