//! On error: the errors as `compile_error!`s **plus a stub impl**, so the user sees only
//! the real mistakes, not a cascade of "trait not implemented" errors.

use proc_macro2::TokenStream;
use quote::quote;
use syn::Ident;

pub fn model(ident: &Ident, errors: syn::Error) -> TokenStream {
    let errors = errors.to_compile_error();
    quote! {
        #errors
        const _: () = {
            impl ::dataflow::__private::Model for #ident {
                fn table() -> ::dataflow::__private::Table {
                    ::core::unimplemented!()
                }
            }
        };
    }
}

pub fn db_enum(ident: &Ident, errors: syn::Error) -> TokenStream {
    let errors = errors.to_compile_error();
    quote! {
        #errors
        const _: () = {
            impl ::dataflow::__private::SqlType for #ident {
                fn column_type() -> ::dataflow::__private::ColumnType {
                    ::core::unimplemented!()
                }
            }
        };
    }
}
