//! On error: the errors as `compile_error!`s **plus a stub impl**, so the user sees only
//! the real mistakes, not a cascade of "trait not implemented" errors.

use proc_macro2::TokenStream;
use quote::quote;
use syn::DeriveInput;

pub fn model(input: &DeriveInput, errors: syn::Error) -> TokenStream {
    let errors = errors.to_compile_error();
    let ident = &input.ident;
    let (impl_generics, ty_generics, where_clause) = input.generics.split_for_impl();
    quote! {
        #errors
        const _: () = {
            impl #impl_generics ::dataflow::__private::Model for #ident #ty_generics #where_clause {
                fn table() -> ::dataflow::__private::Table {
                    ::core::unimplemented!()
                }
            }
        };
    }
}

pub fn db_enum(input: &DeriveInput, errors: syn::Error) -> TokenStream {
    let errors = errors.to_compile_error();
    let ident = &input.ident;
    let (impl_generics, ty_generics, where_clause) = input.generics.split_for_impl();
    quote! {
        #errors
        const _: () = {
            impl #impl_generics ::dataflow::__private::SqlType for #ident #ty_generics #where_clause {
                fn column_type() -> ::dataflow::__private::ColumnType {
                    ::core::unimplemented!()
                }
            }
        };
    }
}
