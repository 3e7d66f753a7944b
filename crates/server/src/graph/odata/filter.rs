//! `$filter`: `and`-joined `property eq 'value'` terms on the properties an endpoint names
//! (`property eq true|false` for Graph's boolean properties).

use super::*;

/// The boolean properties an endpoint may filter on: compared with `true` or `false`, not a
/// string.
const BOOLEANS: &[&str] = &[
    "isAvailable",
    "isTrusted",
    "accountEnabled",
    "isAssignableToRole",
];

/// One `property eq 'value'` term.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Term {
    /// The property, in its canonical spelling.
    pub property: String,
    /// The value (`true`/`false` for a boolean property).
    pub value: String,
}

/// A parsed `$filter`: every term must hold.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Filter {
    /// The terms, in order.
    pub terms: Vec<Term>,
}

impl Filter {
    /// The value the filter requires for `property`, if a term names it (the first such term).
    pub fn value_of(&self, property: &str) -> Option<&str> {
        self.terms
            .iter()
            .find(|t| t.property == property)
            .map(|t| t.value.as_str())
    }

    /// Whether `item` (a JSON object) satisfies every term: its member is a string equal to the
    /// term's value, regardless of ASCII case.
    pub fn matches(&self, item: &Value) -> bool {
        self.terms.iter().all(|t| match item.get(&t.property) {
            Some(Value::String(v)) => v.eq_ignore_ascii_case(&t.value),
            Some(Value::Bool(b)) => b.to_string() == t.value,
            _ => false,
        })
    }
}
pub(super) fn bad(message: impl Into<String>) -> QueryError {
    QueryError(message.into())
}

#[derive(Debug, Clone, PartialEq)]
pub(super) enum Token {
    Word(String),
    Text(String),
}

pub(super) fn tokens(text: &str) -> Result<Vec<Token>, QueryError> {
    let mut out = Vec::new();
    let mut chars = text.char_indices().peekable();
    while let Some(&(at, c)) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
        } else if c == '\'' {
            chars.next();
            let mut value = String::new();
            loop {
                match chars.next() {
                    Some((_, '\'')) => {
                        if matches!(chars.peek(), Some((_, '\''))) {
                            chars.next();
                            value.push('\'');
                        } else {
                            break;
                        }
                    }
                    Some((_, ch)) => value.push(ch),
                    None => {
                        return Err(bad(format!(
                            "Invalid $filter: the string starting at character {} is not closed \
                             with a quote (')",
                            at + 1
                        )))
                    }
                }
            }
            out.push(Token::Text(value));
        } else if c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.' {
            let mut word = String::new();
            while let Some(&(_, ch)) = chars.peek() {
                if ch.is_ascii_alphanumeric() || ch == '_' || ch == '-' || ch == '.' {
                    word.push(ch);
                    chars.next();
                } else {
                    break;
                }
            }
            out.push(Token::Word(word));
        } else {
            return Err(bad(format!(
                "Invalid $filter: unexpected '{c}' at character {}; this endpoint supports \
                 terms of the form property eq 'value' joined by and",
                at + 1
            )));
        }
    }
    Ok(out)
}

/// Parses `text` as `and`-joined `property eq 'value'` terms over `allowed` properties
/// (matched regardless of case). Every unknown property is named in one error.
pub fn parse_filter(text: &str, allowed: &[&str]) -> Result<Filter, QueryError> {
    let supported = || {
        format!(
            "this endpoint supports terms of the form property eq 'value' joined by and, on {}",
            allowed.join(", ")
        )
    };
    let toks = tokens(text)?;
    if toks.is_empty() {
        return Err(bad(format!(
            "Invalid $filter: it is empty; {}",
            supported()
        )));
    }
    let mut terms = Vec::new();
    let mut unknown: Vec<String> = Vec::new();
    let mut it = toks.into_iter();
    loop {
        let property = match it.next() {
            Some(Token::Word(w)) => w,
            Some(Token::Text(t)) => {
                return Err(bad(format!(
                    "Invalid $filter: expected a property name, found the string '{t}'; {}",
                    supported()
                )))
            }
            None => {
                return Err(bad(format!(
                    "Invalid $filter: it ends after 'and'; {}",
                    supported()
                )))
            }
        };
        match it.next() {
            Some(Token::Word(op)) if op.eq_ignore_ascii_case("eq") => {}
            Some(Token::Word(op)) => {
                return Err(bad(format!(
                    "Invalid $filter: the operator '{op}' after '{property}' is not supported; {}",
                    supported()
                )))
            }
            _ => {
                return Err(bad(format!(
                    "Invalid $filter: expected 'eq' after '{property}'; {}",
                    supported()
                )))
            }
        }
        let boolean = BOOLEANS.iter().any(|b| b.eq_ignore_ascii_case(&property));
        let value = match it.next() {
            Some(Token::Word(w))
                if boolean
                    && (w.eq_ignore_ascii_case("true") || w.eq_ignore_ascii_case("false")) =>
            {
                w.to_ascii_lowercase()
            }
            Some(_) if boolean => {
                return Err(bad(format!(
                    "Invalid $filter: '{property}' is true or false (unquoted)"
                )))
            }
            Some(Token::Text(v)) => v,
            Some(Token::Word(w)) => {
                return Err(bad(format!(
                    "Invalid $filter: the value of '{property}' must be a quoted string \
                     ('{w}'), not {w}"
                )))
            }
            None => {
                return Err(bad(format!(
                    "Invalid $filter: '{property} eq' has no value; {}",
                    supported()
                )))
            }
        };
        match allowed.iter().find(|a| a.eq_ignore_ascii_case(&property)) {
            Some(canonical) => terms.push(Term {
                property: (*canonical).to_string(),
                value,
            }),
            None => {
                if !unknown.contains(&property) {
                    unknown.push(property);
                }
            }
        }
        match it.next() {
            None => break,
            Some(Token::Word(w)) if w.eq_ignore_ascii_case("and") => continue,
            Some(Token::Word(w)) => {
                return Err(bad(format!(
                    "Invalid $filter: '{w}' is not supported between terms; {}",
                    supported()
                )))
            }
            Some(Token::Text(t)) => {
                return Err(bad(format!(
                    "Invalid $filter: unexpected string '{t}' after a term; {}",
                    supported()
                )))
            }
        }
    }
    if !unknown.is_empty() {
        return Err(bad(format!(
            "Invalid $filter: this endpoint cannot filter on {}; it can filter on {}.",
            unknown.join(", "),
            allowed.join(", ")
        )));
    }
    Ok(Filter { terms })
}
