//! `#[derive(DbEnum)]`: a Rust enum of unit variants stored as an SQL enum type.

use crate::ast::snake_case;
use crate::attr::{for_each_attribute, unknown, Attr};
use crate::ctxt::Ctxt;
use crate::fallback;
use crate::symbol::*;
use proc_macro2::TokenStream;
use quote::quote;
use syn::ext::IdentExt;
use syn::{Data, DeriveInput, Fields, LitStr};

const RENAME_RULES: &[&str] =
    &["snake_case", "lowercase", "UPPERCASE", "SCREAMING_SNAKE_CASE", "kebab-case", "PascalCase"];

pub fn derive_db_enum(input: &DeriveInput) -> TokenStream {
    let cx = Ctxt::new();
    let parsed = parse(&cx, input);
    match (cx.check(), parsed) {
        (Ok(()), Some(parsed)) => expand(input, parsed),
        (Err(errors), _) => fallback::db_enum(input, errors),
        (Ok(()), None) => unreachable!("a failed parse always records an error"),
    }
}

struct Parsed {
    name: String,
    schema: Option<String>,
    variants: Vec<(syn::Ident, String)>,
}

fn apply_rule(rule: &str, variant: &str) -> String {
    match rule {
        "lowercase" => variant.to_lowercase(),
        "UPPERCASE" => variant.to_uppercase(),
        "SCREAMING_SNAKE_CASE" => snake_case(variant).to_uppercase(),
        "kebab-case" => snake_case(variant).replace('_', "-"),
        "PascalCase" => variant.to_owned(),
        _ => snake_case(variant),
    }
}

fn parse(cx: &Ctxt, input: &DeriveInput) -> Option<Parsed> {
    let mut name = Attr::none(cx, NAME);
    let mut schema = Attr::none(cx, SCHEMA);
    let mut rename_all = Attr::none(cx, RENAME_ALL);
    for_each_attribute(cx, &input.attrs, |meta| {
        let path = meta.path.clone();
        if path == NAME {
            name.set(&path, meta.value()?.parse::<LitStr>()?.value());
        } else if path == SCHEMA {
            schema.set(&path, meta.value()?.parse::<LitStr>()?.value());
        } else if path == RENAME_ALL {
            let rule: LitStr = meta.value()?.parse()?;
            if !RENAME_RULES.contains(&rule.value().as_str()) {
                cx.error_spanned_by(
                    &rule,
                    format!(
                        "unknown rename_all rule {:?}; expected one of: {}",
                        rule.value(),
                        RENAME_RULES.join(", ")
                    ),
                );
            }
            rename_all.set(&path, rule.value());
        } else {
            unknown(cx, &meta, "enum", "name, schema, rename_all")?;
        }
        Ok(())
    });
    let Data::Enum(data) = &input.data else {
        cx.error_spanned_by(
            &input.ident,
            "#[derive(DbEnum)] is for enums with unit variants; use #[derive(Model)] for a struct",
        );
        return None;
    };
    let rule = rename_all.get().value.unwrap_or_else(|| "snake_case".to_owned());
    let mut variants = Vec::new();
    for variant in &data.variants {
        if !matches!(variant.fields, Fields::Unit) {
            cx.error_spanned_by(
                &variant.fields,
                format!(
                    "variant `{}` has fields; an SQL enum value carries no data",
                    variant.ident
                ),
            );
        }
        let mut rename = Attr::none(cx, RENAME);
        for_each_attribute(cx, &variant.attrs, |meta| {
            let path = meta.path.clone();
            if path == RENAME {
                rename.set(&path, meta.value()?.parse::<LitStr>()?.value());
            } else {
                unknown(cx, &meta, "variant", "rename")?;
            }
            Ok(())
        });
        let value = rename
            .get()
            .value
            .unwrap_or_else(|| apply_rule(&rule, &variant.ident.unraw().to_string()));
        if let Some(problem) = label_problem(&value) {
            cx.error_spanned_by(&variant.ident, format!("variant `{}`: {problem}", variant.ident));
        }
        if let Some((first, _)) = variants.iter().find(|(_, v)| *v == value) {
            cx.error_spanned_by(
                &variant.ident,
                format!("variants `{first}` and `{}` are both stored as {value:?}", variant.ident),
            );
        }
        variants.push((variant.ident.clone(), value));
    }
    if variants.is_empty() {
        cx.error_spanned_by(&input.ident, "an SQL enum needs at least one variant");
    }
    let given = name.get().value;
    let hint =
        if given.is_some() { "choose another `name = \"…\"`" } else { "set `name = \"…\"`" };
    let name = given.unwrap_or_else(|| snake_case(&input.ident.unraw().to_string()));
    if let Some(problem) = type_name_problem(&name) {
        cx.error_spanned_by(&input.ident, format!("enum type name: {problem} ({hint})"));
    }
    Some(Parsed { name, schema: schema.get().value, variants })
}

