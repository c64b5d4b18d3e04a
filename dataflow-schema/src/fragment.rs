//! SQL written in model attributes (`check`, `predicate`, `default_sql`, `backfill*`,
//! `sql_type`, index expressions) is the application's own code, rendered verbatim. It
//! must still be *one fragment*: a statement terminator, a comment or an unbalanced
//! parenthesis outside quotes would let it end the statement it is placed in and start
//! another (`x > 0); DROP TABLE users; --`). [`check_fragment`] refuses those.
//!
//! Quotes are read both ways — with backslash escapes (MySQL, PostgreSQL `E''`) and
//! without (standard SQL) — and the text must be clean under both, so `'\'` cannot hide a
//! `;` from one dialect while showing it to another.

/// Why `text` is not a single fragment, or `None` when it is.
pub fn check_fragment(text: &str) -> Option<String> {
    check(text, Lexer::Postgres)
}

/// [`check_fragment`] as MySQL lexes: it has no dollar-quoted strings (`$$` is a name
/// there, so a `;` between two `$$` would end the statement), and it reads a double quote
/// as a string where PostgreSQL and SQLite read a name, so one is refused.
pub fn check_mysql_fragment(text: &str) -> Option<String> {
    check(text, Lexer::Mysql)
}

/// [`check_fragment`] as SQLite lexes: no dollar-quoted strings either (a `;` between two
/// `$$` ends the statement there); a double quote is a name, as in PostgreSQL.
pub fn check_sqlite_fragment(text: &str) -> Option<String> {
    check(text, Lexer::Sqlite)
}

/// Whose quoting rules a fragment is read with.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Lexer {
    /// PostgreSQL: dollar-quoted strings; a double quote is a name.
    Postgres,
    /// No dollar quotes; a double quote is a string.
    Mysql,
    /// No dollar quotes; a double quote is a name.
    Sqlite,
}

fn check(text: &str, lexer: Lexer) -> Option<String> {
    if text.contains('\0') {
        return Some("it contains a NUL byte".into());
    }
    scan(text, false, lexer).or_else(|| scan(text, true, lexer))
}

fn scan(text: &str, backslash_escapes: bool, lexer: Lexer) -> Option<String> {
    let chars: Vec<char> = text.chars().collect();
    let mut depth: i64 = 0;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '"' if lexer == Lexer::Mysql => {
                return Some(
                    "it uses double quotes, which MySQL reads as a string, not a name \
                     (PostgreSQL and SQLite read a name): write `name` for a column or 'text' \
                     for a string"
                        .into(),
                )
            }
            '\'' | '"' | '`' => match closing(&chars, i, c, backslash_escapes) {
                Some(end) => i = end,
                None => return Some(format!("a {c} quote is never closed")),
            },
            '$' if lexer == Lexer::Postgres => {
                // A PostgreSQL dollar quote: `$$…$$` or `$tag$…$tag$`.
                if let Some(tag_end) = dollar_tag(&chars, i) {
                    let tag: String = chars[i..=tag_end].iter().collect();
                    let rest: String = chars[tag_end + 1..].iter().collect();
                    match rest.find(&tag) {
                        Some(at) => i = tag_end + rest[..at].chars().count() + tag.chars().count(),
                        None => return Some(format!("the dollar quote {tag} is never closed")),
                    }
                }
            }
            ';' => {
                return Some(
                    "it contains `;` outside quotes (one expression, not statements)".into(),
                )
            }
            '-' if chars.get(i + 1) == Some(&'-') => {
                return Some("it contains a `--` comment outside quotes".into())
            }
            '/' if chars.get(i + 1) == Some(&'*') => {
                return Some("it contains a `/*` comment outside quotes".into())
            }
            '#' => return Some("it contains `#` outside quotes (a comment on MySQL)".into()),
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth < 0 {
                    return Some("it closes a parenthesis it did not open".into());
                }
            }
            _ => {}
        }
        i += 1;
    }
    (depth != 0).then(|| "its parentheses are not balanced".into())
}

/// The index of the quote closing the one at `open`.
fn closing(chars: &[char], open: usize, quote: char, backslash_escapes: bool) -> Option<usize> {
    let mut i = open + 1;
    while i < chars.len() {
        let c = chars[i];
        if backslash_escapes && c == '\\' && quote == '\'' {
            i += 2;
            continue;
        }
        if c == quote {
            if chars.get(i + 1) == Some(&quote) {
                i += 2;
                continue;
            }
            return Some(i);
        }
        i += 1;
    }
    None
}

/// The end of a dollar-quote tag starting at `start` (`$$` or `$ident$`), if it is one.
fn dollar_tag(chars: &[char], start: usize) -> Option<usize> {
    let mut i = start + 1;
    while i < chars.len() {
        match chars[i] {
            '$' => return Some(i),
            c if c.is_alphanumeric() || c == '_' => i += 1,
            _ => return None,
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::{check_fragment, check_sqlite_fragment, scan, Lexer};

    #[test]
    fn sqlite_has_no_dollar_strings_and_reads_double_quotes_as_names() {
        assert!(check_sqlite_fragment("length($$;$$) > 0").is_some_and(|p| p.contains("`;`")));
        assert_eq!(check_sqlite_fragment("\"a;b\" > 0"), None);
        assert_eq!(check_fragment("length($$;$$) > 0"), None, "PostgreSQL reads a string");
    }

    #[test]
    fn mysql_lexes_its_own_quotes_and_has_no_dollar_strings() {
        let mysql = |text, escapes| scan(text, escapes, Lexer::Mysql);
        assert_eq!(
            mysql("v > 0 OR $$)); DROP TABLE x; -- $$ = 'x'", true).as_deref(),
            Some("it closes a parenthesis it did not open")
        );
        assert!(mysql("length($$;$$) > 0", true).is_some_and(|p| p.contains("`;`")));
        assert_eq!(mysql("v > length('a;b--c/*d#e\"f') AND `w;` > 0", true), None);
        // `\'` ends the string when backslashes are not escapes: then `;` is outside.
        assert_eq!(mysql(r"v <> 'a\'; x'", true), None);
        assert!(mysql(r"v <> 'a\'; x'", false).is_some());
        assert_eq!(mysql("(v > 0", true).as_deref(), Some("its parentheses are not balanced"));
    }

    #[test]
    fn expressions_pass() {
        for ok in [
            "price >= 0",
            "status IN ('a;b', 'c--d', 'e/*f')",
            "name ~ '^\\d+$'",
            "\"weird;name\" > 0",
            "`order` > 0",
            "lower(email)",
            "$$a;b$$ <> ''",
            "'it''s'",
            "now() - interval '1 day'",
            "x - -1",
        ] {
            assert_eq!(check_fragment(ok), None, "{ok}");
        }
    }

    #[test]
    fn statement_breakouts_are_refused() {
        for bad in [
            "x > 0); DROP TABLE users; --",
            "1; DROP TABLE users",
            "x > 0 -- hide the rest",
            "x /* unterminated",
            "x > 0)",
            "(x > 0",
            "'unterminated",
            "'a\\'; DROP TABLE users; --'",
            "x # mysql comment",
            "$$never closed",
        ] {
            assert!(check_fragment(bad).is_some(), "{bad}");
        }
    }
}
