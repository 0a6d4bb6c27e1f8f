//! The policy language parser, as oslo_policy/_parser.py.
//!
//! A check string is split on whitespace; each word may carry leading `(` and trailing
//! `)`, and is then `and`, `or`, `not` (any case), or a check (`@`, `!`, `kind:match`).
//! Precedence is `not` over `and` over `or`, and parentheses group. oslo reduces the
//! token stream with a greedy shift-reduce parser; the recursive descent below accepts
//! the same strings and builds equivalent trees.
//!
//! Where oslo logs a malformed check string and turns it into `!` (fail closed), we
//! return an error instead, so that a broken default or `policy.yaml` entry is reported
//! when the enforcer is built rather than silently denying every request.

use std::iter::Peekable;
use std::vec::IntoIter;

use super::check::{Node, Piece, Subject, Template};

/// How deep parentheses and `not` may nest: far beyond any real policy, low enough that
/// a pathological string cannot overflow the stack.
const MAX_NESTING: usize = 100;

/// Parse a check string in the policy language (oslo's `_parse_text_rule`).
/// The empty string always passes.
pub(crate) fn parse_text_rule(text: &str) -> Result<Node, String> {
    if text.is_empty() {
        return Ok(Node::True);
    }
    let tokens = tokenize(text)?;
    if tokens.is_empty() {
        // oslo treats only the empty string as "always"; a blank one fails to parse.
        return Err("the check string is blank (use \"\" or \"@\" to allow everyone)".to_owned());
    }
    let mut parser = Parser { tokens: tokens.into_iter().peekable(), depth: 0 };
    let node = parser.or_expression()?;
    match parser.tokens.next() {
        None => Ok(node),
        Some(token) => Err(format!("unexpected {} after a complete expression", token.describe())),
    }
}

/// Parse the legacy list-of-lists syntax (oslo's `_parse_list_rule`): the outer list is
/// joined with `or`, each inner list with `and`, and each string is a single check.
/// An empty outer list always passes; one whose inner lists are all empty never does.
pub(crate) fn parse_list_rule(alternatives: &[Vec<String>]) -> Result<Node, String> {
    if alternatives.is_empty() {
        return Ok(Node::True);
    }
    let mut any_of = Vec::new();
    for all_of in alternatives.iter().filter(|all_of| !all_of.is_empty()) {
        let mut checks = all_of.iter().map(|check| parse_check(check)).collect::<Result<Vec<_>, _>>()?;
        any_of.push(if checks.len() == 1 { checks.swap_remove(0) } else { Node::And(checks) });
    }
    Ok(match any_of.len() {
        0 => Node::False,
        1 => any_of.swap_remove(0),
        _ => Node::Or(any_of),
    })
}

/// Parse one check (oslo's `_parse_check`): `!`, `@`, or `kind:match` split at the
/// first colon.
pub(crate) fn parse_check(text: &str) -> Result<Node, String> {
    match text {
        "!" => return Ok(Node::False),
        "@" => return Ok(Node::True),
        _ => {}
    }
    let Some((kind, matcher)) = text.split_once(':') else {
        return Err(format!("'{text}' is not a check: expected 'kind:match', '@' or '!'"));
    };
    let node = match kind {
        "http" | "https" => Node::Http { kind: kind.to_owned(), url: matcher.to_owned() },
        "rule" => Node::Rule(matcher.to_owned()),
        "role" => Node::Role(parse_template(matcher).map_err(|e| format!("in '{text}': {e}"))?),
        _ => Node::Generic {
            kind: kind.to_owned(),
            subject: match python_literal(kind) {
                Some(literal) => Subject::Literal(literal),
                None => Subject::Creds(kind.split('.').map(str::to_owned).collect()),
            },
            matcher: parse_template(matcher).map_err(|e| format!("in '{text}': {e}"))?,
        },
    };
    Ok(node)
}

#[derive(Debug)]
enum Token {
    LeftParen,
    RightParen,
    And,
    Or,
    Not,
    /// A whole word in quotes: oslo makes it a string token that no grammar rule uses.
    Quoted(String),
    Check(Node),
}

impl Token {
    fn describe(&self) -> String {
        match self {
            Token::LeftParen => "'('".to_owned(),
            Token::RightParen => "')'".to_owned(),
            Token::And => "'and'".to_owned(),
            Token::Or => "'or'".to_owned(),
            Token::Not => "'not'".to_owned(),
            Token::Quoted(text) => format!("quoted string '{text}'"),
            Token::Check(node) => format!("check '{node}'"),
        }
    }
}

