//! Device filters (`devices.deviceFilter`): Entra's rule syntax over the device's attributes.
//!
//! `device.isCompliant -eq True -or device.trustType -eq "ServerAD"`. Supported: `-and`, `-or`,
//! parentheses, and the comparison operators `-eq -ne -startsWith -notStartsWith -endsWith
//! -notEndsWith -contains -notContains -in -notIn`. An attribute the device does not report is
//! null, as Entra treats an unregistered device. A rule that does not parse, or a sign-in with no
//! device information, cannot be known.

use crate::conditional_access::Filter;
use crate::signin::DeviceInfo;
use crate::tri::Tri;

/// Whether the filter condition holds (include mode: the device matches; exclude mode: it
/// does not).
pub fn evaluate(filter: &Filter, device: Option<&DeviceInfo>) -> Tri {
    let Some(device) = device else {
        return Tri::Unknown;
    };
    let Ok(rule) = parse(&filter.rule) else {
        return Tri::Unknown;
    };
    let matched = rule.matches(device);
    if filter.mode.eq_ignore_ascii_case("exclude") {
        Tri::from(!matched)
    } else if filter.mode.eq_ignore_ascii_case("include") {
        Tri::from(matched)
    } else {
        Tri::Unknown
    }
}

/// Whether `rule` parses.
pub fn is_valid(rule: &str) -> bool {
    parse(rule).is_ok()
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Open,
    Close,
    Op(String),
    Word(String),
    Str(String),
    List(Vec<String>),
}

#[derive(Debug)]
enum Rule {
    And(Box<Rule>, Box<Rule>),
    Or(Box<Rule>, Box<Rule>),
    Cmp {
        attribute: String,
        op: String,
        value: Vec<String>,
    },
}

fn tokenize(s: &str) -> Result<Vec<Token>, ()> {
    let mut out = Vec::new();
    let chars: Vec<char> = s.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if c == '(' {
            out.push(Token::Open);
            i += 1;
        } else if c == ')' {
            out.push(Token::Close);
            i += 1;
        } else if c == '"' {
            let (text, next) = string_at(&chars, i)?;
            out.push(Token::Str(text));
            i = next;
        } else if c == '[' {
            i += 1;
            let mut items = Vec::new();
            loop {
                while i < chars.len() && (chars[i].is_whitespace() || chars[i] == ',') {
                    i += 1;
                }
                match chars.get(i) {
                    Some(']') => {
                        i += 1;
                        break;
                    }
                    Some('"') => {
                        let (text, next) = string_at(&chars, i)?;
                        items.push(text);
                        i = next;
                    }
                    _ => return Err(()),
                }
            }
            out.push(Token::List(items));
        } else {
            let start = i;
            while i < chars.len() && !chars[i].is_whitespace() && !"()\"[".contains(chars[i]) {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            if word.starts_with('-') {
                out.push(Token::Op(word.to_ascii_lowercase()));
            } else {
                out.push(Token::Word(word));
            }
        }
    }
    Ok(out)
}

fn string_at(chars: &[char], start: usize) -> Result<(String, usize), ()> {
    let mut i = start + 1;
    let mut text = String::new();
    while i < chars.len() {
        if chars[i] == '"' {
            return Ok((text, i + 1));
        }
        text.push(chars[i]);
        i += 1;
    }
    Err(())
}

const COMPARISONS: &[&str] = &[
    "-eq",
    "-ne",
    "-startswith",
    "-notstartswith",
    "-endswith",
    "-notendswith",
    "-contains",
    "-notcontains",
    "-in",
    "-notin",
];

fn parse(rule: &str) -> Result<Rule, ()> {
    let tokens = tokenize(rule)?;
    let mut pos = 0;
    let r = parse_or(&tokens, &mut pos)?;
    if pos != tokens.len() {
        return Err(());
    }
    Ok(r)
}

fn parse_or(t: &[Token], pos: &mut usize) -> Result<Rule, ()> {
    let mut left = parse_and(t, pos)?;
    while t.get(*pos) == Some(&Token::Op("-or".into())) {
        *pos += 1;
        left = Rule::Or(Box::new(left), Box::new(parse_and(t, pos)?));
    }
    Ok(left)
}

fn parse_and(t: &[Token], pos: &mut usize) -> Result<Rule, ()> {
    let mut left = parse_factor(t, pos)?;
    while t.get(*pos) == Some(&Token::Op("-and".into())) {
        *pos += 1;
        left = Rule::And(Box::new(left), Box::new(parse_factor(t, pos)?));
    }
    Ok(left)
}

fn parse_factor(t: &[Token], pos: &mut usize) -> Result<Rule, ()> {
    match t.get(*pos) {
        Some(Token::Open) => {
            *pos += 1;
            let r = parse_or(t, pos)?;
            if t.get(*pos) != Some(&Token::Close) {
                return Err(());
            }
            *pos += 1;
            Ok(r)
        }
        Some(Token::Word(w)) => {
            let attribute = w
                .strip_prefix("device.")
                .or_else(|| w.strip_prefix("Device."))
                .ok_or(())?
                .to_string();
            let op = match t.get(*pos + 1) {
                Some(Token::Op(op)) if COMPARISONS.contains(&op.as_str()) => op.clone(),
                _ => return Err(()),
            };
            let value = match t.get(*pos + 2) {
                Some(Token::Str(s)) | Some(Token::Word(s)) => vec![s.clone()],
                Some(Token::List(l)) => l.clone(),
                _ => return Err(()),
            };
            *pos += 3;
            Ok(Rule::Cmp {
                attribute,
                op,
                value,
            })
        }
        _ => Err(()),
    }
}

