//! `with_<field>` setters for the options structs, which are `#[non_exhaustive]` so that
//! a new option is not a breaking change: outside this workspace they are built as
//! `MigrateOptions::default().with_max_risk(RiskLevel::High)` instead of a struct literal.

/// Generates `pub fn with_<field>(self, value) -> Self` for each `with_<field> => field: Type`.
#[doc(hidden)]
#[macro_export]
macro_rules! __with_setters {
    ($options:ty { $($setter:ident => $field:ident: $type:ty),+ $(,)? }) => {
        impl $options {
            $(
                #[doc = concat!(
                    "This value with [`", stringify!($field), "`](Self::", stringify!($field),
                    ") set to `value`."
                )]
                #[must_use]
                pub fn $setter(mut self, value: $type) -> Self {
                    self.$field = value;
                    self
                }
            )+
        }
    };
}
