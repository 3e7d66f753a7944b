//! `$filter`: `and`-joined `property eq 'value'` terms on the properties an endpoint names
//! (`property eq true|false` for Graph's boolean properties, and `eq`, `ge`, `gt`, `le`, `lt`
//! with an unquoted RFC 3339 time for its date-time properties: `createdDateTime ge
//! 2026-12-01T00:00:00Z`).

use super::*;

/// The boolean properties an endpoint may filter on: compared with `true` or `false`, not a
/// string.
const BOOLEANS: &[&str] = &[
    "isAvailable",
    "isTrusted",
    "accountEnabled",
    "isAssignableToRole",
];

/// The date-time properties an endpoint may filter on: compared in time, with any of the
/// five operators.
const DATETIMES: &[&str] = &["createdDateTime", "activityDateTime"];

/// How a term compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Comparison {
    /// `eq`.
    Eq,
    /// `ge` (date-times only).
    Ge,
    /// `gt` (date-times only).
    Gt,
    /// `le` (date-times only).
    Le,
    /// `lt` (date-times only).
    Lt,
}

impl Comparison {
    fn parse(word: &str) -> Option<Comparison> {
        Some(match word.to_ascii_lowercase().as_str() {
            "eq" => Comparison::Eq,
            "ge" => Comparison::Ge,
            "gt" => Comparison::Gt,
            "le" => Comparison::Le,
            "lt" => Comparison::Lt,
            _ => return None,
        })
    }

    fn holds(self, ordering: std::cmp::Ordering) -> bool {
        use std::cmp::Ordering::{Equal, Greater, Less};
        match self {
            Comparison::Eq => ordering == Equal,
            Comparison::Ge => ordering != Less,
            Comparison::Gt => ordering == Greater,
            Comparison::Le => ordering != Greater,
            Comparison::Lt => ordering == Less,
        }
    }
}

/// One `property eq 'value'` term.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Term {
    /// The property, in its canonical spelling.
    pub property: String,
    /// How it compares (`eq` but for date-times).
    pub op: Comparison,
    /// The value (`true`/`false` for a boolean property; an RFC 3339 time in UTC for a
    /// date-time).
    pub value: String,
}

impl Term {
    fn matches(&self, item: &Value) -> bool {
        let found = item.get(&self.property);
        if DATETIMES.contains(&self.property.as_str()) {
            let time = |v: &str| chrono::DateTime::parse_from_rfc3339(v).ok();
            return match (
                found.and_then(Value::as_str).and_then(time),
                time(&self.value),
            ) {
                (Some(have), Some(want)) => self.op.holds(have.cmp(&want)),
                _ => false,
            };
        }
        match found {
            Some(Value::String(v)) => v.eq_ignore_ascii_case(&self.value),
            Some(Value::Bool(b)) => b.to_string() == self.value,
            _ => false,
        }
    }
}

/// A parsed `$filter`: every term must hold.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Filter {
    /// The terms, in order.
    pub terms: Vec<Term>,
}

impl Filter {
    /// The value the filter requires `property` to equal, if an `eq` term names it (the first
    /// such term).
    pub fn value_of(&self, property: &str) -> Option<&str> {
        self.terms
            .iter()
            .find(|t| t.property == property && t.op == Comparison::Eq)
            .map(|t| t.value.as_str())
    }

    /// Whether `item` (a JSON object) satisfies every term: its member is a string equal to the
    /// term's value regardless of ASCII case, the boolean named, or a time that compares so.
    pub fn matches(&self, item: &Value) -> bool {
        self.terms.iter().all(|t| t.matches(item))
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
                // `:` and `+` belong to times (`2026-12-01T00:00:00+01:00`).
                if ch.is_ascii_alphanumeric() || matches!(ch, '_' | '-' | '.' | ':' | '+') {
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
        let datetime = DATETIMES.iter().any(|d| d.eq_ignore_ascii_case(&property));
        let op = match it.next() {
            Some(Token::Word(op)) => match Comparison::parse(&op) {
                Some(Comparison::Eq) => Comparison::Eq,
                Some(other) if datetime => other,
                Some(_) => {
                    return Err(bad(format!(
                        "Invalid $filter: the operator '{op}' compares times ({}); '{property}'                          takes eq",
                        DATETIMES.join(", ")
                    )))
                }
                None => {
                    return Err(bad(format!(
                        "Invalid $filter: the operator '{op}' after '{property}' is not                          supported; {}",
                        supported()
                    )))
                }
            },
            _ => {
                return Err(bad(format!(
                    "Invalid $filter: expected 'eq' after '{property}'; {}",
                    supported()
                )))
            }
        };
        let boolean = BOOLEANS.iter().any(|b| b.eq_ignore_ascii_case(&property));
        let value = match it.next() {
            Some(Token::Word(w)) if datetime => match chrono::DateTime::parse_from_rfc3339(&w)
                .map(|t| t.with_timezone(&chrono::Utc))
            {
                Ok(t) if (0..=9999).contains(&chrono::Datelike::year(&t)) => {
                    t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
                }
                // RFC 3339 writes the years 0000 to 9999 only: a time that leaves them once in
                // UTC (0000-01-01T00:00:00+01:00) could not be read back to compare, and the
                // filter would silently keep nothing.
                Ok(_) => {
                    return Err(bad(format!(
                        "Invalid $filter: '{w}' is before 0000 or after 9999 once in UTC"
                    )))
                }
                Err(_) => {
                    return Err(bad(format!(
                        "Invalid $filter: '{w}' is not an RFC 3339 time such as                          2026-12-01T00:00:00Z"
                    )))
                }
            },
            Some(Token::Text(_)) if datetime => {
                return Err(bad(format!(
                    "Invalid $filter: '{property}' takes an unquoted time such as                      2026-12-01T00:00:00Z"
                )))
            }
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
                op,
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
