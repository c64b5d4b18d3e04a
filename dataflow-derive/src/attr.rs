//! Parsing of `#[dataflow(...)]` attributes with syn 2's `parse_nested_meta`.
//!
//! Every key goes into an [`Attr`] slot that reports a duplicate on the second
//! occurrence; every dispatch ends in an "unknown attribute" error. Parsing goes on after
//! an error (the bad value is skipped), so all mistakes are reported at once.

use crate::ctxt::Ctxt;
use crate::symbol::*;
use proc_macro2::{Span, TokenStream};
use quote::ToTokens;
use syn::meta::ParseNestedMeta;
use syn::spanned::Spanned;
use syn::{Expr, ExprLit, ExprUnary, Lit, LitInt, LitStr, UnOp};

/// One attribute slot: remembers the key's tokens (for spans) and its value.
pub struct Attr<'c, T> {
    cx: &'c Ctxt,
    name: Symbol,
    tokens: TokenStream,
    value: Option<T>,
}

impl<'c, T> Attr<'c, T> {
    pub fn none(cx: &'c Ctxt, name: Symbol) -> Self {
        Attr { cx, name, tokens: TokenStream::new(), value: None }
    }

    pub fn set<A: ToTokens>(&mut self, obj: A, value: T) {
        let tokens = obj.into_token_stream();
        if self.value.is_some() {
            self.cx
                .error_spanned_by(tokens, format!("duplicate dataflow attribute `{}`", self.name));
        } else {
            self.tokens = tokens;
            self.value = Some(value);
        }
    }

    pub fn get(self) -> Parsed<T> {
        Parsed { tokens: self.tokens, value: self.value }
    }
}

/// A parsed value with the tokens of its key, for later checks' error spans.
pub struct Parsed<T> {
    pub tokens: TokenStream,
    pub value: Option<T>,
}

impl<T> Parsed<T> {
    pub fn is_set(&self) -> bool {
        self.value.is_some()
    }
}

/// A flag attribute (`primary_key`, `auto`, `skip` …).
pub struct BoolAttr<'c>(Attr<'c, ()>);

impl<'c> BoolAttr<'c> {
    pub fn none(cx: &'c Ctxt, name: Symbol) -> Self {
        BoolAttr(Attr::none(cx, name))
    }

    pub fn set_true<A: ToTokens>(&mut self, obj: A) {
        self.0.set(obj, ());
    }

    pub fn get(self) -> Parsed<()> {
        self.0.get()
    }
}

/// A literal default value, as written.
#[derive(Clone)]
pub enum DefaultLit {
    Bool(bool),
    Int(String),
    Float(String),
    Str(String),
}

impl DefaultLit {
    pub fn kind(&self) -> &'static str {
        match self {
            DefaultLit::Bool(_) => "a bool",
            DefaultLit::Int(_) => "an integer",
            DefaultLit::Float(_) => "a float",
            DefaultLit::Str(_) => "a string",
        }
    }
}

/// `index(columns("a", "b"), name = "…", unique, method = "gin", predicate = "…")`.
pub struct IndexAttr {
    pub span: Span,
    pub columns: Vec<LitStr>,
    pub name: Option<String>,
    pub unique: bool,
    pub method: Option<LitStr>,
    pub predicate: Option<String>,
}

/// `unique(columns("a", "b"), name = "…")` and `primary_key(columns(…), name = "…")`.
pub struct KeyAttr {
    pub span: Span,
    pub columns: Vec<LitStr>,
    pub name: Option<String>,
}

/// The backfill strategies of a field.
#[derive(Clone)]
pub enum BackfillAttr {
    Computed(String),
    Case { cases: Vec<(String, String)>, otherwise: Option<String> },
    Sequence { start: i64, step: i64 },
    FkValue(DefaultLit),
    FkLookup { table: String, filter: String, column: Option<String> },
}

/// The accepted `on_delete` / `on_update` values and the action each names.
pub const FK_ACTIONS: &[(&str, &str)] = &[
    ("cascade", "Cascade"),
    ("restrict", "Restrict"),
    ("set null", "SetNull"),
    ("set_null", "SetNull"),
    ("set default", "SetDefault"),
    ("set_default", "SetDefault"),
    ("no action", "NoAction"),
    ("no_action", "NoAction"),
];

