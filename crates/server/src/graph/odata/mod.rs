//! The OData query options the API understands, each endpoint saying which it accepts:
//!
//! - `$filter`: `and`-joined `property eq 'value'` terms (string literals, `''` for a quote),
//!   on the properties the endpoint names; anything else is a `400 BadRequest` that says what is
//!   supported. Values compare regardless of ASCII case, as directory ids do in Graph.
//! - `$top` (1–999) and `$skiptoken`: a page of at most `$top` items; while more remain, the
//!   answer carries `@odata.nextLink`, the same query with the `$skiptoken` of the next page.
//! - `$count=true` on paged collections: `@odata.count`, every item the filter keeps.
//! - `$select` on paged collections: each item keeps only the properties named (in any ASCII
//!   letter case; a name no item has selects nothing), those `$expand` names, and its `@odata`
//!   annotations. Microsoft's Graph SDKs offer it on every collection.
//! - `$expand`, where the endpoint allows the names given.
//!
//! Other `$` options (`$orderby`, `$search`, …) are refused rather than ignored, so that a
//! client never mistakes an unfiltered or unordered answer for a filtered or ordered one. Parameters without `$`
//! are ignored, as Graph does.

use crate::graph::error::GraphError;
use serde_json::{json, Map, Value};

mod filter;
use filter::*;
pub use filter::{parse_filter, Comparison, Filter, Term};

/// The largest `$top`.
pub const MAX_TOP: usize = 999;

/// What an endpoint accepts.
#[derive(Debug, Clone, Copy, Default)]
pub struct Accepts<'a> {
    /// Properties `$filter` may name (canonical spelling).
    pub filter: &'a [&'a str],
    /// Whether `$top`, `$skiptoken` and `$count` are accepted.
    pub paging: bool,
    /// Whether `$select` is accepted.
    pub select: bool,
    /// Names `$expand` may list (an item matches by its name before any `(`).
    pub expand: &'a [&'a str],
}

/// The options of a paged collection whose `$filter` may name `filter` (`$top`, `$skiptoken`,
/// `$count`, `$select`; no `$expand`).
pub fn list_options(raw: Option<&str>, filter: &[&str]) -> Result<Options, QueryError> {
    parse(
        raw,
        &Accepts {
            filter,
            paging: true,
            select: true,
            expand: &[],
        },
    )
}

/// A query option that cannot be used: answered `400 BadRequest` with its sentence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryError(pub String);

impl From<QueryError> for GraphError {
    fn from(e: QueryError) -> Self {
        GraphError::bad_request("BadRequest", e.0)
    }
}

/// The query options of one request.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// `$filter`, parsed.
    pub filter: Option<Filter>,
    /// `$top`.
    pub top: Option<usize>,
    /// Where the page starts (`$skiptoken`).
    pub skip: usize,
    /// `$count=true`: the answer says how many items match, over all pages.
    pub count: bool,
    /// `$expand` items.
    pub expand: Vec<String>,
    /// `$select`: the properties each item keeps (empty: every property).
    pub select: Vec<String>,
    /// Every parameter as given (for the next link).
    pairs: Vec<(String, String)>,
}

impl Options {
    /// Whether `$expand` lists `name` (alone or with nested options).
    pub fn expands(&self, name: &str) -> bool {
        self.expand.iter().any(|e| expand_name(e) == name)
    }

    /// Whether `item` passes the filter (no filter: every item does).
    pub fn keeps(&self, item: &Value) -> bool {
        self.filter.as_ref().is_none_or(|f| f.matches(item))
    }

    /// `item` with only the properties `$select` names, those `$expand` names and its `@odata`
    /// annotations (without `$select`: `item` as it is).
    pub fn project(&self, item: Value) -> Value {
        if self.select.is_empty() {
            return item;
        }
        let Value::Object(map) = item else {
            return item;
        };
        Value::Object(
            map.into_iter()
                .filter(|(key, _)| {
                    key.starts_with('@')
                        || self.select.iter().any(|s| s.eq_ignore_ascii_case(key))
                        || self.expands(key)
                })
                .collect(),
        )
    }
}

fn expand_name(item: &str) -> &str {
    item.split('(').next().unwrap_or(item).trim()
}

/// Splits `$expand` at top-level commas (not those inside parentheses).
fn expand_items(text: &str) -> Vec<String> {
    let mut items = Vec::new();
    let mut depth = 0usize;
    let mut current = String::new();
    for c in text.chars() {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => {
                items.push(std::mem::take(&mut current));
                continue;
            }
            _ => {}
        }
        current.push(c);
    }
    items.push(current);
    items
        .into_iter()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

