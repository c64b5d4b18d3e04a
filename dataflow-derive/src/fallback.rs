//! On error: the errors as `compile_error!`s **plus a stub impl**, so the user sees only
//! the real mistakes, not a cascade of "trait not implemented" errors.

use proc_macro2::TokenStream;
use quote::quote;
use syn::DeriveInput;

/// `errors` and `impl <trait_path> for <input> { <body> }`, generics kept.
fn stub(
    input: &DeriveInput,
    errors: syn::Error,
    trait_path: TokenStream,
    body: TokenStream,
) -> TokenStream {
    let errors = errors.to_compile_error();
    let ident = &input.ident;
    let (impl_generics, ty_generics, where_clause) = input.generics.split_for_impl();
    quote! {
        #errors
        const _: () = {
            impl #impl_generics #trait_path for #ident #ty_generics #where_clause {
                #body
            }
        };
    }
}

pub fn model(input: &DeriveInput, errors: syn::Error) -> TokenStream {
    stub(
        input,
        errors,
        quote!(::dataflow::__private::Model),
        quote!(
            fn table() -> ::dataflow::__private::Table {
                ::core::unimplemented!()
            }
        ),
    )
}

pub fn db_enum(input: &DeriveInput, errors: syn::Error) -> TokenStream {
    stub(
        input,
        errors,
        quote!(::dataflow::__private::SqlType),
        quote!(
            fn column_type() -> ::dataflow::__private::ColumnType {
                ::core::unimplemented!()
            }
        ),
    )
}