pub const INDEX_METHODS: &[&str] = &["btree", "hash", "gin", "gist", "brin"];

/// Struct-level attributes of `#[derive(Model)]`.
pub struct ContainerAttrs {
    pub table: Parsed<LitStr>,
    pub schema: Parsed<LitStr>,
    pub renamed_from: Parsed<LitStr>,
    pub comment: Parsed<String>,
    pub primary_key: Parsed<KeyAttr>,
    pub indexes: Vec<IndexAttr>,
    pub uniques: Vec<KeyAttr>,
    pub checks: Vec<LitStr>,
}

impl ContainerAttrs {
    pub fn from_ast(cx: &Ctxt, attrs: &[syn::Attribute]) -> Self {
        let mut table = Attr::none(cx, TABLE);
        let mut schema = Attr::none(cx, SCHEMA);
        let mut renamed_from = Attr::none(cx, RENAMED_FROM);
        let mut comment = Attr::none(cx, COMMENT);
        let mut primary_key = Attr::none(cx, PRIMARY_KEY);
        let mut indexes = Vec::new();
        let mut uniques = Vec::new();
        let mut checks = Vec::new();
        for_each_attribute(cx, attrs, |meta| {
            let path = meta.path.clone();
            if path == TABLE {
                table.set(&path, nonempty_str(cx, &meta)?);
            } else if path == SCHEMA {
                schema.set(&path, nonempty_str(cx, &meta)?);
            } else if path == RENAMED_FROM {
                renamed_from.set(&path, nonempty_str(cx, &meta)?);
            } else if path == COMMENT {
                comment.set(&path, get_str(&meta)?.value());
            } else if path == PRIMARY_KEY {
                primary_key.set(&path, parse_key(cx, &meta)?);
            } else if path == INDEX {
                indexes.push(parse_index(cx, &meta)?);
            } else if path == UNIQUE {
                uniques.push(parse_key(cx, &meta)?);
            } else if path == CHECK {
                checks.push(nonempty_str(cx, &meta)?);
            } else {
                unknown(cx, &meta, "struct", "table, schema, renamed_from, comment, primary_key(columns(…)), index(…), unique(…), check")?;
            }
            Ok(())
        });
        ContainerAttrs {
            table: table.get(),
            schema: schema.get(),
            renamed_from: renamed_from.get(),
            comment: comment.get(),
            primary_key: primary_key.get(),
            indexes,
            uniques,
            checks,
        }
    }
}

/// Field-level attributes of `#[derive(Model)]`.
pub struct FieldAttrs {
    pub column: Parsed<LitStr>,
    pub primary_key: Parsed<()>,
    pub auto: Parsed<()>,
    pub unique: Parsed<()>,
    pub index: Parsed<()>,
    pub skip: Parsed<()>,
    pub max_length: Parsed<u32>,
    pub default: Parsed<DefaultLit>,
    pub default_sql: Parsed<String>,
    pub sql_type: Parsed<String>,
    pub references: Parsed<LitStr>,
    pub on_delete: Parsed<&'static str>,
    pub on_update: Parsed<&'static str>,
    pub check: Parsed<String>,
    pub comment: Parsed<String>,
    pub renamed_from: Parsed<LitStr>,
    pub backfill: Parsed<BackfillAttr>,
}

impl FieldAttrs {
    /// Keys other than `skip` that are set, for "skip cannot be combined" errors.
    pub fn keys_besides_skip(&self) -> Vec<(&'static str, &TokenStream)> {
        let mut keys = Vec::new();
        macro_rules! collect {
            ($($field:ident),*) => {$(
                if self.$field.is_set() {
                    keys.push((stringify!($field), &self.$field.tokens));
                }
            )*};
        }
        collect!(
            column,
            primary_key,
            auto,
            unique,
            index,
            max_length,
            default,
            default_sql,
            sql_type,
            references,
            on_delete,
            on_update,
            check,
            comment,
            renamed_from,
            backfill
        );
        keys
    }