/// Reads the raw query string under what the endpoint `accepts`.
pub fn parse(raw: Option<&str>, accepts: &Accepts<'_>) -> Result<Options, QueryError> {
    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(raw.unwrap_or("").as_bytes())
        .into_owned()
        .collect();
    let mut options = Options::default();
    let mut seen: Vec<String> = Vec::new();
    for (key, value) in &pairs {
        let Some(name) = key.strip_prefix('$') else {
            continue;
        };
        let name = name.to_ascii_lowercase();
        if seen.contains(&name) {
            return Err(bad(format!("The query option ${name} is given twice.")));
        }
        seen.push(name.clone());
        match name.as_str() {
            "filter" if !accepts.filter.is_empty() => {
                options.filter = Some(parse_filter(value, accepts.filter)?);
            }
            "top" if accepts.paging => {
                let top = value
                    .trim()
                    .parse::<usize>()
                    .ok()
                    .filter(|t| (1..=MAX_TOP).contains(t))
                    .ok_or_else(|| {
                        bad(format!(
                            "$top must be a whole number from 1 to {MAX_TOP}, not '{value}'."
                        ))
                    })?;
                options.top = Some(top);
            }
            "count" if accepts.paging => {
                options.count = match value.trim().to_ascii_lowercase().as_str() {
                    "true" => true,
                    "false" => false,
                    _ => return Err(bad(format!("$count is true or false, not '{value}'."))),
                };
            }
            "skiptoken" if accepts.paging => {
                options.skip = value.trim().parse::<usize>().map_err(|_| {
                    bad("The $skiptoken is not one this service issued: follow @odata.nextLink as given.")
                })?;
            }
            "select" if accepts.select => {
                options.select = parse_select(value)?;
            }
            "expand" if !accepts.expand.is_empty() => {
                let items = expand_items(value);
                let unknown: Vec<&str> = items
                    .iter()
                    .map(|i| expand_name(i))
                    .filter(|n| !accepts.expand.contains(n))
                    .collect();
                if !unknown.is_empty() {
                    return Err(bad(format!(
                        "$expand cannot expand {} here; it can expand {}.",
                        unknown.join(", "),
                        accepts.expand.join(", ")
                    )));
                }
                options.expand = items;
            }
            _ => {
                let mut supported: Vec<&str> = Vec::new();
                if !accepts.filter.is_empty() {
                    supported.push("$filter");
                }
                if accepts.paging {
                    supported.extend(["$top", "$skiptoken", "$count"]);
                }
                if accepts.select {
                    supported.push("$select");
                }
                if !accepts.expand.is_empty() {
                    supported.push("$expand");
                }
                let supported = if supported.is_empty() {
                    "none".to_string()
                } else {
                    supported.join(", ")
                };
                return Err(bad(format!(
                    "The query option {key} is not supported by this endpoint; supported: \
                     {supported}."
                )));
            }
        }
    }
    options.pairs = pairs;
    Ok(options)
}

/// `$select`'s comma-separated property names (Graph's are ASCII letters and digits; `*`, paths
/// and casts are not supported).
fn parse_select(value: &str) -> Result<Vec<String>, QueryError> {
    let names: Vec<String> = value.split(',').map(|n| n.trim().to_string()).collect();
    if names
        .iter()
        .any(|n| n.is_empty() || !n.chars().all(|c| c.is_ascii_alphanumeric()))
    {
        return Err(bad(format!(
            "$select takes property names separated by commas, not '{value}'."
        )));
    }
    Ok(names)
}

/// The answer to a `GET` of a collection: `items` in their Graph shape, through
/// [`collection`] (filtered, counted, paged).
pub fn listed<T: serde::Serialize>(
    context: String,
    items: &[T],
    options: &Options,
    base: &str,
    path: &str,
) -> Result<Value, crate::error::ServeError> {
    let items = items.iter().map(to_value).collect::<Result<Vec<_>, _>>()?;
    Ok(collection(context, items, options, base, path))
}

/// The answer to a `GET` of one item of the collection whose context is `context`.
pub fn one<T: serde::Serialize>(
    context: &str,
    item: &T,
) -> Result<Value, crate::error::ServeError> {
    Ok(entity(to_value(item)?, format!("{context}/$entity")))
}

/// A value in its Graph JSON shape (a failure is internal: the service's own types serialize).
pub fn to_value<T: serde::Serialize>(value: &T) -> Result<Value, crate::error::ServeError> {
    serde_json::to_value(value)
        .map_err(|e| crate::error::ServeError::Internal(format!("serializing: {e}")))
}

