//! The Conditional Access policy form as data: what it shows of a stored policy
//! ([`PolicyInput::of`]), what a submitted form says ([`PolicyInput::from_fields`]), and the
//! Graph document it writes ([`PolicyInput::document`]) — the stored document with only what
//! the form changed changed. A field the form does not show (a device filter, an insider-risk
//! condition, a session control other than the sign-in frequency, an `@odata` annotation) is
//! carried over as stored; a list is kept in its stored order, with what was added at its end;
//! an empty list stays the `null`, `[]` or absence it was. An edit that changes nothing writes
//! the document it read.

use super::forms::Fields;
use serde_json::{json, Map, Value};

/// The lists the form shows as checkboxes: the form's field name and where the list lives in
/// a `conditionalAccessPolicy`.
pub(crate) const LISTS: &[(&str, &[&str])] = &[
    ("include_users", &["conditions", "users", "includeUsers"]),
    ("exclude_users", &["conditions", "users", "excludeUsers"]),
    ("include_groups", &["conditions", "users", "includeGroups"]),
    ("exclude_groups", &["conditions", "users", "excludeGroups"]),
    ("include_roles", &["conditions", "users", "includeRoles"]),
    ("exclude_roles", &["conditions", "users", "excludeRoles"]),
    (
        "include_apps",
        &["conditions", "applications", "includeApplications"],
    ),
    (
        "exclude_apps",
        &["conditions", "applications", "excludeApplications"],
    ),
    (
        "user_actions",
        &["conditions", "applications", "includeUserActions"],
    ),
    (
        "contexts",
        &[
            "conditions",
            "applications",
            "includeAuthenticationContextClassReferences",
        ],
    ),
    ("client_app_types", &["conditions", "clientAppTypes"]),
    (
        "include_platforms",
        &["conditions", "platforms", "includePlatforms"],
    ),
    (
        "exclude_platforms",
        &["conditions", "platforms", "excludePlatforms"],
    ),
    (
        "include_locations",
        &["conditions", "locations", "includeLocations"],
    ),
    (
        "exclude_locations",
        &["conditions", "locations", "excludeLocations"],
    ),
    ("sign_in_risk", &["conditions", "signInRiskLevels"]),
    ("user_risk", &["conditions", "userRiskLevels"]),
];

/// The conditions that are `null` unless they say something: emptied by the form, they go
/// back to `null`.
const NULL_WHEN_EMPTY: &[&[&str]] = &[&["conditions", "platforms"], &["conditions", "locations"]];

const GRANT: &[&str] = &["grantControls"];
const FREQUENCY: &[&str] = &["sessionControls", "signInFrequency"];
const BLOCK: &str = "block";
const FULL_REAUTHENTICATION: &str = "primaryAndSecondaryAuthentication";

/// What the form says (or would show) of a policy.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct PolicyInput {
    /// `displayName`.
    pub name: String,
    /// `state`.
    pub state: String,
    /// The checkbox lists, in the order of [`LISTS`].
    pub lists: Vec<Vec<String>>,
    /// `none` (no grant controls), `block` or `grant`.
    pub grant: String,
    /// The built-in controls other than block.
    pub controls: Vec<String>,
    /// The authentication strength's id, or empty.
    pub strength: String,
    /// `OR` or `AND`.
    pub operator: String,
    /// `off`, `everyTime` or `timeBased`.
    pub frequency: String,
    /// The time-based frequency's number, as typed.
    pub frequency_value: String,
    /// `hours` or `days`.
    pub frequency_unit: String,
}

fn at<'v>(doc: &'v Value, path: &[&str]) -> Option<&'v Value> {
    path.iter()
        .try_fold(doc, |v, key| v.get(key))
        .filter(|v| !v.is_null())
}