    pub fn from_ast(cx: &Ctxt, attrs: &[syn::Attribute]) -> Self {
        let mut column = Attr::none(cx, COLUMN);
        let mut primary_key = BoolAttr::none(cx, PRIMARY_KEY);
        let mut auto = BoolAttr::none(cx, AUTO);
        let mut unique = BoolAttr::none(cx, UNIQUE);
        let mut index = BoolAttr::none(cx, INDEX);
        let mut skip = BoolAttr::none(cx, SKIP);
        let mut max_length = Attr::none(cx, MAX_LENGTH);
        let mut default = Attr::none(cx, DEFAULT);
        let mut default_sql = Attr::none(cx, DEFAULT_SQL);
        let mut sql_type = Attr::none(cx, SQL_TYPE);
        let mut references = Attr::none(cx, REFERENCES);
        let mut on_delete = Attr::none(cx, ON_DELETE);
        let mut on_update = Attr::none(cx, ON_UPDATE);
        let mut check = Attr::none(cx, CHECK);
        let mut comment = Attr::none(cx, COMMENT);
        let mut renamed_from = Attr::none(cx, RENAMED_FROM);
        // All backfill keys share one slot: a field has one strategy.
        let mut backfill = Attr::none(cx, BACKFILL);
        for_each_attribute(cx, attrs, |meta| {
            let path = meta.path.clone();
            if path == COLUMN {
                column.set(&path, nonempty_str(cx, &meta)?);
            } else if path == PRIMARY_KEY {
                primary_key.set_true(&path);
            } else if path == AUTO {
                auto.set_true(&path);
            } else if path == UNIQUE {
                unique.set_true(&path);
            } else if path == INDEX {
                index.set_true(&path);
            } else if path == SKIP {
                skip.set_true(&path);
            } else if path == MAX_LENGTH {
                let lit: LitInt = meta.value()?.parse()?;
                match lit.base10_parse::<u32>() {
                    Ok(n) if n > 0 => max_length.set(&path, n),
                    _ => cx.error_spanned_by(
                        &lit,
                        "max_length must be a positive integer, e.g. max_length = 255",
                    ),
                }
            } else if path == DEFAULT {
                default.set(&path, parse_default_lit(&meta)?);
            } else if path == DEFAULT_SQL {
                default_sql.set(&path, nonempty_str(cx, &meta)?.value());
            } else if path == SQL_TYPE {
                sql_type.set(&path, nonempty_str(cx, &meta)?.value());
            } else if path == REFERENCES {
                references.set(&path, nonempty_str(cx, &meta)?);
            } else if path == ON_DELETE {
                if let Some(action) = parse_fk_action(cx, &meta)? {
                    on_delete.set(&path, action);
                }
            } else if path == ON_UPDATE {
                if let Some(action) = parse_fk_action(cx, &meta)? {
                    on_update.set(&path, action);
                }
            } else if path == CHECK {
                check.set(&path, nonempty_str(cx, &meta)?.value());
            } else if path == COMMENT {
                comment.set(&path, get_str(&meta)?.value());
            } else if path == RENAMED_FROM {
                renamed_from.set(&path, nonempty_str(cx, &meta)?);
            } else if [BACKFILL, BACKFILL_CASE, BACKFILL_SEQUENCE, BACKFILL_FK]
                .iter()
                .any(|k| path == *k)
            {
                let strategy = if path == BACKFILL {
                    Some(BackfillAttr::Computed(nonempty_str(cx, &meta)?.value()))
                } else if path == BACKFILL_CASE {
                    Some(parse_backfill_case(cx, &meta)?)
                } else if path == BACKFILL_SEQUENCE {
                    Some(parse_backfill_sequence(cx, &meta)?)
                } else {
                    parse_backfill_fk(cx, &meta)?
                };
                if backfill.value.is_some() {
                    let first = backfill.tokens.to_string();
                    cx.error_spanned_by(
                        &path,
                        format!(
                            "a field has one backfill strategy: `{}` conflicts with `{first}`",
                            path.to_token_stream()
                        ),
                    );
                } else if let Some(strategy) = strategy {
                    backfill.set(&path, strategy);
                }
            } else {
                unknown(cx, &meta, "field", "column, primary_key, auto, unique, index, max_length, default, default_sql, sql_type, references, on_delete, on_update, check, comment, renamed_from, skip, backfill, backfill_case, backfill_sequence, backfill_fk")?;
            }
            Ok(())
        });
        FieldAttrs {
            column: column.get(),
            primary_key: primary_key.get(),
            auto: auto.get(),
            unique: unique.get(),
            index: index.get(),
            skip: skip.get(),
            max_length: max_length.get(),
            default: default.get(),
            default_sql: default_sql.get(),
            sql_type: sql_type.get(),
            references: references.get(),
            on_delete: on_delete.get(),
            on_update: on_update.get(),
            check: check.get(),
            comment: comment.get(),
            renamed_from: renamed_from.get(),
            backfill: backfill.get(),
        }
    }
}