/// oslo's `_parse_tokenize`. Parentheses are only recognised at the start and end of a
/// word, because `%(name)s` puts them inside checks.
fn tokenize(text: &str) -> Result<Vec<Token>, String> {
    let mut tokens = Vec::new();
    for word in text.split_whitespace() {
        let without_leading = word.trim_start_matches('(');
        for _ in 0..word.len() - without_leading.len() {
            tokens.push(Token::LeftParen);
        }
        if without_leading.is_empty() {
            continue;
        }
        let clean = without_leading.trim_end_matches(')');
        let trailing = without_leading.len() - clean.len();

        match clean.to_lowercase().as_str() {
            "and" => tokens.push(Token::And),
            "or" => tokens.push(Token::Or),
            "not" => tokens.push(Token::Not),
            "" => {}
            _ => {
                // Like oslo, the quote test looks at the word with its trailing
                // parentheses still on.
                if let Some(inner) = quoted(without_leading) {
                    tokens.push(Token::Quoted(inner.to_owned()));
                } else {
                    tokens.push(Token::Check(parse_check(clean)?));
                }
            }
        }
        for _ in 0..trailing {
            tokens.push(Token::RightParen);
        }
    }
    Ok(tokens)
}

/// The inside of a word that starts and ends with the same quote character.
fn quoted(word: &str) -> Option<&str> {
    let mut characters = word.chars();
    let first = characters.next()?;
    let last = characters.next_back()?;
    ((first == '"' || first == '\'') && first == last).then(|| &word[1..word.len() - 1])
}

struct Parser {
    tokens: Peekable<IntoIter<Token>>,
    depth: usize,
}

impl Parser {
    fn or_expression(&mut self) -> Result<Node, String> {
        let first = self.and_expression()?;
        let mut rest = Vec::new();
        while self.tokens.next_if(|token| matches!(token, Token::Or)).is_some() {
            rest.push(self.and_expression()?);
        }
        Ok(combine(first, rest, Node::Or))
    }

    fn and_expression(&mut self) -> Result<Node, String> {
        let first = self.not_expression()?;
        let mut rest = Vec::new();
        while self.tokens.next_if(|token| matches!(token, Token::And)).is_some() {
            rest.push(self.not_expression()?);
        }
        Ok(combine(first, rest, Node::And))
    }

    fn not_expression(&mut self) -> Result<Node, String> {
        if self.tokens.next_if(|token| matches!(token, Token::Not)).is_some() {
            self.enter()?;
            let inner = self.not_expression()?;
            self.depth -= 1;
            return Ok(Node::Not(Box::new(inner)));
        }
        self.operand()
    }

    fn operand(&mut self) -> Result<Node, String> {
        match self.tokens.next() {
            Some(Token::Check(node)) => Ok(node),
            Some(Token::LeftParen) => {
                self.enter()?;
                let inner = self.or_expression()?;
                self.depth -= 1;
                match self.tokens.next() {
                    Some(Token::RightParen) => Ok(inner),
                    Some(token) => Err(format!("expected ')' but found {}", token.describe())),
                    None => Err("unbalanced parentheses: missing ')'".to_owned()),
                }
            }
            Some(Token::Quoted(text)) => Err(format!(
                "quoted string '{text}' is not a check (quote only the kind or the match: 'member':%(role.name)s)"
            )),
            Some(token) => Err(format!("expected a check but found {}", token.describe())),
            None => Err("the check string ends where a check was expected".to_owned()),
        }
    }

    fn enter(&mut self) -> Result<(), String> {
        self.depth += 1;
        if self.depth > MAX_NESTING {
            return Err(format!("parentheses or 'not' nested more than {MAX_NESTING} deep"));
        }
        Ok(())
    }
}

fn combine(first: Node, mut rest: Vec<Node>, join: fn(Vec<Node>) -> Node) -> Node {
    if rest.is_empty() {
        first
    } else {
        rest.insert(0, first);
        join(rest)
    }
}

