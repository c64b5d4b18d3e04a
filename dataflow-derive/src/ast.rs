//! The macro's own view of the input: the struct, its fields and their parsed
//! attributes, keeping references to the original syn nodes for error spans.

use crate::attr::{ContainerAttrs, FieldAttrs};
use crate::ctxt::Ctxt;
use syn::ext::IdentExt;
use syn::{Data, DeriveInput, Fields, GenericArgument, Ident, PathArguments, Type};

pub struct Container<'a> {
    pub ident: &'a Ident,
    pub attrs: ContainerAttrs,
    pub fields: Vec<Field<'a>>,
}

pub struct Field<'a> {
    pub ident: &'a Ident,
    pub ty: &'a Type,
    pub attrs: FieldAttrs,
}

impl<'a> Container<'a> {
    /// Parses the input; `None` (with the error recorded) unless it is a plain struct
    /// with named fields.
    pub fn from_ast(cx: &Ctxt, input: &'a DeriveInput) -> Option<Container<'a>> {
        let attrs = ContainerAttrs::from_ast(cx, &input.attrs);
        let fields = match &input.data {
            Data::Struct(data) => match &data.fields {
                Fields::Named(named) => &named.named,
                Fields::Unnamed(_) | Fields::Unit => {
                    cx.error_spanned_by(
                        input,
                        "#[derive(Model)] needs a struct with named fields: each field is a column",
                    );
                    return None;
                }
            },
            Data::Enum(data) => {
                cx.error_spanned_by(
                    data.enum_token,
                    "#[derive(Model)] is for structs; for an enum stored in a column use #[derive(DbEnum)]",
                );
                return None;
            }
            Data::Union(data) => {
                cx.error_spanned_by(
                    data.union_token,
                    "#[derive(Model)] is for structs with named fields",
                );
                return None;
            }
        };
        if !input.generics.params.is_empty() {
            cx.error_spanned_by(
                &input.generics,
                "#[derive(Model)] does not support generic structs: a table has one fixed shape",
            );
        }
        let fields = fields
            .iter()
            .filter_map(|field| {
                let ident = field.ident.as_ref()?;
                Some(Field { ident, ty: &field.ty, attrs: FieldAttrs::from_ast(cx, &field.attrs) })
            })
            .collect();
        Some(Container { ident: &input.ident, attrs, fields })
    }

    /// `table = "…"`, or the struct name in snake_case.
    pub fn table_name(&self) -> String {
        match &self.attrs.table.value {
            Some(name) => name.value(),
            None => snake_case(&self.ident.unraw().to_string()),
        }
    }

    /// The fields that are columns (not `skip`).
    pub fn columns(&self) -> impl Iterator<Item = &Field<'a>> {
        self.fields.iter().filter(|f| !f.attrs.skip.is_set())
    }
}

impl Field<'_> {
    /// `column = "…"`, or the field name (without `r#`).
    pub fn column_name(&self) -> String {
        match &self.attrs.column.value {
            Some(name) => name.value(),
            None => self.ident.to_string().trim_start_matches("r#").to_owned(),
        }
    }

    /// The type inside `Option<…>`, or the type itself.
    pub fn value_type(&self) -> &Type {
        option_inner(self.ty).unwrap_or(self.ty)
    }

    /// Whether the field is written `Option<…>`.
    pub fn is_option(&self) -> bool {
        option_inner(self.ty).is_some()
    }

    /// The last path segment of the value type (`String`, `i64`, `DateTime` …).
    pub fn value_type_name(&self) -> Option<String> {
        last_segment(self.value_type())
    }
}

fn last_segment(ty: &Type) -> Option<String> {
    match ty {
        Type::Path(path) if path.qself.is_none() => {
            path.path.segments.last().map(|s| s.ident.to_string())
        }
        _ => None,
    }
}

/// `T` for `Option<T>` (also `std::option::Option<T>`).
pub fn option_inner(ty: &Type) -> Option<&Type> {
    let Type::Path(path) = ty else { return None };
    let segment = path.path.segments.last()?;
    if segment.ident != "Option" {
        return None;
    }
    let PathArguments::AngleBracketed(args) = &segment.arguments else {
        return None;
    };
    match args.args.first()? {
        GenericArgument::Type(inner) if args.args.len() == 1 => Some(inner),
        _ => None,
    }
}

/// `OrderItem` → `order_item`, `HTTPLog` → `http_log`.
pub fn snake_case(name: &str) -> String {
    let chars: Vec<char> = name.chars().collect();
    let mut out = String::new();
    for (i, &c) in chars.iter().enumerate() {
        if c.is_uppercase() {
            let prev_lower =
                i > 0 && (chars[i - 1].is_lowercase() || chars[i - 1].is_ascii_digit());
            let next_lower = chars.get(i + 1).is_some_and(|n| n.is_lowercase());
            let prev_upper = i > 0 && chars[i - 1].is_uppercase();
            if i > 0 && (prev_lower || (prev_upper && next_lower)) && !out.ends_with('_') {
                out.push('_');
            }
            out.extend(c.to_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}
