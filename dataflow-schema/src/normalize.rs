//! Normalisation of SQL expressions (defaults, checks, index predicates and expressions)
//! so that what a model says and what the server prints back compare equal.
//!
//! PostgreSQL stores expressions parsed and prints them its own way: every operator
//! parenthesised, literals cast (`'a'::text`, `(0)::numeric`), `IN (…)` as
//! `= ANY (ARRAY[…])`, `LIKE` as `~~`, `BETWEEN` as two comparisons, keywords in
//! upper case. [`expression_key`] parses an expression (a small Pratt parser over SQL
//! tokens) and prints one canonical form for all of these spellings. It is used only to
//! *compare*; the SQL a plan renders is always the text the model gave. Anything it cannot
//! parse falls back to a token-level normal form, so the worst case is a change planned
//! again, never a change missed for a different expression.

use std::fmt::Write;

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Word(String),
    Quoted(String),
    Str(String),
    Num(String),
    Op(String),
    Open,
    Close,
    Comma,
    LBracket,
    RBracket,
    Dot,
    Cast,
}

/// A dollar-quoted string starting at `start`: its text and the index after it.
fn dollar_quoted(chars: &[char], start: usize) -> Option<(String, usize)> {
    if chars.get(start) != Some(&'$') {
        return None;
    }
    let mut i = start + 1;
    while chars.get(i).is_some_and(|c| c.is_alphanumeric() || *c == '_') {
        i += 1;
    }
    if chars.get(i) != Some(&'$') {
        return None;
    }
    let tag = &chars[start..=i];
    let body_start = i + 1;
    let mut j = body_start;
    while j + tag.len() <= chars.len() {
        if &chars[j..j + tag.len()] == tag {
            return Some((chars[body_start..j].iter().collect(), j + tag.len()));
        }
        j += 1;
    }
    None
}

fn tokenize(text: &str) -> Option<Vec<Token>> {
    let chars: Vec<char> = text.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if c == '\'' || ((c == 'e' || c == 'E') && chars.get(i + 1) == Some(&'\'')) {
            let escaped = c != '\'';
            i += if escaped { 2 } else { 1 };
            let mut value = String::new();
            loop {
                let ch = *chars.get(i)?;
                if ch == '\'' {
                    if chars.get(i + 1) == Some(&'\'') {
                        value.push('\'');
                        i += 2;
                        continue;
                    }
                    i += 1;
                    break;
                }
                if escaped && ch == '\\' {
                    value.push(*chars.get(i + 1)?);
                    i += 2;
                    continue;
                }
                value.push(ch);
                i += 1;
            }
            tokens.push(Token::Str(value));
        } else if let Some((value, end)) = dollar_quoted(&chars, i) {
            // `$$…$$` / `$tag$…$tag$`: PostgreSQL prints it back as a plain string.
            tokens.push(Token::Str(value));
            i = end;
        } else if c == '"' || c == '`' {
            // A quoted identifier: `"…"`, or MySQL's backticks.
            let quote = c;
            let mut value = String::new();
            i += 1;
            loop {
                let ch = *chars.get(i)?;
                if ch == quote {
                    if chars.get(i + 1) == Some(&quote) {
                        value.push(quote);
                        i += 2;
                        continue;
                    }
                    i += 1;
                    break;
                }
                value.push(ch);
                i += 1;
            }
            tokens.push(Token::Quoted(value));
        } else if c.is_ascii_digit() {
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_digit() || chars[i] == '.') {
                i += 1;
            }
            if i < chars.len() && (chars[i] == 'e' || chars[i] == 'E') {
                i += 1;
                if i < chars.len() && (chars[i] == '-' || chars[i] == '+') {
                    i += 1;
                }
                while i < chars.len() && chars[i].is_ascii_digit() {
                    i += 1;
                }
            }
            tokens.push(Token::Num(chars[start..i].iter().collect()));
        } else if c.is_alphabetic() || c == '_' {
            let start = i;
            while i < chars.len()
                && (chars[i].is_alphanumeric() || chars[i] == '_' || chars[i] == '$')
            {
                i += 1;
            }
            tokens.push(Token::Word(chars[start..i].iter().collect::<String>().to_lowercase()));
        } else {
            i += 1;
            tokens.push(match c {
                '(' => Token::Open,
                ')' => Token::Close,
                ',' => Token::Comma,
                '[' => Token::LBracket,
                ']' => Token::RBracket,
                '.' => Token::Dot,
                ':' if chars.get(i) == Some(&':') => {
                    i += 1;
                    Token::Cast
                }
                _ => {
                    let mut op = c.to_string();
                    while i < chars.len() && "+-*/<>=~!@#%^&|`?".contains(chars[i]) {
                        // `-` or `+` after another operator starts a signed operand.
                        if (chars[i] == '-' || chars[i] == '+') && !op.is_empty() {
                            break;
                        }
                        op.push(chars[i]);
                        i += 1;
                    }
                    Token::Op(if op == "!=" { "<>".into() } else { op })
                }
            });
        }
    }
    Some(tokens)
}