/// Pre-split a Python `%`-format string that will be applied to the target dict.
/// Only mapping keys are meaningful there: `%(name)s`, `%(name)r` and `%%`. Anything
/// else makes Python raise when the check is evaluated, so it is rejected here.
pub(crate) fn parse_template(text: &str) -> Result<Template, String> {
    let mut pieces = Vec::new();
    let mut literal = String::new();
    let mut characters = text.char_indices();
    while let Some((_, character)) = characters.next() {
        if character != '%' {
            literal.push(character);
            continue;
        }
        match characters.next() {
            Some((_, '%')) => literal.push('%'),
            Some((open, '(')) => {
                // Python matches nested parentheses inside the key.
                let mut depth = 1;
                let mut close = None;
                for (index, inner) in characters.by_ref() {
                    match inner {
                        '(' => depth += 1,
                        ')' => {
                            depth -= 1;
                            if depth == 0 {
                                close = Some(index);
                                break;
                            }
                        }
                        _ => {}
                    }
                }
                let close = close.ok_or_else(|| format!("incomplete format key in '{text}'"))?;
                let repr = match characters.next() {
                    Some((_, 's')) => false,
                    Some((_, 'r' | 'a')) => true,
                    Some((_, other)) => {
                        return Err(format!("unsupported format character '{other}' in '{text}' (use %(name)s)"))
                    }
                    None => return Err(format!("incomplete format in '{text}'")),
                };
                if !literal.is_empty() {
                    pieces.push(Piece::Text(std::mem::take(&mut literal)));
                }
                pieces.push(Piece::Key { name: text[open + 1..close].to_owned(), repr });
            }
            Some((_, other)) => {
                return Err(format!("format '%{other}' in '{text}' needs a key (use %(name)s, or %% for a literal %)"))
            }
            None => return Err(format!("incomplete format in '{text}' (use %% for a literal %)")),
        }
    }
    if !literal.is_empty() {
        pieces.push(Piece::Text(literal));
    }
    Ok(Template { raw: text.to_owned(), pieces })
}

/// `str(ast.literal_eval(kind))` for the literals a check's kind can usefully be:
/// `True`, `False`, `None`, quoted strings, integers and floats. `None` means "not a
/// literal", and the kind is then a path into the credentials.
fn python_literal(kind: &str) -> Option<String> {
    if matches!(kind, "True" | "False" | "None") {
        return Some(kind.to_owned());
    }
    string_literal(kind).or_else(|| number_literal(kind))
}

fn string_literal(text: &str) -> Option<String> {
    let quote = text.chars().next().filter(|c| *c == '\'' || *c == '"')?;
    if text.len() < 2 || !text.ends_with(quote) {
        return None;
    }
    let mut value = String::new();
    let mut characters = text[1..text.len() - 1].chars();
    while let Some(character) = characters.next() {
        if character == quote {
            // 'a''b' is two literals concatenated; not worth supporting.
            return None;
        }
        if character != '\\' {
            value.push(character);
            continue;
        }
        match characters.next()? {
            'n' => value.push('\n'),
            't' => value.push('\t'),
            'r' => value.push('\r'),
            '0' => value.push('\0'),
            escaped @ ('\\' | '\'' | '"') => value.push(escaped),
            other => {
                value.push('\\');
                value.push(other);
            }
        }
    }
    Some(value)
}