fn strings(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

fn text(v: Option<&Value>) -> Option<&str> {
    v.and_then(Value::as_str)
}

/// Sets `path` in `doc` to `value`, making the objects on the way (in place of `null`).
fn set(doc: &mut Value, path: &[&str], value: Value) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let mut here = doc;
    for key in parents {
        if !here.is_object() {
            *here = Value::Object(Map::new());
        }
        let Value::Object(map) = here else {
            return;
        };
        here = map.entry((*key).to_string()).or_insert(Value::Null);
    }
    if !here.is_object() {
        *here = Value::Object(Map::new());
    }
    if let Value::Object(map) = here {
        map.insert((*last).to_string(), value);
    }
}

/// `stored` with what is not `chosen` removed and what is new added at the end.
pub(crate) fn merged(stored: &[String], chosen: &[String]) -> Vec<String> {
    let mut out: Vec<String> = stored
        .iter()
        .filter(|s| chosen.contains(s))
        .cloned()
        .collect();
    for c in chosen {
        if !out.contains(c) {
            out.push(c.clone());
        }
    }
    out
}

/// Writes `chosen` at `path`, leaving the stored list (its order, or its `null`) alone when it
/// says the same.
fn set_list(doc: &mut Value, path: &[&str], chosen: &[String]) {
    match at(doc, path).and_then(Value::as_array) {
        Some(_) => {
            let stored = strings(at(doc, path));
            let after = merged(&stored, chosen);
            if after != stored {
                set(doc, path, json!(after));
            }
        }
        None if chosen.is_empty() => {}
        None => set(doc, path, json!(chosen)),
    }
}

impl PolicyInput {
    /// What the form shows of the stored document `doc`.
    pub(crate) fn of(doc: &Value) -> PolicyInput {
        let grant = at(doc, GRANT);
        let built_in = strings(grant.and_then(|g| g.get("builtInControls")));
        let frequency = at(doc, FREQUENCY)
            .filter(|f| f.get("isEnabled").and_then(Value::as_bool) != Some(false));
        let every_time =
            frequency.is_some_and(|f| text(f.get("frequencyInterval")) == Some("everyTime"));
        PolicyInput {
            name: text(doc.get("displayName")).unwrap_or_default().to_string(),
            state: text(doc.get("state")).unwrap_or("disabled").to_string(),
            lists: LISTS.iter().map(|(_, p)| strings(at(doc, p))).collect(),
            grant: match grant {
                None => "none",
                Some(_) if built_in.iter().any(|c| c.eq_ignore_ascii_case(BLOCK)) => "block",
                Some(_) => "grant",
            }
            .into(),
            controls: built_in
                .into_iter()
                .filter(|c| !c.eq_ignore_ascii_case(BLOCK))
                .collect(),
            strength: grant
                .and_then(|g| at(g, &["authenticationStrength", "id"]))
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
            operator: grant
                .and_then(|g| text(g.get("operator")))
                .unwrap_or("OR")
                .to_uppercase(),
            frequency: match frequency {
                None => "off",
                Some(_) if every_time => "everyTime",
                Some(_) => "timeBased",
            }
            .into(),
            frequency_value: frequency
                .filter(|_| !every_time)
                .and_then(|f| f.get("value"))
                .and_then(Value::as_u64)
                .map(|v| v.to_string())
                .unwrap_or_default(),
            frequency_unit: frequency
                .filter(|_| !every_time)
                .and_then(|f| text(f.get("type")))
                .unwrap_or("hours")
                .to_string(),
        }
    }

    /// What a submitted form says.
    pub(crate) fn from_fields(fields: &Fields) -> PolicyInput {
        let or = |name: &str, default: &str| {
            let v = fields.one(name).trim().to_string();
            if v.is_empty() {
                default.to_string()
            } else {
                v
            }
        };
        PolicyInput {
            name: fields.one("name"),
            state: or("state", "disabled"),
            lists: LISTS.iter().map(|(name, _)| fields.all(name)).collect(),
            grant: or("grant", "none"),
            controls: fields.all("controls"),
            strength: fields.one("strength").trim().to_string(),
            operator: or("operator", "OR"),
            frequency: or("frequency", "off"),
            frequency_value: fields.one("frequency_value").trim().to_string(),
            frequency_unit: or("frequency_unit", "hours"),
        }
    }