/// Runs `parse` on every key of every `#[dataflow(...)]` attribute; a parse error is
/// recorded and the next attribute still parsed.
pub fn for_each_attribute(
    cx: &Ctxt,
    attrs: &[syn::Attribute],
    mut parse: impl FnMut(ParseNestedMeta) -> syn::Result<()>,
) {
    for attr in attrs.iter().filter(|a| a.path() == DATAFLOW) {
        if let Err(err) = attr.parse_nested_meta(&mut parse) {
            cx.syn_error(err);
        }
    }
}

/// Records "unknown attribute" and skips the key's value, so parsing goes on.
pub fn unknown(cx: &Ctxt, meta: &ParseNestedMeta, level: &str, known: &str) -> syn::Result<()> {
    let name = meta.path.to_token_stream().to_string().replace(' ', "");
    cx.error_spanned_by(
        &meta.path,
        format!("unknown dataflow {level} attribute `{name}`; expected one of: {known}"),
    );
    skip_value(meta)
}

/// Consumes `= value` or `(…)` after a key.
fn skip_value(meta: &ParseNestedMeta) -> syn::Result<()> {
    if meta.input.peek(syn::Token![=]) {
        let _: Expr = meta.value()?.parse()?;
    } else if meta.input.peek(syn::token::Paren) {
        let _content;
        syn::parenthesized!(_content in meta.input);
        let _: TokenStream = _content.parse()?;
    }
    Ok(())
}

fn get_str(meta: &ParseNestedMeta) -> syn::Result<LitStr> {
    let value = meta.value()?;
    match value.parse::<Lit>()? {
        Lit::Str(s) => Ok(s),
        other => Err(syn::Error::new(
            other.span(),
            format!(
                "`{}` expects a string, e.g. {} = \"…\"",
                meta.path.to_token_stream(),
                meta.path.to_token_stream()
            ),
        )),
    }
}

fn nonempty_str(cx: &Ctxt, meta: &ParseNestedMeta) -> syn::Result<LitStr> {
    let lit = get_str(meta)?;
    if lit.value().trim().is_empty() {
        cx.error_spanned_by(&lit, format!("`{}` cannot be empty", meta.path.to_token_stream()));
    }
    Ok(lit)
}

fn parse_default_lit(meta: &ParseNestedMeta) -> syn::Result<DefaultLit> {
    let expr: Expr = meta.value()?.parse()?;
    let (negative, lit) = match &expr {
        Expr::Lit(ExprLit { lit, .. }) => (false, lit.clone()),
        Expr::Unary(ExprUnary { op: UnOp::Neg(_), expr: inner, .. }) => match &**inner {
            Expr::Lit(ExprLit { lit, .. }) => (true, lit.clone()),
            _ => return Err(not_a_literal(&expr)),
        },
        _ => return Err(not_a_literal(&expr)),
    };
    let sign = if negative { "-" } else { "" };
    Ok(match lit {
        Lit::Bool(b) if !negative => DefaultLit::Bool(b.value),
        Lit::Int(i) => DefaultLit::Int(format!("{sign}{}", i.base10_digits())),
        Lit::Float(f) => DefaultLit::Float(format!("{sign}{}", f.base10_digits())),
        Lit::Str(s) if !negative => DefaultLit::Str(s.value()),
        _ => return Err(not_a_literal(&expr)),
    })
}

fn not_a_literal(expr: &Expr) -> syn::Error {
    syn::Error::new_spanned(
        expr,
        "`default` takes a literal (true, 42, -1.5, \"text\"); use default_sql = \"…\" for an SQL expression",
    )
}