fn number_literal(text: &str) -> Option<String> {
    let (negative, unsigned) = match text.as_bytes().first()? {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    let negate = |digits: String| {
        if negative && digits != "0" {
            format!("-{digits}")
        } else {
            digits
        }
    };

    let lower = unsigned.to_ascii_lowercase();
    for (prefix, radix) in [("0x", 16), ("0o", 8), ("0b", 2)] {
        if let Some(digits) = lower.strip_prefix(prefix) {
            let digits = without_underscores(digits.strip_prefix('_').unwrap_or(digits), radix)?;
            return u128::from_str_radix(&digits, radix).ok().map(|n| negate(n.to_string()));
        }
    }

    let (mantissa, exponent) = match lower.split_once('e') {
        Some((mantissa, exponent)) => (mantissa, Some(exponent)),
        None => (lower.as_str(), None),
    };
    let (whole, fraction) = match mantissa.split_once('.') {
        Some((whole, fraction)) => (whole, Some(fraction)),
        None => (mantissa, None),
    };
    let whole = if whole.is_empty() { String::new() } else { without_underscores(whole, 10)? };
    let fraction = match fraction {
        Some("") => Some(String::new()),
        Some(digits) => Some(without_underscores(digits, 10)?),
        None => None,
    };
    let exponent = match exponent {
        Some(exponent) => {
            let (sign, digits) = match exponent.as_bytes().first() {
                Some(b'-') => ("-", &exponent[1..]),
                Some(b'+') => ("", &exponent[1..]),
                _ => ("", exponent),
            };
            Some(format!("{sign}{}", without_underscores(digits, 10)?))
        }
        None => None,
    };

    if fraction.is_none() && exponent.is_none() {
        // An integer: Python forbids leading zeros except in zero itself.
        if whole.is_empty() || (whole.starts_with('0') && whole.bytes().any(|b| b != b'0')) {
            return None;
        }
        let canonical = whole.trim_start_matches('0');
        return Some(negate(if canonical.is_empty() { "0".to_owned() } else { canonical.to_owned() }));
    }
    let fraction = fraction.unwrap_or_default();
    if whole.is_empty() && fraction.is_empty() {
        return None;
    }
    let mut float = format!("{whole}.{fraction}");
    if let Some(exponent) = exponent {
        float = format!("{float}e{exponent}");
    }
    let value: f64 = float.parse().ok()?;
    Some(super::pyformat::py_float(if negative { -value } else { value }))
}

/// Digits with Python's `_` separators removed; `None` unless every character is a
/// digit of `radix` or an underscore between two digits.
fn without_underscores(digits: &str, radix: u32) -> Option<String> {
    let bytes = digits.as_bytes();
    if bytes.is_empty() {
        return None;
    }
    let mut out = String::with_capacity(bytes.len());
    for (index, byte) in bytes.iter().enumerate() {
        match byte {
            b if char::from(*b).is_digit(radix) => out.push(char::from(*b)),
            b'_' if index > 0 && index + 1 < bytes.len() && bytes[index + 1] != b'_' => {}
            _ => return None,
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(text: &str) -> String {
        match parse_text_rule(text) {
            Ok(node) => node.to_string(),
            Err(message) => panic!("{text:?} failed to parse: {message}"),
        }
    }

    fn fails(text: &str) -> String {
        match parse_text_rule(text) {
            Ok(node) => panic!("{text:?} parsed as {node}"),
            Err(message) => message,
        }
    }

    #[test]
    fn constants_and_empty() {
        assert_eq!(parse_text_rule(""), Ok(Node::True));
        assert_eq!(parse_text_rule("@"), Ok(Node::True));
        assert_eq!(parse_text_rule("!"), Ok(Node::False));
        assert_eq!(parsed("  @  "), "@");
        fails("   ");
    }

    #[test]
    fn precedence_is_not_then_and_then_or() {
        assert_eq!(parsed("a:1 or b:2 and c:3"), "(a:1 or (b:2 and c:3))");
        assert_eq!(parsed("a:1 and b:2 or c:3"), "((a:1 and b:2) or c:3)");
        assert_eq!(parsed("a:1 or b:2 and c:3 and d:4 or e:5"), "(a:1 or (b:2 and c:3 and d:4) or e:5)");
        assert_eq!(parsed("not a:1 and b:2"), "(not a:1 and b:2)");
        assert_eq!(parsed("not a:1 or b:2"), "(not a:1 or b:2)");
        assert_eq!(parsed("a:1 or not b:2 and c:3"), "(a:1 or (not b:2 and c:3))");
        assert_eq!(parsed("not not a:1"), "not not a:1");
    }

    #[test]
    fn keywords_are_case_insensitive() {
        assert_eq!(parsed("a:1 AND b:2 Or NOT c:3"), "((a:1 and b:2) or not c:3)");
    }

    #[test]
    fn parentheses_group() {
        assert_eq!(parsed("(a:1 or b:2) and c:3"), "((a:1 or b:2) and c:3)");
        assert_eq!(parsed("not (a:1 or b:2)"), "not (a:1 or b:2)");
        assert_eq!(parsed("((a:1))"), "a:1");
        assert_eq!(parsed("( a:1 or ( b:2 and c:3 ) )"), "(a:1 or (b:2 and c:3))");
        assert_eq!(
            parsed("(role:reader and system_scope:all) or user_id:%(target.user.id)s"),
            "((role:reader and system_scope:all) or user_id:%(target.user.id)s)"
        );
    }

    #[test]
    fn interpolation_parentheses_stay_inside_the_check() {
        let node = parse_text_rule("project_id:%(project_id)s").unwrap();
        let Node::Generic { kind, subject, matcher } = node else { panic!("not generic") };
        assert_eq!(kind, "project_id");
        assert_eq!(subject, Subject::Creds(vec!["project_id".into()]));
        assert_eq!(matcher.pieces, vec![Piece::Key { name: "project_id".into(), repr: false }]);
    }

    #[test]
    fn check_kinds() {
        assert!(matches!(parse_check("rule:admin_required"), Ok(Node::Rule(name)) if name == "admin_required"));
        assert!(matches!(parse_check("role:admin"), Ok(Node::Role(_))));
        assert!(matches!(parse_check("http://example.com/%(x)s"), Ok(Node::Http { .. })));
        assert!(matches!(parse_check("https:x"), Ok(Node::Http { .. })));
        // Only the first colon splits: role:compute:admin is role "compute:admin".
        let Ok(Node::Role(matcher)) = parse_check("role:compute:admin") else { panic!() };
        assert_eq!(matcher.raw, "compute:admin");
        let Ok(Node::Generic { subject, .. }) = parse_check("token.user.id:1") else { panic!() };
        assert_eq!(subject, Subject::Creds(vec!["token".into(), "user".into(), "id".into()]));
    }

    #[test]
    fn malformed_strings_are_errors() {
        assert!(fails("admin").contains("not a check"));
        assert!(fails("role:a and").contains("ends"));
        assert!(fails("and role:a").contains("'and'"));
        assert!(fails("role:a role:b").contains("unexpected"));
        assert!(fails("(role:a or role:b").contains("missing ')'"));
        assert!(fails("role:a)").contains("unexpected ')'"));
        assert!(fails("()").contains("')'"));
        assert!(fails("not").contains("ends"));
        assert!(fails("'member'").contains("quoted string"));
        // oslo's quirk: a word quoted at both ends is a string token, even with a colon.
        assert!(fails("'a':'b'").contains("quoted string"));
        assert!(fails("role:%(name)d").contains("unsupported format"));
        assert!(fails("a:100%").contains("incomplete format"));
        assert!(fails("a:%s").contains("needs a key"));
        assert!(fails("a:%(name").contains("incomplete format key"));
    }

    #[test]
    fn deep_nesting_is_refused_not_overflowed() {
        let deep = format!("{}a:1{}", "(".repeat(10_000), ")".repeat(10_000));
        assert!(fails(&deep).contains("nested"));
        let nots = format!("{}a:1", "not ".repeat(10_000));
        assert!(fails(&nots).contains("nested"));
        let fine = format!("{}a:1{}", "(".repeat(50), ")".repeat(50));
        assert_eq!(parsed(&fine), "a:1");
    }

    #[test]
    fn templates() {
        let template = parse_template("x-%(a.b)s-%%-%(c)r").unwrap();
        assert_eq!(
            template.pieces,
            vec![
                Piece::Text("x-".into()),
                Piece::Key { name: "a.b".into(), repr: false },
                Piece::Text("-%-".into()),
                Piece::Key { name: "c".into(), repr: true },
            ]
        );
        let nested = parse_template("%(f(x))s").unwrap();
        assert_eq!(nested.pieces, vec![Piece::Key { name: "f(x)".into(), repr: false }]);
        assert_eq!(parse_template("").unwrap().pieces, vec![]);
    }

    #[test]
    fn literals_follow_python() {
        let cases = [
            ("True", Some("True")),
            ("False", Some("False")),
            ("None", Some("None")),
            ("true", None),
            ("'member'", Some("member")),
            ("\"member\"", Some("member")),
            ("'it\\'s'", Some("it's")),
            ("'a'b'", None),
            ("'", None),
            ("3", Some("3")),
            ("-3", Some("-3")),
            ("+3", Some("3")),
            ("-0", Some("0")),
            ("1_000", Some("1000")),
            ("007", None),
            ("000", Some("0")),
            ("0x1F", Some("31")),
            ("0b101", Some("5")),
            ("1.50", Some("1.5")),
            ("1.", Some("1.0")),
            (".5", Some("0.5")),
            ("1e3", Some("1000.0")),
            ("-2.5e-7", Some("-2.5e-07")),
            ("1e", None),
            (".", None),
            ("is_admin", None),
            ("project_id", None),
            ("user.id", None),
            ("1_", None),
            ("inf", None),
            ("1a", None),
            ("0x1g", None),
            ("1j", None),
        ];
        for (kind, expected) in cases {
            assert_eq!(python_literal(kind).as_deref(), expected, "{kind}");
        }
    }

    #[test]
    fn list_of_lists() {
        let rule = |lists: &[&[&str]]| {
            let owned: Vec<Vec<String>> =
                lists.iter().map(|inner| inner.iter().map(|s| s.to_string()).collect()).collect();
            parse_list_rule(&owned).map(|node| node.to_string())
        };
        assert_eq!(rule(&[]), Ok("@".into()));
        assert_eq!(rule(&[&[]]), Ok("!".into()));
        assert_eq!(rule(&[&["role:a"]]), Ok("role:a".into()));
        assert_eq!(rule(&[&["role:a", "role:b"], &["rule:c"]]), Ok("((role:a and role:b) or rule:c)".into()));
        assert!(rule(&[&["role:a or role:b"]]).is_ok(), "one check each: the match is 'a or role:b'");
        assert!(rule(&[&["admin"]]).is_err());
    }
}