    /// The chosen values of the list named `name` (see [`LISTS`]).
    pub(crate) fn list(&self, name: &str) -> &[String] {
        LISTS
            .iter()
            .position(|(n, _)| *n == name)
            .and_then(|i| self.lists.get(i))
            .map_or(&[], Vec::as_slice)
    }

    /// The Graph document of `stored` (a new policy: `{}`) as this form changes it, or what
    /// the form itself cannot say (the service checks the rest, as for the API).
    pub(crate) fn document(&self, stored: &Value) -> Result<Value, String> {
        let mut doc = stored.clone();
        // A name sent back as stored stays as stored, blanks and all.
        if text(doc.get("displayName")) != Some(self.name.as_str()) {
            doc["displayName"] = json!(self.name.trim());
        }
        if text(doc.get("state")) != Some(self.state.as_str()) {
            doc["state"] = json!(self.state);
        }
        for ((_, path), chosen) in LISTS.iter().zip(&self.lists) {
            set_list(&mut doc, path, chosen);
        }
        for path in NULL_WHEN_EMPTY {
            let emptied = at(&doc, path).is_some_and(|condition| {
                at(stored, path) != Some(condition)
                    && condition.as_object().is_some_and(|fields| {
                        fields
                            .values()
                            .all(|v| v.is_null() || v.as_array().is_some_and(Vec::is_empty))
                    })
            });
            if emptied {
                set(&mut doc, path, Value::Null);
            }
        }
        self.grant_into(&mut doc)?;
        self.frequency_into(&mut doc)?;
        Ok(doc)
    }

    fn grant_into(&self, doc: &mut Value) -> Result<(), String> {
        let stored = at(doc, GRANT).cloned();
        let mut grant = match self.grant.as_str() {
            "none" => {
                if stored.is_some() {
                    set(doc, GRANT, Value::Null);
                }
                return Ok(());
            }
            "block" | "grant" => stored.clone().unwrap_or_else(|| json!({})),
            other => {
                return Err(format!(
                    "Access must be blocked, granted with controls, or neither, not '{other}'."
                ))
            }
        };
        let built_in = strings(grant.get("builtInControls"));
        let (controls, strength) = if self.grant == BLOCK {
            (vec![BLOCK.to_string()], "")
        } else {
            (self.controls.clone(), self.strength.as_str())
        };
        let after = merged(&built_in, &controls);
        if after != built_in || grant.get("builtInControls").is_none() {
            grant["builtInControls"] = json!(after);
        }
        let stored_strength = at(&grant, &["authenticationStrength", "id"])
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        if strength.is_empty() {
            if at(&grant, &["authenticationStrength"]).is_some() {
                grant["authenticationStrength"] = Value::Null;
            }
        } else if !stored_strength.eq_ignore_ascii_case(strength) {
            grant["authenticationStrength"] = json!({ "id": strength });
        }
        let operator = match self.operator.to_ascii_uppercase().as_str() {
            "OR" => "OR",
            "AND" => "AND",
            other => {
                return Err(format!(
                    "The controls combine with OR or AND, not '{other}'."
                ))
            }
        };
        let stored_operator = text(grant.get("operator")).map(str::to_ascii_uppercase);
        if stored_operator.as_deref() != Some(operator) {
            grant["operator"] = json!(operator);
        }
        if stored.as_ref() != Some(&grant) {
            set(doc, GRANT, grant);
        }
        Ok(())
    }