fn parse_fk_action(cx: &Ctxt, meta: &ParseNestedMeta) -> syn::Result<Option<&'static str>> {
    let lit = get_str(meta)?;
    let value = lit.value().trim().to_ascii_lowercase();
    match FK_ACTIONS.iter().find(|(spelling, _)| *spelling == value) {
        Some((_, action)) => Ok(Some(action)),
        None => {
            cx.error_spanned_by(
                &lit,
                format!(
                    "unknown `{}` action {:?}; expected \"cascade\", \"restrict\", \"set null\", \"set default\" or \"no action\"",
                    meta.path.to_token_stream(),
                    lit.value()
                ),
            );
            Ok(None)
        }
    }
}

/// `columns("a", "b")`.
fn parse_columns(meta: &ParseNestedMeta) -> syn::Result<Vec<LitStr>> {
    let content;
    syn::parenthesized!(content in meta.input);
    let list = content.parse_terminated(|input| input.parse::<LitStr>(), syn::Token![,])?;
    Ok(list.into_iter().collect())
}

fn parse_index(cx: &Ctxt, meta: &ParseNestedMeta) -> syn::Result<IndexAttr> {
    let span = meta.path.span();
    let mut columns = Attr::none(cx, COLUMNS);
    let mut name = Attr::none(cx, NAME);
    let mut unique = BoolAttr::none(cx, UNIQUE);
    let mut method = Attr::none(cx, METHOD);
    let mut predicate = Attr::none(cx, PREDICATE);
    meta.parse_nested_meta(|inner| {
        let path = inner.path.clone();
        if path == COLUMNS {
            columns.set(&path, parse_columns(&inner)?);
        } else if path == NAME {
            name.set(&path, nonempty_str(cx, &inner)?.value());
        } else if path == UNIQUE {
            unique.set_true(&path);
        } else if path == METHOD {
            let lit = get_str(&inner)?;
            if !INDEX_METHODS.contains(&lit.value().to_ascii_lowercase().as_str()) {
                cx.error_spanned_by(
                    &lit,
                    format!(
                        "unknown index method {:?}; expected one of: {}",
                        lit.value(),
                        INDEX_METHODS.join(", ")
                    ),
                );
            }
            method.set(&path, lit);
        } else if path == PREDICATE {
            predicate.set(&path, nonempty_str(cx, &inner)?.value());
        } else {
            unknown(cx, &inner, "index", "columns(…), name, unique, method, predicate")?;
        }
        Ok(())
    })?;
    let columns = columns.get();
    if !columns.is_set() {
        cx.syn_error(syn::Error::new(span, "index(…) needs columns(\"a\", …)"));
    }
    Ok(IndexAttr {
        span,
        columns: columns.value.unwrap_or_default(),
        name: name.get().value,
        unique: unique.get().is_set(),
        method: method.get().value,
        predicate: predicate.get().value,
    })
}

fn parse_key(cx: &Ctxt, meta: &ParseNestedMeta) -> syn::Result<KeyAttr> {
    let span = meta.path.span();
    let level = meta.path.to_token_stream().to_string();
    if !meta.input.peek(syn::token::Paren) {
        return Err(meta.error(format!(
            "at struct level `{level}` takes columns: {level}(columns(\"a\", \"b\"))"
        )));
    }
    let mut columns = Attr::none(cx, COLUMNS);
    let mut name = Attr::none(cx, NAME);
    meta.parse_nested_meta(|inner| {
        let path = inner.path.clone();
        if path == COLUMNS {
            columns.set(&path, parse_columns(&inner)?);
        } else if path == NAME {
            name.set(&path, nonempty_str(cx, &inner)?.value());
        } else {
            unknown(cx, &inner, &level, "columns(…), name")?;
        }
        Ok(())
    })?;
    let columns = columns.get();
    if !columns.is_set() {
        cx.syn_error(syn::Error::new(span, format!("{level}(…) needs columns(\"a\", …)")));
    }
    Ok(KeyAttr { span, columns: columns.value.unwrap_or_default(), name: name.get().value })
}

