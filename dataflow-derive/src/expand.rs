//! Code generation for `#[derive(Model)]`: an `impl Model` inside `const _: () = { … }`,
//! building the table with the schema crate's own types.

use crate::ast::{Container, Field};
use crate::attr::{BackfillAttr, DefaultLit};
use crate::check;
use crate::ctxt::Ctxt;
use crate::fallback;
use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;
use syn::DeriveInput;

pub fn derive_model(input: &DeriveInput) -> TokenStream {
    let cx = Ctxt::new();
    let container = Container::from_ast(&cx, input);
    if let Some(container) = &container {
        check::check(&cx, container);
    }
    match (cx.check(), container) {
        (Ok(()), Some(container)) => expand(&container),
        (Err(errors), _) => fallback::model(input, errors),
        (Ok(()), None) => unreachable!("a missing container always records an error"),
    }
}

fn string_vec(items: impl IntoIterator<Item = String>) -> TokenStream {
    let items = items.into_iter();
    quote!(__df::Vec::from([#(__df::String::from(#items)),*]))
}

fn option_string(value: Option<&str>) -> TokenStream {
    match value {
        Some(text) => quote!(__df::Some(__df::String::from(#text))),
        None => quote!(__df::None),
    }
}

fn expand(cont: &Container) -> TokenStream {
    let ident = cont.ident;
    let table_name = cont.table_name();
    let schema = option_string(cont.attrs.schema.value.as_ref().map(|s| s.value()).as_deref());
    let columns = cont.columns().map(|field| column(cont, field));
    let mut extras = Vec::new();
    for field in cont.columns() {
        extras.push(field_constraints(cont, field));
    }
    extras.push(struct_constraints(cont));
    let enums = cont.columns().filter(|f| !f.attrs.sql_type.is_set()).map(|field| {
        let ty = field.ty;
        quote_spanned!(ty.span()=> enums.extend(<#ty as __df::SqlType>::enum_type());)
    });
    quote! {
        #[automatically_derived]
        const _: () = {
            use ::dataflow::__private as __df;
            impl __df::Model for #ident {
                fn table() -> __df::Table {
                    let mut table = __df::Table::new(__df::QualifiedName {
                        schema: #schema,
                        name: __df::String::from(#table_name),
                    });
                    #(table.columns.push(#columns);)*
                    #(#extras)*
                    __df::finish_table(table)
                }

                fn enums() -> __df::Vec<__df::EnumType> {
                    let mut enums = __df::Vec::new();
                    #(#enums)*
                    enums
                }
            }
        };
    }
}

/// The `Column` value of one field.
fn column(cont: &Container, field: &Field) -> TokenStream {
    let name = field.column_name();
    let ty = field.ty;
    let attrs = &field.attrs;
    let (column_type, nullable) = match (&attrs.sql_type.value, attrs.max_length.value) {
        (Some(sql), _) => {
            let nullable = field.is_option();
            (quote!(__df::ColumnType::from_sql(#sql)), quote!(#nullable))
        }
        (None, Some(length)) => (
            quote!(__df::ColumnType::Varchar(#length)),
            quote_spanned!(ty.span()=> <#ty as __df::SqlType>::NULLABLE),
        ),
        (None, None) => (
            quote_spanned!(ty.span()=> <#ty as __df::SqlType>::column_type()),
            quote_spanned!(ty.span()=> <#ty as __df::SqlType>::NULLABLE),
        ),
    };
    // Only what differs from `Column::new` (NOT NULL, nothing else) is set.
    let mut settings = vec![quote!(column.nullable = #nullable;)];
    match (&attrs.default.value, &attrs.default_sql.value) {
        (Some(lit), _) => {
            let lit = literal(lit);
            settings.push(quote!(column.default = __df::Some(__df::DefaultExpr::Literal(#lit));));
        }
        (None, Some(sql)) => settings.push(
            quote!(column.default = __df::Some(__df::DefaultExpr::Sql(__df::String::from(#sql)));),
        ),
        (None, None) => {}
    }
    if attrs.auto.is_set() {
        settings.push(quote!(column.identity = __df::Some(__df::Identity::ByDefault);));
    }
    if let Some(comment) = &attrs.comment.value {
        settings.push(quote!(column.comment = __df::Some(__df::String::from(#comment));));
    }
    if let Some(old) = &attrs.renamed_from.value {
        let old = old.value();
        settings.push(quote!(column.renamed_from = __df::Vec::from([__df::String::from(#old)]);));
    }
    if let Some(backfill) = &attrs.backfill.value {
        let backfill = backfill_tokens(cont, field, backfill);
        settings.push(quote!(column.backfill = __df::Some(#backfill);));
    }
    quote!({
        let mut column = __df::Column::new(#name, #column_type);
        #(#settings)*
        column
    })
}

fn literal(lit: &DefaultLit) -> TokenStream {
    match lit {
        DefaultLit::Bool(b) => quote!(__df::Literal::Bool(#b)),
        DefaultLit::Int(n) | DefaultLit::Float(n) => {
            quote!(__df::Literal::Number(__df::String::from(#n)))
        }
        DefaultLit::Str(s) => quote!(__df::Literal::Text(__df::String::from(#s))),
    }
}

/// `"table"` or `"schema.table"`; a table without a schema is in the model's own schema.
fn qualified_table(cont: &Container, text: &str) -> TokenStream {
    let (schema, table) = match text.rsplit_once('.') {
        Some((schema, table)) => (Some(schema.to_owned()), table),
        None => (cont.attrs.schema.value.as_ref().map(|s| s.value()), text),
    };
    let schema = option_string(schema.as_deref());
    quote!(__df::QualifiedName { schema: #schema, name: __df::String::from(#table) })
}

/// `"table.column"` or `"schema.table.column"` → (qualified table, column). The format
/// was checked before expansion.
fn reference_parts(cont: &Container, target: &str) -> (TokenStream, String) {
    let (table, column) = target.rsplit_once('.').unwrap_or((target, "id"));
    (qualified_table(cont, table), column.to_owned())
}

fn backfill_tokens(cont: &Container, field: &Field, backfill: &BackfillAttr) -> TokenStream {
    match backfill {
        BackfillAttr::Computed(expr) => quote!(__df::Backfill::Computed(__df::String::from(#expr))),
        BackfillAttr::Case { cases, otherwise } => {
            let conditions = cases.iter().map(|(c, _)| c);
            let values = cases.iter().map(|(_, v)| v);
            let otherwise = option_string(otherwise.as_deref());
            quote!(__df::Backfill::Conditional {
                cases: __df::Vec::from([#((__df::String::from(#conditions), __df::String::from(#values))),*]),
                otherwise: #otherwise,
            })
        }
        BackfillAttr::Sequence { start, step } => {
            quote!(__df::Backfill::Sequence { start: #start, step: #step })
        }
        BackfillAttr::FkValue(value) => {
            let value = literal(value);
            quote!(__df::Backfill::ForeignKeyValue(#value))
        }
        BackfillAttr::FkLookup { table, filter, column } => {
            let table = qualified_table(cont, table);
            // The looked-up column defaults to the one `references` names, else `id`.
            let column = column.clone().unwrap_or_else(|| {
                let referenced = field.attrs.references.value.as_ref();
                referenced.map_or_else(|| "id".to_owned(), |r| reference_parts(cont, &r.value()).1)
            });
            quote!(__df::Backfill::ForeignKeyLookup {
                table: #table,
                column: __df::String::from(#column),
                filter: __df::String::from(#filter),
            })
        }
    }
}

/// Field-level primary key, unique, index, check and foreign key.
fn field_constraints(cont: &Container, field: &Field) -> TokenStream {
    let name = field.column_name();
    let attrs = &field.attrs;
    let mut out = TokenStream::new();
    if attrs.primary_key.is_set() {
        out.extend(quote!(table.primary_key = __df::Some(__df::PrimaryKey {
            name: __df::String::new(),
            columns: __df::Vec::from([__df::String::from(#name)]),
        });));
    }
    if attrs.unique.is_set() {
        out.extend(quote!(table.uniques.push(__df::UniqueConstraint {
            name: __df::String::new(),
            columns: __df::Vec::from([__df::String::from(#name)]),
            ..::core::default::Default::default()
        });));
    }
    if attrs.index.is_set() {
        out.extend(quote!(table.indexes.push(__df::Index {
            name: __df::String::new(),
            parts: __df::Vec::from([__df::IndexPart::Column(__df::String::from(#name))]),
            unique: false,
            method: __df::IndexMethod::Btree,
            predicate: __df::None,
            ..::core::default::Default::default()
        });));
    }
    if let Some(expression) = &attrs.check.value {
        out.extend(quote!(table.checks.push(__df::CheckConstraint {
            name: __df::object_name(&table.name.name, __df::Some(#name), "check"),
            expression: __df::String::from(#expression),
            ..::core::default::Default::default()
        });));
    }
    if let Some(target) = &attrs.references.value {
        let (ref_table, ref_column) = reference_parts(cont, &target.value());
        let action = |value: Option<&&str>| {
            let variant = syn::Ident::new(
                value.copied().unwrap_or("NoAction"),
                proc_macro2::Span::call_site(),
            );
            quote!(__df::FkAction::#variant)
        };
        let on_delete = action(attrs.on_delete.value.as_ref());
        let on_update = action(attrs.on_update.value.as_ref());
        out.extend(quote!(table.foreign_keys.push(__df::ForeignKey {
            name: __df::String::new(),
            columns: __df::Vec::from([__df::String::from(#name)]),
            ref_table: #ref_table,
            ref_columns: __df::Vec::from([__df::String::from(#ref_column)]),
            on_delete: #on_delete,
            on_update: #on_update,
            ..::core::default::Default::default()
        });));
    }
    out
}

/// Struct-level renamed_from, comment, primary key, indexes, uniques and checks.
fn struct_constraints(cont: &Container) -> TokenStream {
    let attrs = &cont.attrs;
    let mut out = TokenStream::new();
    if let Some(old) = &attrs.renamed_from.value {
        let old_table = qualified_table(cont, &old.value());
        out.extend(quote!(table.renamed_from = __df::Vec::from([#old_table]);));
    }
    if let Some(comment) = &attrs.comment.value {
        out.extend(quote!(table.comment = __df::Some(__df::String::from(#comment));));
    }
    if let Some(pk) = &attrs.primary_key.value {
        let name = pk.name.clone().unwrap_or_default();
        let columns = string_vec(pk.columns.iter().map(|c| c.value()));
        out.extend(quote!(table.primary_key = __df::Some(__df::PrimaryKey {
            name: __df::String::from(#name),
            columns: #columns,
        });));
    }
    for unique in &attrs.uniques {
        let name = unique.name.clone().unwrap_or_default();
        let columns = string_vec(unique.columns.iter().map(|c| c.value()));
        out.extend(quote!(table.uniques.push(__df::UniqueConstraint {
            name: __df::String::from(#name),
            columns: #columns,
            ..::core::default::Default::default()
        });));
    }
    for index in &attrs.indexes {
        let name = index.name.clone().unwrap_or_default();
        let parts = index.columns.iter().map(|c| c.value());
        let unique = index.unique;
        let method = syn::Ident::new(
            match index.method.as_ref().map(|m| m.value().to_ascii_lowercase()).as_deref() {
                Some("hash") => "Hash",
                Some("gin") => "Gin",
                Some("gist") => "Gist",
                Some("brin") => "Brin",
                _ => "Btree",
            },
            proc_macro2::Span::call_site(),
        );
        let predicate = option_string(index.predicate.as_deref());
        out.extend(quote!(table.indexes.push(__df::Index {
            name: __df::String::from(#name),
            parts: __df::Vec::from([#(__df::IndexPart::Column(__df::String::from(#parts))),*]),
            unique: #unique,
            method: __df::IndexMethod::#method,
            predicate: #predicate,
            ..::core::default::Default::default()
        });));
    }
    for check in &attrs.checks {
        let expression = check.value();
        out.extend(quote!(table.checks.push(__df::CheckConstraint {
            name: __df::String::new(),
            expression: __df::String::from(#expression),
            ..::core::default::Default::default()
        });));
    }
    out
}