/// A collection answer: of `items`, those `$filter` keeps, and of those the page that `$top`
/// and `$skiptoken` ask for, with `@odata.context`, `@odata.count` (every item kept) when
/// asked, and, while more remain, `@odata.nextLink` (`base` is the issuer, `path` the request
/// path).
pub fn collection(
    context: String,
    items: Vec<Value>,
    options: &Options,
    base: &str,
    path: &str,
) -> Value {
    let items: Vec<Value> = items.into_iter().filter(|i| options.keeps(i)).collect();
    let total = items.len();
    let start = options.skip.min(total);
    let end = options
        .top
        .map_or(total, |top| start.saturating_add(top).min(total));
    // Selected after filtering: a filter may name a property that is not selected.
    let page: Vec<Value> = items
        .into_iter()
        .skip(start)
        .take(end - start)
        .map(|item| options.project(item))
        .collect();
    let mut body = Map::new();
    body.insert("@odata.context".into(), Value::String(context));
    if options.count {
        body.insert("@odata.count".into(), json!(total));
    }
    if end < total {
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in &options.pairs {
            if !k.eq_ignore_ascii_case("$skiptoken") {
                query.append_pair(k, v);
            }
        }
        query.append_pair("$skiptoken", &end.to_string());
        body.insert(
            "@odata.nextLink".into(),
            Value::String(format!("{base}{path}?{}", query.finish())),
        );
    }
    body.insert("value".into(), json!(page));
    Value::Object(body)
}