/// The longest enum label and type name PostgreSQL keeps, in bytes.
const MAX_NAME_BYTES: usize = 63;

/// Why `value` cannot be an enum label on every database, if it cannot.
fn label_problem(value: &str) -> Option<String> {
    if value.is_empty() {
        Some("an SQL enum value cannot be empty (`rename = \"\"`): give it a name".into())
    } else if value.len() > MAX_NAME_BYTES {
        Some(format!(
            "the value {value:?} is {} bytes long; PostgreSQL keeps enum labels of at most \
             {MAX_NAME_BYTES}: use `rename = \"…\"` with a shorter one",
            value.len()
        ))
    } else if value.contains('\0') {
        Some("an SQL enum value cannot contain a NUL byte".into())
    } else {
        None
    }
}

/// Why `name` cannot name an enum type, if it cannot.
fn type_name_problem(name: &str) -> Option<String> {
    if name.is_empty() {
        Some("it cannot be empty".into())
    } else if name.len() > MAX_NAME_BYTES {
        Some(format!(
            "`{name}` is {} bytes long; PostgreSQL keeps {MAX_NAME_BYTES} and would silently \
             truncate it",
            name.len()
        ))
    } else if name.starts_with("_dataflow_") {
        Some("names starting with `_dataflow_` are reserved for dataflow's own objects".into())
    } else {
        None
    }
}

fn expand(input: &DeriveInput, parsed: Parsed) -> TokenStream {
    let ident = &input.ident;
    let name = &parsed.name;
    let schema = match &parsed.schema {
        Some(schema) => quote!(__df::Some(__df::String::from(#schema))),
        None => quote!(__df::None),
    };
    let idents: Vec<_> = parsed.variants.iter().map(|(i, _)| i).collect();
    let values: Vec<_> = parsed.variants.iter().map(|(_, v)| v).collect();
    quote! {
        #[automatically_derived]
        const _: () = {
            use ::dataflow::__private as __df;
            impl __df::DbEnum for #ident {
                fn enum_type() -> __df::EnumType {
                    __df::EnumType {
                        name: __df::QualifiedName { schema: #schema, name: __df::String::from(#name) },
                        values: __df::Vec::from([#(__df::String::from(#values)),*]),
                    }
                }
                fn as_db_str(&self) -> &'static str {
                    match self {
                        #(Self::#idents => #values,)*
                    }
                }
                fn from_db_str(value: &str) -> __df::Option<Self> {
                    match value {
                        #(#values => __df::Some(Self::#idents),)*
                        _ => __df::None,
                    }
                }
            }
            impl __df::SqlType for #ident {
                fn column_type() -> __df::ColumnType {
                    __df::ColumnType::Enum(<Self as __df::DbEnum>::enum_type().name)
                }
                fn enum_type() -> __df::Option<__df::EnumType> {
                    __df::Some(<Self as __df::DbEnum>::enum_type())
                }
            }
        };
    }
}
