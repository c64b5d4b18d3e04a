//! Properties of the functions that turn names and values into SQL text and of the
//! normalisers that read the catalogs' text back, checked on arbitrary input by the
//! `cargo fuzz` targets in `fuzz/` and by a fixed-seed slice in the tests
//! (`dataflow-schema/tests/invariants.rs`). Each function panics, saying what broke, when
//! a property does not hold; none touches a database.

use crate::dialect::{mysql, postgres, sqlite};
use crate::fragment::check_fragment;
use crate::model::ColumnType;
use crate::normalize::{expression_key, parsed_expression_key};

/// Identifier and literal quoting, on every dialect: the quoted text reads back as
/// exactly `text` (no input can end the quote early). A PostgreSQL literal is also one
/// fragment to [`check_fragment`], which reads quotes both with and without backslash
/// escapes (SQLite and MySQL texts with a `\'` in them read differently the two ways,
/// so the check refuses them in model SQL: conservative, by design).
pub fn quoting(text: &str) {
    for (dialect, quote, quoted) in [
        ("postgres", '"', postgres::quote_ident(text)),
        ("sqlite", '"', sqlite::quote_ident(text)),
        ("mysql", '`', mysql::quote_ident(text)),
    ] {
        assert_eq!(
            read_quoted(&quoted, quote, false).as_deref(),
            Some(text),
            "{dialect} identifier {text:?} quoted as {quoted}"
        );
    }
    let pg = postgres::quote_literal(text);
    let pg_read = match pg.strip_prefix('E') {
        Some(escaped) => read_quoted(escaped, '\'', true),
        None => read_quoted(&pg, '\'', false),
    };
    assert_eq!(pg_read.as_deref(), Some(text), "postgres literal {text:?} quoted as {pg}");
    assert_one_fragment("postgres", text, &pg);
    let lite = sqlite::quote_literal(text);
    assert_eq!(
        read_quoted(&lite, '\'', false).as_deref(),
        Some(text),
        "sqlite literal {text:?} quoted as {lite}"
    );

    let my = mysql::quote_literal(text);
    assert_eq!(
        read_quoted(&my, '\'', true).as_deref(),
        Some(text),
        "mysql literal {text:?} quoted as {my}"
    );
}

fn assert_one_fragment(dialect: &str, text: &str, quoted: &str) {
    // NUL bytes are refused before anything is rendered (and by the check itself).
    if !text.contains('\0') {
        assert_eq!(check_fragment(quoted), None, "{dialect}: {text:?} quoted as {quoted}");
    }
}

/// Reads one quoted token spanning all of `sql` the way a server's lexer does: a doubled
/// quote is one quote, and with `backslash_escapes` a backslash takes the next character
/// literally. `None` when the quote ends before the text does or never ends.
fn read_quoted(sql: &str, quote: char, backslash_escapes: bool) -> Option<String> {
    let mut chars = sql.strip_prefix(quote)?.chars().peekable();
    let mut value = String::new();
    while let Some(c) = chars.next() {
        if backslash_escapes && c == '\\' {
            value.push(chars.next()?);
        } else if c == quote {
            if chars.peek() == Some(&quote) {
                chars.next();
                value.push(quote);
            } else {
                return chars.next().is_none().then_some(value);
            }
        } else {
            value.push(c);
        }
    }
    None
}

type Parse = fn(&str) -> ColumnType;
type Render = fn(&ColumnType) -> String;

/// Type parsing, on every dialect: any text parses without panicking, and a type it
/// recognises, rendered and parsed again, is the same type (what introspection reads
/// back from what the engine wrote). Unrecognised text stays `Other`.
pub fn type_parsing(text: &str) {
    let dialects: [(&str, Parse, Render); 3] = [
        ("postgres", ColumnType::from_sql, postgres::render_type),
        ("mysql", mysql::parse_type, mysql::render_type),
        ("sqlite", sqlite::parse_type, sqlite::render_type),
    ];
    for (dialect, parse, render) in dialects {
        let parsed = parse(text);
        if matches!(parsed, ColumnType::Other(_)) {
            continue;
        }
        let again = parse(&render(&parsed));
        assert_eq!(again, parsed, "{dialect} type {text:?} → {parsed:?} → {again:?}");
    }
}

/// Expression normalising (defaults, checks, predicates read from a catalog are compared
/// by their key): any text gets a key without panicking, and when the parser reads an
/// ASCII expression and then its key whole, the key's key is the key. (Invalid SQL such
/// as `1 +++ some` can give a key the parser does not read back; that is not checked.)
pub fn expression_normalising(text: &str) {
    let key = expression_key(text);
    if !text.is_ascii() {
        return;
    }
    if let Some(parsed) = parsed_expression_key(text) {
        if let Some(again) = parsed_expression_key(&parsed) {
            assert_eq!(again, key, "expression {text:?} → key {key:?} → {again:?}");
        }
    }
}