/// A single entity: `value` (a JSON object) with `@odata.context` first.
pub fn entity(mut value: Value, context: String) -> Value {
    if let Value::Object(map) = &mut value {
        let mut out = Map::new();
        out.insert("@odata.context".into(), Value::String(context));
        out.extend(std::mem::take(map));
        *map = out;
    }
    value
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    const FIELDS: &[&str] = &["scopeId", "scopeType", "roleDefinitionId"];

    #[test]
    fn reads_and_joined_equality_terms() {
        let f = parse_filter(
            "scopeId eq '/' and scopeType EQ 'DirectoryRole' And roleDefinitionId eq 'it''s'",
            FIELDS,
        )
        .unwrap();
        assert_eq!(f.value_of("scopeId"), Some("/"));
        assert_eq!(f.value_of("scopeType"), Some("DirectoryRole"));
        assert_eq!(f.value_of("roleDefinitionId"), Some("it's"));
        let f = parse_filter("ROLEDEFINITIONID eq 'x'", FIELDS).unwrap();
        assert_eq!(f.terms[0].property, "roleDefinitionId");
        assert!(f.matches(&json!({"roleDefinitionId": "X"})));
        assert!(!f.matches(&json!({"roleDefinitionId": "y"})));
        assert!(!f.matches(&json!({})));
    }

    #[test]
    fn refuses_what_it_does_not_support_and_names_unknown_properties() {
        let err = |text: &str| parse_filter(text, FIELDS).unwrap_err().0;
        let m = err("scopeId eq '/' and principalId eq 'p' and colour eq 'red'");
        assert!(m.contains("principalId, colour"), "{m}");
        assert!(m.contains("roleDefinitionId"), "{m}");
        assert!(err("scopeId ne '/'").contains("'ne'"));
        assert!(err("scopeId eq '/' or scopeType eq 'x'").contains("'or'"));
        assert!(err("scopeId eq /").contains("unexpected '/'"));
        assert!(err("scopeId eq 'open").contains("not closed"));
        assert!(err("scopeId eq").contains("no value"));
        assert!(err("scopeId eq '/' and").contains("ends after"));
        assert!(err("").contains("empty"));
        assert!(err("startswith(scopeId, '/')").contains("unexpected '('"));
        assert!(err("scopeId eq true").contains("quoted string"));
        // Boolean properties take true or false, unquoted.
        let f = parse_filter("isAvailable eq TRUE", &["isAvailable"]).unwrap();
        assert!(f.matches(&serde_json::json!({"isAvailable": true})));
        assert!(!f.matches(&serde_json::json!({"isAvailable": false})));
        assert!(!f.matches(&serde_json::json!({})));
        assert!(parse_filter("isAvailable eq 'true'", &["isAvailable"])
            .unwrap_err()
            .0
            .contains("true or false"));
    }

    #[test]
    fn compares_times_in_time_not_as_text() {
        let fields = &["createdDateTime", "userId"];
        let f = parse_filter(
            "createdDateTime ge 2026-12-01T00:00:00Z and createdDateTime lt 2026-12-02T01:00:00+01:00",
            fields,
        )
        .unwrap();
        // The upper bound is 2026-12-02T00:00:00Z; an offset is a time like any other.
        for (at, kept) in [
            ("2026-11-30T23:59:59Z", false),
            ("2026-12-01T00:00:00Z", true),
            ("2026-12-01T09:30:00+09:00", true),
            ("2026-12-01T23:59:59.999Z", true),
            ("2026-12-02T00:00:00Z", false),
            ("not a time", false),
        ] {
            assert_eq!(f.matches(&json!({"createdDateTime": at})), kept, "{at}");
        }
        assert!(!f.matches(&json!({})));
        for (op, at, kept) in [
            ("eq", "2026-12-01T00:00:00Z", true),
            ("eq", "2026-12-01T00:00:01Z", false),
            ("gt", "2026-12-01T00:00:00Z", false),
            ("gt", "2026-12-01T00:00:01Z", true),
            ("le", "2026-12-01T00:00:00Z", true),
            ("le", "2026-12-01T00:00:01Z", false),
        ] {
            let f = parse_filter(
                &format!("createdDateTime {op} 2026-12-01T00:00:00Z"),
                fields,
            )
            .unwrap();
            assert_eq!(
                f.matches(&json!({"createdDateTime": at})),
                kept,
                "{op} {at}"
            );
        }
        let err = |text: &str| parse_filter(text, fields).unwrap_err().0;
        assert!(err("createdDateTime ge '2026-12-01T00:00:00Z'").contains("unquoted"));
        assert!(err("createdDateTime ge yesterday").contains("RFC 3339"));
        assert!(err("userId ge 'a'").contains("takes eq"));
        assert!(err("createdDateTime ne 2026-12-01T00:00:00Z").contains("'ne'"));
        // A time that leaves RFC 3339's years once in UTC is refused, not kept as a value that
        // no time equals.
        for edge in ["0000-01-01T00:00:00+01:00", "9999-12-31T23:30:00-01:00"] {
            let m = err(&format!("createdDateTime ge {edge}"));
            assert!(m.contains("before 0000 or after 9999"), "{m}");
        }
        let f = parse_filter("createdDateTime ge 0000-01-01T00:00:00-01:00", fields).unwrap();
        assert!(f.matches(&json!({"createdDateTime": "2026-12-01T00:00:00Z"})));
        // A time is not an eq value for value_of (which pushes equality down to the store).
        let f = parse_filter("createdDateTime ge 2026-12-01T00:00:00Z", fields).unwrap();
        assert_eq!(f.value_of("createdDateTime"), None);
    }

    #[test]
    fn options_refuse_unsupported_dollar_parameters() {
        let accepts = Accepts {
            filter: FIELDS,
            paging: true,
            select: false,
            expand: &["policy"],
        };
        let o = parse(
            Some("%24filter=scopeId+eq+%27%2F%27&$top=2&$expand=policy($expand=rules)&x=1"),
            &accepts,
        )
        .unwrap();
        assert_eq!(o.top, Some(2));
        assert!(o.expands("policy"));
        assert_eq!(o.filter.unwrap().value_of("scopeId"), Some("/"));
        for bad in [
            "$select=id",
            "$top=0",
            "$top=1000",
            "$top=x",
            "$skiptoken=abc",
            "$expand=rules",
            "$top=1&$top=2",
        ] {
            assert!(parse(Some(bad), &accepts).is_err(), "{bad}");
        }
        assert!(parse(Some("$top=1"), &Accepts::default()).is_err());
    }

    #[test]
    fn select_keeps_the_named_properties_after_filtering() {
        let accepts = Accepts {
            filter: &["accountEnabled"],
            paging: true,
            select: true,
            expand: &["rules"],
        };
        let items = vec![
            json!({"@odata.type": "#microsoft.graph.user", "id": "1", "displayName": "A",
                   "accountEnabled": true, "rules": []}),
            json!({"id": "2", "displayName": "B", "accountEnabled": false}),
            json!({"id": "3", "displayName": "C", "accountEnabled": true}),
        ];
        // Filtered on a property it does not select; names in any case; spaces around commas.
        let o = parse(
            Some("$filter=accountEnabled eq true&$select=ID, displayname&$top=1&$count=true"),
            &accepts,
        )
        .unwrap();
        let page = collection("ctx".into(), items.clone(), &o, "http://h", "/x");
        assert_eq!(
            page["value"],
            json!([{"@odata.type": "#microsoft.graph.user", "id": "1", "displayName": "A"}])
        );
        assert_eq!(page["@odata.count"], 2);
        // The next link keeps the selection.
        let next = page["@odata.nextLink"].as_str().unwrap();
        let o2 = parse(Some(next.split_once('?').unwrap().1), &accepts).unwrap();
        let page = collection("ctx".into(), items.clone(), &o2, "http://h", "/x");
        assert_eq!(page["value"], json!([{"id": "3", "displayName": "C"}]));
        // What $expand names is kept; a name no item has selects nothing.
        let o = parse(Some("$select=id,colour&$expand=rules"), &accepts).unwrap();
        let page = collection("ctx".into(), items, &o, "http://h", "/x");
        assert_eq!(
            page["value"][0],
            json!({"@odata.type": "#microsoft.graph.user", "id": "1", "rules": []})
        );
        assert_eq!(page["value"][1], json!({"id": "2"}));
        for bad in [
            "$select=",
            "$select=id,",
            "$select=*",
            "$select=manager/id",
            "$select=id;x",
        ] {
            let e = parse(Some(bad), &accepts).unwrap_err().0;
            assert!(
                e.contains("property names separated by commas"),
                "{bad}: {e}"
            );
        }
        // Where it is not accepted it is refused, and the refusal says what is.
        let e = parse(
            Some("$select=id"),
            &Accepts {
                select: false,
                ..accepts
            },
        )
        .unwrap_err()
        .0;
        assert!(
            e.ends_with("supported: $filter, $top, $skiptoken, $count, $expand."),
            "{e}"
        );
        assert!(parse(Some("$orderby=id"), &accepts)
            .unwrap_err()
            .0
            .contains("$select"));
    }

    #[test]
    fn pages_with_next_links_that_keep_the_query() {
        let accepts = Accepts {
            filter: FIELDS,
            paging: true,
            select: true,
            expand: &[],
        };
        // Five items the filter keeps, interleaved with four it drops: pages are of kept items.
        let items: Vec<Value> = (0..9)
            .map(|i| {
                if i % 2 == 0 {
                    json!({"id": i / 2, "scopeId": "/"})
                } else {
                    json!({"id": 100 + i, "scopeId": "/other"})
                }
            })
            .collect();
        let kept = |page: &Value| -> Vec<i64> {
            page["value"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v["id"].as_i64().unwrap())
                .collect()
        };
        let o = parse(Some("$top=2&$filter=scopeId eq '/'"), &accepts).unwrap();
        let page = collection("ctx".into(), items.clone(), &o, "http://h", "/v1.0/x");
        assert_eq!(kept(&page), [0, 1]);
        let next = page["@odata.nextLink"].as_str().unwrap();
        assert!(next.starts_with("http://h/v1.0/x?"), "{next}");
        let query = next.split_once('?').unwrap().1;
        let o2 = parse(Some(query), &accepts).unwrap();
        assert_eq!(o2.skip, 2);
        assert_eq!(o2.filter, o.filter);
        let page = collection("ctx".into(), items.clone(), &o2, "http://h", "/v1.0/x");
        assert_eq!(kept(&page), [2, 3]);
        let query = page["@odata.nextLink"]
            .as_str()
            .unwrap()
            .split_once('?')
            .unwrap()
            .1
            .to_string();
        let o3 = parse(Some(&query), &accepts).unwrap();
        let page = collection("ctx".into(), items.clone(), &o3, "http://h", "/v1.0/x");
        assert_eq!(kept(&page), [4]);
        assert!(page.get("@odata.nextLink").is_none());
        // Without options: everything, no link.
        let all = collection(
            "ctx".into(),
            items.clone(),
            &Options::default(),
            "http://h",
            "/x",
        );
        assert_eq!(all["value"].as_array().unwrap().len(), 9);
        assert!(all.get("@odata.nextLink").is_none());
        assert!(all.get("@odata.count").is_none());
        // $count counts every item kept, not the page; the next link keeps asking for it.
        let o = parse(Some("$top=2&$count=true&$filter=scopeId eq '/'"), &accepts).unwrap();
        let page = collection("ctx".into(), items, &o, "http://h", "/x");
        assert_eq!(page["@odata.count"], 5);
        assert!(page["@odata.nextLink"]
            .as_str()
            .unwrap()
            .contains("%24count=true"));
        assert!(parse(Some("$count=yes"), &accepts).is_err());
    }
}