    fn frequency_into(&self, doc: &mut Value) -> Result<(), String> {
        let stored = at(doc, FREQUENCY)
            .filter(|f| f.get("isEnabled").and_then(Value::as_bool) != Some(false))
            .cloned();
        let interval = stored
            .as_ref()
            .and_then(|f| text(f.get("frequencyInterval")))
            .map(str::to_string);
        let fresh = |mut f: Value| {
            f["isEnabled"] = json!(true);
            if text(f.get("authenticationType")).is_none() {
                f["authenticationType"] = json!(FULL_REAUTHENTICATION);
            }
            f
        };
        match self.frequency.as_str() {
            "off" => {
                if stored.is_some() {
                    set(doc, FREQUENCY, Value::Null);
                }
            }
            "everyTime" => {
                if interval.as_deref() != Some("everyTime") {
                    let mut f = fresh(stored.unwrap_or_else(|| json!({})));
                    f["frequencyInterval"] = json!("everyTime");
                    f["type"] = Value::Null;
                    f["value"] = Value::Null;
                    set(doc, FREQUENCY, f);
                }
            }
            "timeBased" => {
                let value: u32 = self.frequency_value.parse().map_err(|_| {
                    format!(
                        "The sign-in frequency is a whole number of hours or days, not '{}'.",
                        self.frequency_value
                    )
                })?;
                let unit = match self.frequency_unit.as_str() {
                    "hours" => "hours",
                    "days" => "days",
                    other => {
                        return Err(format!(
                            "The sign-in frequency counts hours or days, not '{other}'."
                        ))
                    }
                };
                let same = stored.as_ref().is_some_and(|f| {
                    interval.as_deref() != Some("everyTime")
                        && text(f.get("type")) == Some(unit)
                        && f.get("value").and_then(Value::as_u64) == Some(u64::from(value))
                });
                if !same {
                    let mut f = fresh(stored.unwrap_or_else(|| json!({})));
                    f["frequencyInterval"] = json!("timeBased");
                    f["type"] = json!(unit);
                    f["value"] = json!(value);
                    set(doc, FREQUENCY, f);
                }
            }
            other => {
                return Err(format!(
                    "The sign-in frequency is off, every time or time-based, not '{other}'."
                ))
            }
        }
        Ok(())
    }
}