#[derive(Debug, Clone, PartialEq)]
enum Node {
    Atom(String),
    Str(String),
    Num(String),
    Unary(String, Box<Node>),
    Binary(String, Box<Node>, Box<Node>),
    Postfix(Box<Node>, String),
    Call(String, Vec<Node>),
    Array(Vec<Node>),
    Cast(Box<Node>, String),
    Raw(String),
}

struct Parser {
    tokens: Vec<Token>,
    pos: usize,
}

const TYPE_WORDS: &[&str] = &[
    "precision",
    "varying",
    "with",
    "without",
    "time",
    "zone",
    "double",
    "character",
    "bit",
    "timestamp",
    "interval",
];

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.pos)
    }

    fn peek_word(&self) -> Option<&str> {
        match self.peek() {
            Some(Token::Word(w)) => Some(w),
            _ => None,
        }
    }

    fn next(&mut self) -> Option<Token> {
        let token = self.tokens.get(self.pos).cloned();
        self.pos += 1;
        token
    }

    fn eat(&mut self, token: &Token) -> bool {
        if self.peek() == Some(token) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn eat_word(&mut self, word: &str) -> bool {
        if self.peek_word() == Some(word) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn expect(&mut self, token: &Token) -> Option<()> {
        self.eat(token).then_some(())
    }

    /// Binding power of the infix operator at the cursor (PostgreSQL's precedence).
    fn infix_power(&self) -> Option<u8> {
        Some(match self.peek()? {
            Token::Word(w) => match w.as_str() {
                "or" => 1,
                "and" => 2,
                "is" | "isnull" | "notnull" => 4,
                "like" | "ilike" | "in" | "between" | "similar" => 6,
                "not" => 6,
                _ => return None,
            },
            Token::Op(op) => match op.as_str() {
                "=" | "<" | ">" | "<=" | ">=" | "<>" => 5,
                "+" | "-" => 8,
                "*" | "/" | "%" => 9,
                "^" => 10,
                _ => 7,
            },
            Token::Cast => 12,
            Token::LBracket => 13,
            _ => return None,
        })
    }

    fn expr(&mut self, min_power: u8) -> Option<Node> {
        let mut lhs = self.prefix()?;
        while let Some(power) = self.infix_power() {
            if power <= min_power {
                break;
            }
            lhs = self.infix(lhs, power)?;
        }
        Some(lhs)
    }

    fn prefix(&mut self) -> Option<Node> {
        match self.next()? {
            Token::Open => {
                let inner = self.expr(0)?;
                self.expect(&Token::Close)?;
                Some(inner)
            }
            Token::Str(s) => Some(Node::Str(s)),
            Token::Num(n) => Some(Node::Num(n)),
            Token::Quoted(q) => self.name_tail(quoted_name(&q)),
            Token::Op(op) if op == "-" || op == "+" => {
                let operand = self.expr(11)?;
                Some(match (op.as_str(), operand) {
                    ("-", Node::Num(n)) => Node::Num(format!("-{n}")),
                    ("+", node) => node,
                    (op, node) => Node::Unary(op.to_owned(), Box::new(node)),
                })
            }
            Token::Word(w) => match w.as_str() {
                "not" => Some(Node::Unary("NOT".into(), Box::new(self.expr(3)?))),
                "array" => {
                    self.expect(&Token::LBracket)?;
                    let items = self.list(&Token::RBracket)?;
                    Some(Node::Array(items))
                }
                "case" => self.case(),
                "true" | "false" | "null" => Some(Node::Atom(w)),
                _ => self.name_tail(w),
            },
            _ => None,
        }
    }

    /// A dotted name, optionally a function call.
    fn name_tail(&mut self, mut name: String) -> Option<Node> {
        while self.eat(&Token::Dot) {
            match self.next()? {
                Token::Word(w) => name = format!("{name}.{w}"),
                Token::Quoted(q) => name = format!("{name}.{}", quoted_name(&q)),
                _ => return None,
            }
        }
        if self.eat(&Token::Open) {
            if self.eat(&Token::Close) {
                return Some(Node::Call(name, Vec::new()));
            }
            let args = self.list(&Token::Close)?;
            return Some(Node::Call(name, args));
        }
        Some(Node::Atom(name))
    }

    fn list(&mut self, close: &Token) -> Option<Vec<Node>> {
        let mut items = Vec::new();
        if self.eat(close) {
            return Some(items);
        }
        loop {
            items.push(self.expr(0)?);
            if self.eat(close) {
                return Some(items);
            }
            self.expect(&Token::Comma)?;
        }
    }

    /// `CASE … END` is kept as its canonical token text.
    fn case(&mut self) -> Option<Node> {
        let mut depth = 1;
        let mut text = String::from("case");
        while depth > 0 {
            let token = self.next()?;
            match &token {
                Token::Word(w) if w == "case" => depth += 1,
                Token::Word(w) if w == "end" => depth -= 1,
                _ => {}
            }
            text.push(' ');
            text.push_str(&token_text(&token));
        }
        Some(Node::Raw(text))
    }

    fn type_name(&mut self) -> Option<String> {
        let mut words = Vec::new();
        while let Some(token) = self.peek() {
            match token {
                Token::Word(w) if words.is_empty() || TYPE_WORDS.contains(&w.as_str()) => {
                    words.push(w.clone());
                    self.pos += 1;
                }
                Token::Quoted(q) if words.is_empty() => {
                    words.push(quoted_name(q));
                    self.pos += 1;
                }
                Token::Dot if !words.is_empty() => {
                    self.pos += 1;
                    let last = words.pop()?;
                    let next = match self.next()? {
                        Token::Quoted(q) => quoted_name(&q),
                        other => token_text(&other),
                    };
                    words.push(format!("{last}.{next}"));
                }
                _ => break,
            }
        }
        let mut name = words.join(" ");
        if self.eat(&Token::Open) {
            let args = self.list(&Token::Close)?;
            let args: Vec<String> = args.iter().map(print).collect();
            name = format!("{name}({})", args.join(","));
        }
        while self.eat(&Token::LBracket) {
            self.expect(&Token::RBracket)?;
            name.push_str("[]");
        }
        if name.contains('"') {
            // A quoted (user-defined) type keeps its case: not a built-in to fold.
            return Some(name);
        }
        (!name.is_empty()).then(|| {
            crate::dialect::postgres::render_type(&crate::model::ColumnType::from_sql(&name))
        })
    }

    fn infix(&mut self, lhs: Node, power: u8) -> Option<Node> {
        match self.next()? {
            Token::Cast => {
                let ty = self.type_name()?;
                Some(match lhs {
                    // The server casts literals to the column's type; the literal is the same.
                    Node::Str(s) if is_number(&s) && is_numeric_type(&ty) => Node::Num(s),
                    literal @ (Node::Str(_) | Node::Num(_)) => literal,
                    Node::Atom(a) if a == "null" => Node::Atom(a),
                    Node::Array(items) => Node::Array(items),
                    // Implicit casts the server adds to resolve text operators.
                    atom @ Node::Atom(_) if ty == "text" || ty.starts_with("varchar") => atom,
                    other => Node::Cast(Box::new(other), ty),
                })
            }
            Token::LBracket => {
                let index = self.expr(0)?;
                self.expect(&Token::RBracket)?;
                Some(Node::Binary("[]".into(), Box::new(lhs), Box::new(index)))
            }
            Token::Op(op) => {
                if let Some(word @ ("any" | "all" | "some")) =
                    self.peek_word().map(str::to_owned).as_deref()
                {
                    self.pos += 1;
                    self.expect(&Token::Open)?;
                    let inner = self.expr(0)?;
                    self.expect(&Token::Close)?;
                    let word = if word == "some" { "any" } else { word };
                    return Some(Node::Binary(
                        op,
                        Box::new(lhs),
                        Box::new(Node::Call(word.into(), vec![inner])),
                    ));
                }
                let rhs = self.expr(power)?;
                Some(Node::Binary(op, Box::new(lhs), Box::new(rhs)))
            }
            Token::Word(w) => self.word_infix(lhs, &w, power),
            _ => None,
        }
    }

    fn word_infix(&mut self, lhs: Node, word: &str, power: u8) -> Option<Node> {
        match word {
            "and" | "or" => {
                let rhs = self.expr(power)?;
                Some(Node::Binary(word.to_uppercase(), Box::new(lhs), Box::new(rhs)))
            }
            "isnull" => Some(Node::Postfix(Box::new(lhs), "IS NULL".into())),
            "notnull" => Some(Node::Postfix(Box::new(lhs), "IS NOT NULL".into())),
            "is" => {
                let not = self.eat_word("not");
                let what = match self.next()? {
                    Token::Word(w) if w == "distinct" => {
                        if !self.eat_word("from") {
                            return None;
                        }
                        let rhs = self.expr(power)?;
                        let op = if not { "IS NOT DISTINCT FROM" } else { "IS DISTINCT FROM" };
                        return Some(Node::Binary(op.into(), Box::new(lhs), Box::new(rhs)));
                    }
                    Token::Word(w) => w.to_uppercase(),
                    _ => return None,
                };
                let text = if not { format!("IS NOT {what}") } else { format!("IS {what}") };
                Some(Node::Postfix(Box::new(lhs), text))
            }
            "not" => {
                let next = self.next()?;
                let Token::Word(w) = next else { return None };
                self.negatable(lhs, &w, true, power)
            }
            other => self.negatable(lhs, other, false, power),
        }
    }

    /// `LIKE`, `ILIKE`, `SIMILAR TO`, `IN`, `BETWEEN`, each optionally after `NOT`, in the
    /// form PostgreSQL prints them.
    fn negatable(&mut self, lhs: Node, word: &str, not: bool, power: u8) -> Option<Node> {
        match word {
            "like" | "ilike" => {
                let rhs = self.expr(power)?;
                let op = match (word, not) {
                    ("like", false) => "~~",
                    ("like", true) => "!~~",
                    ("ilike", false) => "~~*",
                    _ => "!~~*",
                };
                Some(Node::Binary(op.into(), Box::new(lhs), Box::new(rhs)))
            }
            "similar" => {
                if !self.eat_word("to") {
                    return None;
                }
                let rhs = self.expr(power)?;
                let op = if not { "NOT SIMILAR TO" } else { "SIMILAR TO" };
                Some(Node::Binary(op.into(), Box::new(lhs), Box::new(rhs)))
            }
            "in" => {
                self.expect(&Token::Open)?;
                let items = self.list(&Token::Close)?;
                let (op, quantifier) = if not { ("<>", "all") } else { ("=", "any") };
                let array = Node::Call(quantifier.into(), vec![Node::Array(items)]);
                Some(Node::Binary(op.into(), Box::new(lhs), Box::new(array)))
            }
            "between" => {
                let low = self.expr(6)?;
                if !self.eat_word("and") {
                    return None;
                }
                let high = self.expr(6)?;
                let (a, b, join) = if not { ("<", ">", "OR") } else { (">=", "<=", "AND") };
                Some(Node::Binary(
                    join.into(),
                    Box::new(Node::Binary(a.into(), Box::new(lhs.clone()), Box::new(low))),
                    Box::new(Node::Binary(b.into(), Box::new(lhs), Box::new(high))),
                ))
            }
            _ => None,
        }
    }
}

/// Words the expression parser treats as syntax rather than as names.
const SYNTAX_WORDS: &[&str] = &[
    "all", "and", "any", "array", "between", "case", "distinct", "else", "end", "false", "from",
    "ilike", "in", "is", "isnull", "like", "not", "notnull", "null", "or", "similar", "some",
    "then", "true", "when",
];

/// A quoted name as the key writes it: `"int"` is `int` (the server quotes lower-case
/// names that are keywords), except a word the parser reads as syntax (`"not"`).
fn quoted_name(name: &str) -> String {
    if is_plain_lowercase(name) && !SYNTAX_WORDS.contains(&name) {
        name.to_owned()
    } else {
        format!("\"{}\"", name.replace('"', "\"\""))
    }
}

fn is_plain_lowercase(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

fn is_number(text: &str) -> bool {
    let digits = text.strip_prefix('-').unwrap_or(text);
    !digits.is_empty()
        && digits.chars().all(|c| c.is_ascii_digit() || c == '.')
        && digits.chars().any(|c| c.is_ascii_digit())
}

fn is_numeric_type(ty: &str) -> bool {
    ["smallint", "integer", "bigint", "real", "double precision", "numeric"]
        .iter()
        .any(|t| ty.starts_with(t))
}

fn token_text(token: &Token) -> String {
    match token {
        Token::Word(w) => w.clone(),
        Token::Quoted(q) => format!("\"{}\"", q.replace('"', "\"\"")),
        Token::Str(s) => format!("'{}'", s.replace('\'', "''")),
        Token::Num(n) => n.clone(),
        Token::Op(op) => op.clone(),
        Token::Open => "(".into(),
        Token::Close => ")".into(),
        Token::Comma => ",".into(),
        Token::LBracket => "[".into(),
        Token::RBracket => "]".into(),
        Token::Dot => ".".into(),
        Token::Cast => "::".into(),
    }
}

fn print(node: &Node) -> String {
    let mut out = String::new();
    write_node(node, &mut out);
    out
}

fn write_node(node: &Node, out: &mut String) {
    match node {
        Node::Atom(a) | Node::Raw(a) | Node::Num(a) => out.push_str(a),
        Node::Str(s) => {
            let _ = write!(out, "'{}'", s.replace('\'', "''"));
        }
        Node::Unary(op, inner) => {
            let _ = write!(out, "({op} {})", print(inner));
        }
        Node::Binary(op, lhs, rhs) if op == "[]" => {
            let _ = write!(out, "{}[{}]", print(lhs), print(rhs));
        }
        // AND / OR are associative: `a AND (b AND c)` and `(a AND b) AND c` print alike.
        Node::Binary(op, _, _) if op == "AND" || op == "OR" => {
            let mut operands = Vec::new();
            flatten(node, op, &mut operands);
            let printed: Vec<String> = operands.iter().map(|n| print(n)).collect();
            let _ = write!(out, "({})", printed.join(&format!(" {op} ")));
        }
        Node::Binary(op, lhs, rhs) => {
            let _ = write!(out, "({} {op} {})", print(lhs), print(rhs));
        }
        Node::Postfix(inner, op) => {
            let _ = write!(out, "({} {op})", print(inner));
        }
        Node::Call(name, args) => {
            let args: Vec<String> = args.iter().map(print).collect();
            let _ = write!(out, "{name}({})", args.join(", "));
        }
        Node::Array(items) => {
            let items: Vec<String> = items.iter().map(print).collect();
            let _ = write!(out, "ARRAY[{}]", items.join(", "));
        }
        Node::Cast(inner, ty) => {
            let _ = write!(out, "({})::{ty}", print(inner));
        }
    }
}

fn flatten<'n>(node: &'n Node, op: &str, out: &mut Vec<&'n Node>) {
    match node {
        Node::Binary(inner, lhs, rhs) if inner == op => {
            flatten(lhs, op, out);
            flatten(rhs, op, out);
        }
        other => out.push(other),
    }
}

/// The canonical form of an SQL expression, for comparing a model's text with the
/// server's. Equal keys mean the same expression.
pub fn expression_key(text: &str) -> String {
    let Some(tokens) = tokenize(text) else {
        return text.split_whitespace().collect::<Vec<_>>().join(" ").to_lowercase();
    };
    parsed_key(&tokens)
        .unwrap_or_else(|| tokens.iter().map(token_text).collect::<Vec<_>>().join(" "))
}

/// The key of an expression the parser reads whole, else `None` (the key is then the
/// tokens, re-spaced).
pub(crate) fn parsed_expression_key(text: &str) -> Option<String> {
    parsed_key(&tokenize(text)?)
}

fn parsed_key(tokens: &[Token]) -> Option<String> {
    let mut parser = Parser { tokens: tokens.to_vec(), pos: 0 };
    let node = parser.expr(0)?;
    (parser.pos == parser.tokens.len()).then(|| print(&node))
}

/// `expression` with the column names in `renames` (old, new) replaced: bare words that
/// are not function names, and `"quoted"` or `` `quoted` `` identifiers; string literals
/// are left alone. A new name that is not a plain lower-case word is double-quoted.
pub(crate) fn rename_identifiers(expression: &str, renames: &[(&str, &str)]) -> String {
    let chars: Vec<char> = expression.chars().collect();
    let new_name = |old: &str| renames.iter().find(|(o, _)| *o == old).map(|(_, n)| *n);
    let plain = |name: &str| {
        name.chars().next().is_some_and(|c| c.is_ascii_lowercase() || c == '_')
            && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    };
    let mut out = String::with_capacity(expression.len());
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '\'' {
            let start = i;
            i += 1;
            while i < chars.len() {
                if chars[i] == '\'' {
                    if chars.get(i + 1) == Some(&'\'') {
                        i += 2;
                        continue;
                    }
                    break;
                }
                i += 1;
            }
            i = (i + 1).min(chars.len());
            out.extend(&chars[start..i]);
        } else if c == '"' || c == '`' {
            let start = i;
            i += 1;
            while i < chars.len() && chars[i] != c {
                i += 1;
            }
            let name: String = chars[start + 1..i.min(chars.len())].iter().collect();
            i = (i + 1).min(chars.len());
            match new_name(&name) {
                Some(new) => out.push_str(&format!("{c}{}{c}", new.replace(c, &format!("{c}{c}")))),
                None => out.extend(&chars[start..i]),
            }
        } else if c.is_alphabetic() || c == '_' {
            let start = i;
            while i < chars.len()
                && (chars[i].is_alphanumeric() || chars[i] == '_' || chars[i] == '$')
            {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            let is_call = chars[i..].iter().find(|c| !c.is_whitespace()) == Some(&'(');
            match new_name(&word).filter(|_| !is_call) {
                Some(new) if plain(new) => out.push_str(new),
                Some(new) => out.push_str(&format!("\"{}\"", new.replace('"', "\"\""))),
                None => out.push_str(&word),
            }
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

/// Whether `text` is one literal as the server prints a default — `0`, `-1.5`, `'x'::text`,
/// `('2020-01-01'::date)`, `true`, `NULL::integer`, `'a'::character varying(20)` — with no
/// function call and no operator: the same value for every row.
pub fn is_literal(text: &str) -> bool {
    let Some(tokens) = tokenize(text) else { return false };
    let (mut value_seen, mut in_cast, mut depth) = (false, false, 0i32);
    for (index, token) in tokens.iter().enumerate() {
        let next = tokens.get(index + 1);
        match token {
            Token::Open => depth += 1,
            Token::Close => depth -= 1,
            Token::Cast if value_seen => in_cast = true,
            // A cast's type: `character varying(20)`, `text[]`, `pg_catalog.text`.
            Token::Word(_)
            | Token::Quoted(_)
            | Token::Dot
            | Token::Num(_)
            | Token::Comma
            | Token::LBracket
            | Token::RBracket
                if in_cast => {}
            Token::Op(op) if op == "-" && !value_seen => {}
            Token::Num(_) | Token::Str(_) if !value_seen => value_seen = true,
            Token::Word(word)
                if !value_seen
                    && ["true", "false", "null"].contains(&word.as_str())
                    && next != Some(&Token::Open) =>
            {
                value_seen = true
            }
            _ => return false,
        }
        if depth < 0 {
            return false;
        }
    }
    value_seen && depth == 0
}

/// The canonical key of a column default: its text as PostgreSQL spells it (literals
/// quoted, SQL as written), through [`expression_key`]. Used only to compare.
pub fn default_key(default: &crate::model::DefaultExpr) -> String {
    expression_key(&crate::dialect::postgres::render_default(default))
}

#[cfg(test)]
mod tests {
    use super::expression_key as key;

    #[track_caller]
    fn same(model: &str, server: &str) {
        assert_eq!(key(model), key(server), "{model:?} vs {server:?}");
    }

    #[test]
    fn server_spellings_match_model_spellings() {
        same("price >= 0", "(price >= (0)::numeric)");
        same("price >= 0 AND price < 1000", "((price >= 0) AND (price < 1000))");
        same("status IN ('a', 'b')", "(status = ANY (ARRAY['a'::text, 'b'::text]))");
        same("email LIKE '%@%'", "((email)::text ~~ '%@%'::text)");
        same("length(name) > 0", "(length(name) > 0)");
        same("age BETWEEN 0 AND 150", "((age >= 0) AND (age <= 150))");
        same("NOW()", "now()");
        same("x != 1", "(x <> 1)");
        same("active = TRUE", "(active = true)");
        same("deleted_at IS NULL", "(deleted_at IS NULL)");
        same("-5", "'-5'::integer");
        same("'{}'", "'{}'::jsonb");
        same("now() AT TIME ZONE 'utc'", "now() AT TIME ZONE 'utc'");
        same(
            "status IN ('new', 'done') AND int BETWEEN -100 AND 100",
            "((status = ANY (ARRAY['new'::text, 'done'::text])) AND \"int\" >= '-100'::integer AND \"int\" <= 100)",
        );
        // MariaDB quotes every identifier with backticks.
        same("price * 2", "`price` * 2");
        same("v <> length($$;$$)", "(v <> length(';'::text))");
        same("$tag$it's$tag$", "'it''s'::text");
        same("small >= 0", "`small` >= 0");
    }

    #[test]
    fn different_expressions_stay_different() {
        assert_ne!(key("price > 0"), key("price >= 0"));
        assert_ne!(key("(a OR b) AND c"), key("a OR (b AND c)"));
        assert_ne!(key("'A'"), key("'a'"));
        assert_ne!(key("\"Name\" = 1"), key("name = 1"));
    }

    #[test]
    fn renamed_columns_are_renamed_in_expressions_only_where_they_are_columns() {
        let renames = [("c4", "c4_r1"), ("a", "Mixed")];
        assert_eq!(super::rename_identifiers("(c4 > 0)", &renames), "(c4_r1 > 0)");
        assert_eq!(
            super::rename_identifiers("c4('c4') AND \"c4\" = 'c4'", &renames),
            "c4('c4') AND \"c4_r1\" = 'c4'"
        );
        assert_eq!(
            super::rename_identifiers("`a` + a + c40", &renames),
            "`Mixed` + \"Mixed\" + c40"
        );
    }
}
