//! `#[derive(Model)]` and `#[derive(DbEnum)]` for dataflow.
//!
//! Layout follows serde_derive and thiserror: `attr` parses, `ast` is the macro's view of
//! the input, `check` holds the cross-field rules, `expand` generates code, `fallback`
//! emits the errors plus a stub impl. Errors are collected in a `Ctxt` and all reported
//! at once; unknown and duplicate keys are errors.
//!
//! The generated code names `::dataflow::__private`, so it works through the facade
//! crate `dataflow` (which users depend on).

#![warn(missing_docs)]

mod ast;
mod attr;
mod check;
mod ctxt;
mod db_enum;
mod expand;
mod fallback;
mod symbol;
#[cfg(test)]
mod tests;

use proc_macro::TokenStream;
use syn::{parse_macro_input, DeriveInput};

/// Maps a struct with named fields to a table. See the `dataflow` crate docs for the
/// attribute grammar.
#[proc_macro_derive(Model, attributes(dataflow))]
pub fn derive_model(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    expand::derive_model(&input).into()
}

/// Maps an enum of unit variants to an SQL enum type.
#[proc_macro_derive(DbEnum, attributes(dataflow))]
pub fn derive_db_enum(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    db_enum::derive_db_enum(&input).into()
}