/// The JSON merge patch (RFC 7386) that turns `before` into `after`: only what changed. (A
/// member set to `null` in `after` is removed, which is what the typed document reads back.)
pub(crate) fn merge_patch(before: &Value, after: &Value) -> Value {
    match (before, after) {
        (Value::Object(b), Value::Object(a)) => {
            let mut patch = Map::new();
            for (key, new) in a {
                match b.get(key) {
                    Some(old) if old == new => {}
                    Some(old) if old.is_object() && new.is_object() => {
                        patch.insert(key.clone(), merge_patch(old, new));
                    }
                    _ => {
                        patch.insert(key.clone(), new.clone());
                    }
                }
            }
            for key in b.keys() {
                if !a.contains_key(key) {
                    patch.insert(key.clone(), Value::Null);
                }
            }
            Value::Object(patch)
        }
        _ => after.clone(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn fields(pairs: &[(&str, &str)]) -> Fields {
        Fields::new(
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
                .collect(),
        )
    }

    /// What a browser sends for the form showing `input` unchanged.
    fn resent(input: &PolicyInput) -> Fields {
        let mut pairs = vec![
            ("name".to_string(), input.name.clone()),
            ("state".to_string(), input.state.clone()),
            ("grant".to_string(), input.grant.clone()),
            ("strength".to_string(), input.strength.clone()),
            ("operator".to_string(), input.operator.clone()),
            ("frequency".to_string(), input.frequency.clone()),
            ("frequency_value".to_string(), input.frequency_value.clone()),
            ("frequency_unit".to_string(), input.frequency_unit.clone()),
        ];
        for ((name, _), values) in LISTS.iter().zip(&input.lists) {
            pairs.extend(values.iter().map(|v| ((*name).to_string(), v.clone())));
        }
        pairs.extend(
            input
                .controls
                .iter()
                .map(|c| ("controls".to_string(), c.clone())),
        );
        Fields::new(pairs)
    }

    #[test]
    fn an_unchanged_form_writes_the_stored_document() {
        let stored = json!({
            "id": "p1", "displayName": "Agents", "state": "enabledForReportingButNotEnforced",
            "conditions": {
                "userRiskLevels": [], "signInRiskLevels": [], "clientAppTypes": ["all"],
                "platforms": null, "locations": null, "times": null,
                "applications": { "includeApplications": ["All"], "excludeApplications": [],
                                  "applicationFilter": null },
                "users": { "includeUsers": ["None"], "excludeGroups": ["g2", "g1"],
                           "includeGuestsOrExternalUsers": null },
                "clientApplications": { "includeAgentIdServicePrincipals": ["All"] }
            },
            "grantControls": { "operator": "or", "builtInControls": ["block"],
                               "authenticationStrength": null, "termsOfUse": [] },
            "sessionControls": { "signInFrequency": null, "persistentBrowser": { "mode": "never" } }
        });
        let input = PolicyInput::of(&stored);
        let again = PolicyInput::from_fields(&resent(&input));
        assert_eq!(again.document(&stored).unwrap(), stored);
        assert_eq!(merge_patch(&stored, &stored), json!({}));
    }

    #[test]
    fn the_seed_policy_from_the_form() {
        let form = fields(&[
            ("name", "Tier 0 Role Activation"),
            ("state", "enabled"),
            ("include_roles", "9b895d92-2cd3-44c7-9d02-a6ac2d5ea5c3"),
            ("contexts", "c1"),
            ("client_app_types", "all"),
            ("grant", "grant"),
            ("controls", "mfa"),
            ("operator", "OR"),
            ("frequency", "everyTime"),
        ]);
        let doc = PolicyInput::from_fields(&form)
            .document(&json!({}))
            .unwrap();
        assert_eq!(
            doc,
            json!({
                "displayName": "Tier 0 Role Activation", "state": "enabled",
                "conditions": {
                    "users": { "includeRoles": ["9b895d92-2cd3-44c7-9d02-a6ac2d5ea5c3"] },
                    "applications": { "includeAuthenticationContextClassReferences": ["c1"] },
                    "clientAppTypes": ["all"]
                },
                "grantControls": { "builtInControls": ["mfa"], "operator": "OR" },
                "sessionControls": { "signInFrequency": {
                    "isEnabled": true, "authenticationType": "primaryAndSecondaryAuthentication",
                    "frequencyInterval": "everyTime", "type": null, "value": null } }
            })
        );
        // Then the strength instead of MFA: only the grant changes.
        let mut input = PolicyInput::of(&doc);
        input.controls.clear();
        input.strength = "00000000-0000-0000-0000-000000000004".into();
        let after = input.document(&doc).unwrap();
        assert_eq!(
            merge_patch(&doc, &after),
            json!({ "grantControls": {
                "builtInControls": [],
                "authenticationStrength": { "id": "00000000-0000-0000-0000-000000000004" }
            } })
        );
    }

    #[test]
    fn lists_keep_their_order_and_emptied_conditions_go_back_to_null() {
        let stored = json!({ "conditions": {
            "platforms": { "includePlatforms": ["android", "iOS"], "excludePlatforms": [] },
            "users": { "includeUsers": ["u2", "u1"] } } });
        let mut input = PolicyInput::of(&stored);
        input.lists[0] = vec!["u1".into(), "u3".into(), "u2".into()];
        input.lists[11] = Vec::new();
        let doc = input.document(&stored).unwrap();
        assert_eq!(
            doc["conditions"]["users"]["includeUsers"],
            json!(["u2", "u1", "u3"])
        );
        assert_eq!(doc["conditions"]["platforms"], Value::Null);
    }

    #[test]
    fn what_the_form_cannot_say_is_refused_with_a_sentence() {
        for (name, value) in [
            ("grant", "maybe"),
            ("operator", "XOR"),
            ("frequency", "sometimes"),
        ] {
            let mut pairs = vec![("grant", "grant"), ("frequency", "off")];
            pairs.retain(|(n, _)| *n != name);
            pairs.push((name, value));
            let error = PolicyInput::from_fields(&fields(&pairs))
                .document(&json!({}))
                .unwrap_err();
            assert!(error.contains(value), "{error}");
        }
        let error = PolicyInput::from_fields(&fields(&[
            ("frequency", "timeBased"),
            ("frequency_value", "four"),
        ]))
        .document(&json!({}))
        .unwrap_err();
        assert!(error.contains("whole number"), "{error}");
    }
}