fn attribute(device: &DeviceInfo, name: &str) -> Vec<String> {
    if name.eq_ignore_ascii_case("isCompliant") {
        return device
            .is_compliant
            .map(|b| b.to_string())
            .into_iter()
            .collect();
    }
    if name.eq_ignore_ascii_case("trustType") {
        return device.trust_type.clone().into_iter().collect();
    }
    let value = device
        .extra
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v);
    match value {
        Some(serde_json::Value::String(s)) => vec![s.clone()],
        Some(serde_json::Value::Bool(b)) => vec![b.to_string()],
        Some(serde_json::Value::Number(n)) => vec![n.to_string()],
        Some(serde_json::Value::Array(a)) => a
            .iter()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect(),
        _ => Vec::new(),
    }
}

impl Rule {
    fn matches(&self, device: &DeviceInfo) -> bool {
        match self {
            Rule::And(a, b) => a.matches(device) && b.matches(device),
            Rule::Or(a, b) => a.matches(device) || b.matches(device),
            Rule::Cmp {
                attribute: name,
                op,
                value,
            } => {
                let have: Vec<String> = attribute(device, name)
                    .iter()
                    .map(|s| s.to_ascii_lowercase())
                    .collect();
                let want: Vec<String> = value.iter().map(|s| s.to_ascii_lowercase()).collect();
                let first = want.first().map(String::as_str).unwrap_or("");
                let any = |f: &dyn Fn(&str) -> bool| have.iter().any(|h| f(h));
                match op.as_str() {
                    "-eq" => any(&|h| h == first),
                    "-ne" => !any(&|h| h == first),
                    "-startswith" => any(&|h| h.starts_with(first)),
                    "-notstartswith" => !any(&|h| h.starts_with(first)),
                    "-endswith" => any(&|h| h.ends_with(first)),
                    "-notendswith" => !any(&|h| h.ends_with(first)),
                    "-contains" => any(&|h| h.contains(first)),
                    "-notcontains" => !any(&|h| h.contains(first)),
                    "-in" => any(&|h| want.iter().any(|w| w == h)),
                    "-notin" => !any(&|h| want.iter().any(|w| w == h)),
                    _ => false,
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn device(compliant: Option<bool>, trust: Option<&str>) -> DeviceInfo {
        DeviceInfo {
            is_compliant: compliant,
            trust_type: trust.map(str::to_string),
            extra: Default::default(),
        }
    }

    fn filter(mode: &str, rule: &str) -> Filter {
        Filter {
            mode: mode.into(),
            rule: rule.into(),
            extra: Default::default(),
        }
    }

    #[test]
    fn exclude_compliant_or_hybrid_joined() {
        let f = filter(
            "exclude",
            r#"device.isCompliant -eq True -or device.trustType -eq "ServerAD""#,
        );
        assert_eq!(evaluate(&f, Some(&device(Some(true), None))), Tri::False);
        assert_eq!(
            evaluate(&f, Some(&device(Some(false), Some("ServerAD")))),
            Tri::False
        );
        assert_eq!(
            evaluate(&f, Some(&device(Some(false), Some("Workplace")))),
            Tri::True
        );
        assert_eq!(
            evaluate(&f, Some(&device(None, None))),
            Tri::True,
            "unregistered: nulls"
        );
        assert_eq!(evaluate(&f, None), Tri::Unknown, "no device information");
    }

    #[test]
    fn and_binds_tighter_than_or_and_parentheses_work() {
        let d = device(Some(false), Some("AzureAD"));
        let f = filter(
            "include",
            r#"device.isCompliant -eq True -and device.trustType -eq "x" -or device.trustType -eq "AzureAD""#,
        );
        assert_eq!(evaluate(&f, Some(&d)), Tri::True);
        let f = filter(
            "include",
            r#"device.isCompliant -eq True -and (device.trustType -eq "x" -or device.trustType -eq "AzureAD")"#,
        );
        assert_eq!(evaluate(&f, Some(&d)), Tri::False);
    }

    #[test]
    fn in_and_string_operators() {
        let mut d = device(None, None);
        d.extra.insert("operatingSystem".into(), "Windows".into());
        let f = filter(
            "include",
            r#"device.operatingSystem -in ["iOS", "windows"]"#,
        );
        assert_eq!(evaluate(&f, Some(&d)), Tri::True);
        let f = filter("include", r#"device.operatingSystem -startsWith "Win""#);
        assert_eq!(evaluate(&f, Some(&d)), Tri::True);
        let f = filter("include", r#"device.operatingSystem -notContains "dow""#);
        assert_eq!(evaluate(&f, Some(&d)), Tri::False);
    }

    #[test]
    fn malformed_rules_are_unknown_not_true() {
        let d = device(Some(true), None);
        for rule in [
            "",
            "device.isCompliant",
            "device.isCompliant -eq",
            "(device.x -eq 1",
            "device.x -eq \"open",
            "foo -eq 1",
            "device.x -like 1",
        ] {
            assert!(!is_valid(rule), "{rule}");
            assert_eq!(
                evaluate(&filter("exclude", rule), Some(&d)),
                Tri::Unknown,
                "{rule}"
            );
        }
    }
}