fn parse_backfill_case(cx: &Ctxt, meta: &ParseNestedMeta) -> syn::Result<BackfillAttr> {
    let mut cases = Vec::new();
    let mut otherwise = Attr::none(cx, ELSE);
    meta.parse_nested_meta(|inner| {
        let path = inner.path.clone();
        if path == WHEN {
            let content;
            syn::parenthesized!(content in inner.input);
            let condition: LitStr = content.parse()?;
            content.parse::<syn::Token![,]>()?;
            let value: LitStr = content.parse()?;
            cases.push((condition.value(), value.value()));
        } else if path == ELSE {
            otherwise.set(&path, nonempty_str(cx, &inner)?.value());
        } else {
            unknown(
                cx,
                &inner,
                "backfill_case",
                "when(\"condition\", \"value\"), else = \"value\"",
            )?;
        }
        Ok(())
    })?;
    if cases.is_empty() {
        cx.error_spanned_by(
            &meta.path,
            "backfill_case(…) needs at least one when(\"condition\", \"value\")",
        );
    }
    Ok(BackfillAttr::Case { cases, otherwise: otherwise.get().value })
}

fn parse_i64(meta: &ParseNestedMeta) -> syn::Result<i64> {
    let expr: Expr = meta.value()?.parse()?;
    let (negative, lit) = match &expr {
        Expr::Lit(ExprLit { lit: Lit::Int(i), .. }) => (false, i.clone()),
        Expr::Unary(ExprUnary { op: UnOp::Neg(_), expr: inner, .. }) => match &**inner {
            Expr::Lit(ExprLit { lit: Lit::Int(i), .. }) => (true, i.clone()),
            _ => return Err(syn::Error::new_spanned(&expr, "expected an integer")),
        },
        _ => return Err(syn::Error::new_spanned(&expr, "expected an integer")),
    };
    let value: i64 = lit.base10_parse()?;
    Ok(if negative { -value } else { value })
}

fn parse_backfill_sequence(cx: &Ctxt, meta: &ParseNestedMeta) -> syn::Result<BackfillAttr> {
    let mut start = Attr::none(cx, START);
    let mut step = Attr::none(cx, STEP);
    meta.parse_nested_meta(|inner| {
        let path = inner.path.clone();
        if path == START {
            start.set(&path, parse_i64(&inner)?);
        } else if path == STEP {
            let value = parse_i64(&inner)?;
            if value == 0 {
                cx.error_spanned_by(&path, "backfill_sequence step cannot be 0");
            }
            step.set(&path, value);
        } else {
            unknown(cx, &inner, "backfill_sequence", "start, step")?;
        }
        Ok(())
    })?;
    Ok(BackfillAttr::Sequence {
        start: start.get().value.unwrap_or(1),
        step: step.get().value.unwrap_or(1),
    })
}

fn parse_backfill_fk(cx: &Ctxt, meta: &ParseNestedMeta) -> syn::Result<Option<BackfillAttr>> {
    let mut value = Attr::none(cx, VALUE);
    let mut table = Attr::none(cx, TABLE);
    let mut filter = Attr::none(cx, WHERE);
    let mut column = Attr::none(cx, COLUMN);
    meta.parse_nested_meta(|inner| {
        let path = inner.path.clone();
        if path == VALUE {
            value.set(&path, parse_default_lit(&inner)?);
        } else if path == TABLE {
            table.set(&path, nonempty_str(cx, &inner)?.value());
        } else if path == WHERE {
            filter.set(&path, nonempty_str(cx, &inner)?.value());
        } else if path == COLUMN {
            column.set(&path, nonempty_str(cx, &inner)?.value());
        } else {
            unknown(cx, &inner, "backfill_fk", "value, or table + where (+ column)")?;
        }
        Ok(())
    })?;
    let (value, table, filter, column) = (value.get(), table.get(), filter.get(), column.get());
    match (value.value, table.value, filter.value) {
        (Some(value), None, None) if !column.is_set() => Ok(Some(BackfillAttr::FkValue(value))),
        (None, Some(table), Some(filter)) => {
            Ok(Some(BackfillAttr::FkLookup { table, filter, column: column.value }))
        }
        _ => {
            cx.error_spanned_by(
                &meta.path,
                "backfill_fk takes either value = … or table = \"…\", where = \"…\" (and optionally column = \"…\")",
            );
            Ok(None)
        }
    }
}
