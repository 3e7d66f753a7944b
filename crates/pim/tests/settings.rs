//! Role settings as an administrator meets them: read from an Entra export, changed rule by rule
//! through Graph PATCH bodies, refused with a clear reason when wrong, and linted.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::{DateTime, TimeZone, Utc};
use pim::{lint_role_policy, FindingKind, Identity, RoleManagementPolicy, RoleRef, Rule, RuleId};
use policy::directory::{GLOBAL_ADMINISTRATOR, PRIVILEGED_ROLE_ADMINISTRATOR};
use policy::Severity;
use serde_json::{json, Value};

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 21, 9, 0, 0).unwrap()
}

fn target(caller: &str, level: &str) -> Value {
    json!({"caller": caller, "operations": ["all"], "level": level,
           "inheritableSettings": [], "enforcedSettings": []})
}

fn notification(id: &str, recipient: &str, caller: &str, level: &str) -> Value {
    json!({"@odata.type": "#microsoft.graph.unifiedRoleManagementPolicyNotificationRule",
           "id": id, "notificationType": "Email", "recipientType": recipient,
           "notificationLevel": "All", "isDefaultRecipientsEnabled": true,
           "notificationRecipients": [], "target": target(caller, level)})
}

/// A policy as Entra exports it for Privileged Role Administrator: lower-case `all`, `null`
/// claim value, annotations and a property Portcullis does not know.
fn entra_export() -> Value {
    let mut rules = vec![
        json!({"@odata.type": "#microsoft.graph.unifiedRoleManagementPolicyExpirationRule",
               "id": "Expiration_Admin_Eligibility", "isExpirationRequired": false,
               "maximumDuration": "P365D", "target": target("Admin", "Eligibility")}),
        json!({"@odata.type": "#microsoft.graph.unifiedRoleManagementPolicyEnablementRule",
               "id": "Enablement_Admin_Eligibility", "enabledRules": [],
               "target": target("Admin", "Eligibility")}),
    ];
    for r in ["Admin", "Requestor", "Approver"] {
        rules.push(notification(
            &format!("Notification_{r}_Admin_Eligibility"),
            r,
            "Admin",
            "Eligibility",
        ));
    }
    rules.push(
        json!({"@odata.type": "#microsoft.graph.unifiedRoleManagementPolicyExpirationRule",
        "id": "Expiration_Admin_Assignment", "isExpirationRequired": false,
        "maximumDuration": "P180D", "target": target("Admin", "Assignment")}),
    );
    rules.push(
        json!({"@odata.type": "#microsoft.graph.unifiedRoleManagementPolicyEnablementRule",
        "id": "Enablement_Admin_Assignment", "enabledRules": ["Justification"],
        "target": target("Admin", "Assignment")}),
    );
    for r in ["Admin", "Requestor", "Approver"] {
        rules.push(notification(
            &format!("Notification_{r}_Admin_Assignment"),
            r,
            "Admin",
            "Assignment",
        ));
    }
    rules.push(
        json!({"@odata.type": "#microsoft.graph.unifiedRoleManagementPolicyExpirationRule",
        "id": "Expiration_EndUser_Assignment", "isExpirationRequired": true,
        "maximumDuration": "PT10H", "target": target("EndUser", "Assignment")}),
    );
    rules.push(
        json!({"@odata.type": "#microsoft.graph.unifiedRoleManagementPolicyEnablementRule",
        "id": "Enablement_EndUser_Assignment",
        "enabledRules": ["MultiFactorAuthentication", "Justification"],
        "target": target("EndUser", "Assignment")}),
    );
    rules.push(json!({"@odata.type": "#microsoft.graph.unifiedRoleManagementPolicyApprovalRule",
        "id": "Approval_EndUser_Assignment", "target": target("EndUser", "Assignment"),
        "setting": {"isApprovalRequired": false, "isApprovalRequiredForExtension": false,
            "isRequestorJustificationRequired": true, "approvalMode": "SingleStage",
            "approvalStages": [{"approvalStageTimeOutInDays": 1,
                "isApproverJustificationRequired": true, "escalationTimeInMinutes": 0,
                "isEscalationEnabled": false, "primaryApprovers": [], "escalationApprovers": []}]}}));
    rules.push(json!({"@odata.type": "#microsoft.graph.unifiedRoleManagementPolicyAuthenticationContextRule",
        "id": "AuthenticationContext_EndUser_Assignment", "isEnabled": false, "claimValue": null,
        "target": target("EndUser", "Assignment")}));
    for r in ["Admin", "Requestor", "Approver"] {
        rules.push(notification(
            &format!("Notification_{r}_EndUser_Assignment"),
            r,
            "EndUser",
            "Assignment",
        ));
    }
    json!({
        "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#policies/roleManagementPolicies/$entity",
        "id": "DirectoryRole_5d8f2a9c-tenant_b3f1c2d4-policy",
        "displayName": "DirectoryRole", "description": "DirectoryRole",
        "isOrganizationDefault": false, "scopeId": "/", "scopeType": "DirectoryRole",
        "lastModifiedDateTime": "2026-02-03T04:05:06Z",
        "lastModifiedBy": {"displayName": null, "id": null},
        "effectiveRules": [],
        "rules": rules
    })
}

#[test]
fn an_entra_export_loads_checks_clean_and_round_trips_with_unknown_fields() {
    let raw = entra_export();
    let policy: RoleManagementPolicy = serde_json::from_value(raw.clone()).unwrap();
    assert_eq!(policy.rules.len(), 17);
    assert_eq!(policy.check(), vec![]);
    assert!(policy.rules.iter().all(|r| r.kind().is_some()));
    let back = serde_json::to_value(&policy).unwrap();
    assert_eq!(back["@odata.context"], raw["@odata.context"]);
    assert_eq!(back["effectiveRules"], json!([]));
    assert_eq!(back["rules"][0]["target"]["operations"], json!(["All"]));
    assert_eq!(back["rules"][13]["claimValue"], Value::Null);
    let again: RoleManagementPolicy = serde_json::from_value(back).unwrap();
    assert_eq!(again, policy);
}

#[test]
fn lint_of_the_export_flags_claim_check_and_long_activation_for_a_tier0_role() {
    let policy: RoleManagementPolicy = serde_json::from_value(entra_export()).unwrap();
    let role = RoleRef::from_id(PRIVILEGED_ROLE_ADMINISTRATOR);
    let findings = lint_role_policy(&role, &policy);
    let kinds: Vec<FindingKind> = findings.iter().map(|f| f.kind).collect();
    assert_eq!(
        kinds,
        vec![
            FindingKind::ActivationClaimCheck,
            FindingKind::LongActivation
        ]
    );
    let long = &findings[1];
    assert_eq!(long.rule_id, "Expiration_EndUser_Assignment");
    assert!(long.message.contains("PT10H"), "{}", long.message);
    assert!(long.role.contains("Privileged Role Administrator"));
    // The same settings on an ordinary role: no tier-0 finding.
    let other = RoleRef::from_id("729827e3-9c14-49f7-bb1b-9608f156bbb8");
    let kinds: Vec<FindingKind> = lint_role_policy(&other, &policy)
        .iter()
        .map(|f| f.kind)
        .collect();
    assert_eq!(kinds, vec![FindingKind::ActivationClaimCheck]);
}

#[test]
fn no_authentication_at_activation_is_an_error_for_privileged_roles_only() {
    let mut policy = RoleManagementPolicy::default_for(GLOBAL_ADMINISTRATOR, now());
    policy
        .patch_rule(
            "Enablement_EndUser_Assignment",
            &json!({"@odata.type": "#microsoft.graph.unifiedRoleManagementPolicyEnablementRule",
                    "enabledRules": ["Justification"]}),
            now(),
            None,
        )
        .unwrap();
    let ga = lint_role_policy(&RoleRef::from_id(GLOBAL_ADMINISTRATOR), &policy);
    assert_eq!(ga.len(), 1);
    assert_eq!(
        (ga[0].kind, ga[0].severity),
        (
            FindingKind::ActivationWithoutAuthentication,
            Severity::Error
        )
    );
    assert!(ga[0]
        .message
        .starts_with("no authentication required at activation"));
    let reader = RoleRef {
        id: "5d6b6bb7-de71-4623-b4af-96380a352509".into(),
        display_name: Some("Security Reader".into()),
        is_privileged: false,
    };
    let f = lint_role_policy(&reader, &policy);
    assert_eq!(f[0].severity, Severity::Warning);
    let privileged = RoleRef {
        is_privileged: true,
        ..reader
    };
    assert_eq!(
        lint_role_policy(&privileged, &policy)[0].severity,
        Severity::Error
    );
}

#[test]
fn approval_required_with_no_approvers_is_refused_by_patch_and_flagged_on_import() {
    let mut policy = RoleManagementPolicy::default_for(GLOBAL_ADMINISTRATOR, now());
    let body = json!({"@odata.type": "#microsoft.graph.unifiedRoleManagementPolicyApprovalRule",
                      "setting": {"isApprovalRequired": true}});
    let err = policy
        .patch_rule("Approval_EndUser_Assignment", &body, now(), None)
        .unwrap_err();
    assert_eq!(err.code(), "InvalidPolicyRule");
    assert_eq!(
        err.to_string(),
        "rule Approval_EndUser_Assignment: approval stage 1 has no primary approver; name at least \
         one user (singleUser) or group (groupMembers)"
    );

    // The same settings arriving by import are kept, flagged, and refuse activation.
    let mut json = serde_json::to_value(&policy).unwrap();
    for rule in json["rules"].as_array_mut().unwrap() {
        if rule["id"] == "Approval_EndUser_Assignment" {
            rule["setting"]["isApprovalRequired"] = json!(true);
        }
    }
    let imported: RoleManagementPolicy = serde_json::from_value(json).unwrap();
    let findings = lint_role_policy(&RoleRef::from_id(GLOBAL_ADMINISTRATOR), &imported);
    let approval: Vec<_> = findings
        .iter()
        .filter(|f| f.kind == FindingKind::ApprovalWithoutApprovers)
        .collect();
    assert_eq!(approval.len(), 1);
    assert_eq!(approval[0].severity, Severity::Error);
    assert_eq!(approval[0].rule_id, "Approval_EndUser_Assignment");
}

#[test]
fn patches_are_validated_field_by_field() {
    let base = RoleManagementPolicy::default_for(GLOBAL_ADMINISTRATOR, now());
    let expiration = "#microsoft.graph.unifiedRoleManagementPolicyExpirationRule";
    let context = "#microsoft.graph.unifiedRoleManagementPolicyAuthenticationContextRule";
    let enablement = "#microsoft.graph.unifiedRoleManagementPolicyEnablementRule";
    let notification = "#microsoft.graph.unifiedRoleManagementPolicyNotificationRule";
    let cases: Vec<(&str, Value, &str)> =
        vec![
        ("Expiration_EndUser_Assignment",
         json!({"@odata.type": expiration, "maximumDuration": "P1M"}),
         "whose length depends on the calendar"),
        ("Expiration_EndUser_Assignment",
         json!({"@odata.type": expiration, "maximumDuration": "PT0S"}),
         "must be longer than zero"),
        ("Expiration_EndUser_Assignment",
         json!({"@odata.type": expiration, "IsExpirationRequired": false}),
         "'IsExpirationRequired' is not a property of this rule"),
        ("Expiration_Admin_Eligibility",
         json!({"@odata.type": expiration, "maximumDuration": null}),
         "maximumDuration must be set"),
        ("AuthenticationContext_EndUser_Assignment",
         json!({"@odata.type": context, "isEnabled": true, "claimValue": "c100"}),
         "claimValue 'c100' is not an authentication context id"),
        ("AuthenticationContext_EndUser_Assignment",
         json!({"@odata.type": context, "isEnabled": true}),
         "claimValue must name an authentication context"),
        ("Enablement_Admin_Assignment",
         json!({"@odata.type": enablement, "enabledRules": ["Ticketing"]}),
         "'Ticketing' cannot be enabled here; allowed: MultiFactorAuthentication, Justification"),
        ("Enablement_EndUser_Assignment",
         json!({"@odata.type": enablement, "enabledRules": ["Justification", "Justification"]}),
         "appears more than once"),
        ("Enablement_EndUser_Assignment",
         json!({"@odata.type": enablement, "enabledRules": ["PhishingResistantMfa"]}),
         "'PhishingResistantMfa' cannot be enabled here"),
        ("Enablement_EndUser_Assignment",
         json!({"@odata.type": enablement, "target": {"level": "Eligibility"}}),
         "target.level must be 'Assignment'"),
        ("Notification_Admin_EndUser_Assignment",
         json!({"@odata.type": notification, "recipientType": "Requestor"}),
         "recipientType must be 'Admin'"),
        ("Notification_Admin_EndUser_Assignment",
         json!({"@odata.type": notification, "notificationRecipients": ["security team"]}),
         "'security team' is not an e-mail address"),
        ("Expiration_EndUser_Assignment",
         json!({"@odata.type": enablement, "enabledRules": []}),
         "is a #microsoft.graph.unifiedRoleManagementPolicyExpirationRule, but the body says"),
        ("Expiration_EndUser_Assignment",
         json!({"maximumDuration": "PT1H"}),
         "the body must name its type"),
    ];
    for (rule, body, says) in cases {
        let mut p = base.clone();
        let err = p.patch_rule(rule, &body, now(), None).unwrap_err();
        assert!(err.to_string().contains(says), "{rule} {body}: {err}");
        assert_eq!(
            err.rule_id().map(|r| r.to_string()).as_deref(),
            Some(rule),
            "{err:?}"
        );
        assert_eq!(p, base, "{rule} {body} changed the policy");
    }
}

#[test]
fn a_valid_patch_changes_only_its_rule_and_the_audit_fields() {
    let base = RoleManagementPolicy::default_for(GLOBAL_ADMINISTRATOR, now());
    let mut p = base.clone();
    let later = now() + chrono::TimeDelta::hours(1);
    let admin = Identity {
        id: Some("admin-id".into()),
        display_name: Some("Ada Admin".into()),
        ..Default::default()
    };
    let rule = p
        .patch_rule(
            "expiration_enduser_assignment",
            &json!({"@odata.type": "microsoft.graph.unifiedRoleManagementPolicyExpirationRule",
                    "id": "Expiration_EndUser_Assignment", "maximumDuration": "PT1H45M"}),
            later,
            Some(admin.clone()),
        )
        .unwrap();
    assert!(
        matches!(rule, Rule::Expiration(r) if r.maximum_duration.as_deref() == Some("PT1H45M"))
    );
    assert_eq!(p.last_modified_by, Some(admin));
    assert_eq!(p.last_modified_date_time, Some(later));
    for (a, b) in p.rules.iter().zip(&base.rules) {
        if a.rule_id() != RuleId::ExpirationEndUserAssignment {
            assert_eq!(a, b);
        }
    }
    let json = serde_json::to_value(p.rule(&RuleId::ExpirationEndUserAssignment).unwrap()).unwrap();
    assert_eq!(json["id"], "Expiration_EndUser_Assignment");
    assert_eq!(
        json["@odata.type"],
        "#microsoft.graph.unifiedRoleManagementPolicyExpirationRule"
    );
}

#[test]
fn unknown_rule_ids_are_refused_with_their_own_code() {
    let mut p = RoleManagementPolicy::default_for(GLOBAL_ADMINISTRATOR, now());
    let err = p
        .patch_rule("Expiration_EndUser_Eligibility", &json!({}), now(), None)
        .unwrap_err();
    assert_eq!(err.code(), "RoleManagementPolicyRuleNotFound");
    assert!(err.to_string().contains("17 fixed rules"));
}

/// Every number of an approval stage is bounded where it comes in: a timeout of 1 to 365 days,
/// an escalation from 0 minutes to the stage's timeout. Extreme values are refused, naming the
/// field and its range, and change nothing.
#[test]
fn approval_stage_numbers_are_bounded() {
    let base = RoleManagementPolicy::default_for(GLOBAL_ADMINISTRATOR, now());
    let stage = |days: Value, minutes: Value| {
        json!({"@odata.type": "#microsoft.graph.unifiedRoleManagementPolicyApprovalRule",
               "setting": {"isApprovalRequired": true, "approvalMode": "SingleStage",
                           "approvalStages": [{
                               "approvalStageTimeOutInDays": days,
                               "escalationTimeInMinutes": minutes,
                               "isEscalationEnabled": true,
                               "primaryApprovers": [{"@odata.type": "#microsoft.graph.singleUser", "userId": "u1"}],
                               "escalationApprovers": [{"@odata.type": "#microsoft.graph.singleUser", "userId": "u2"}]}]}})
    };
    let refused = [
        (
            json!(1),
            json!(i64::MAX),
            "escalationTimeInMinutes must be from 0 to 1440 minutes",
        ),
        (
            json!(1),
            json!(i64::MIN),
            "escalationTimeInMinutes must be from 0 to 1440 minutes",
        ),
        (
            json!(1),
            json!(-1),
            "escalationTimeInMinutes must be from 0 to 1440 minutes",
        ),
        (
            json!(1),
            json!(1441),
            "escalationTimeInMinutes must be from 0 to 1440 minutes",
        ),
        (
            json!(365),
            json!(525_601),
            "escalationTimeInMinutes must be from 0 to 525600 minutes",
        ),
        (
            json!(0),
            json!(0),
            "approvalStageTimeOutInDays must be from 1 to 365 days",
        ),
        (
            json!(366),
            json!(0),
            "approvalStageTimeOutInDays must be from 1 to 365 days",
        ),
        (
            json!(i64::MAX),
            json!(0),
            "approvalStageTimeOutInDays must be from 1 to 365 days",
        ),
        (
            json!(i64::MIN),
            json!(0),
            "approvalStageTimeOutInDays must be from 1 to 365 days",
        ),
    ];
    for (days, minutes, says) in refused {
        let mut p = base.clone();
        let err = p
            .patch_rule(
                "Approval_EndUser_Assignment",
                &stage(days.clone(), minutes.clone()),
                now(),
                None,
            )
            .unwrap_err();
        assert_eq!(err.code(), "InvalidPolicyRule");
        assert!(err.to_string().contains(says), "{days} {minutes}: {err}");
        assert_eq!(p, base, "{days} {minutes} changed the policy");
    }
    for (days, minutes) in [(1, 0), (1, 1440), (365, 525_600)] {
        let mut p = base.clone();
        p.patch_rule(
            "Approval_EndUser_Assignment",
            &stage(json!(days), json!(minutes)),
            now(),
            None,
        )
        .unwrap();
    }
    // Beyond i64 the body does not even read as a rule.
    let mut p = base.clone();
    let err = p
        .patch_rule(
            "Approval_EndUser_Assignment",
            &stage(json!(1), json!(u64::MAX)),
            now(),
            None,
        )
        .unwrap_err();
    assert_eq!(err.code(), "InvalidPolicyRule");
}

/// Durations too long to represent are refused by the parser, not overflowed.
#[test]
fn durations_too_long_to_represent_are_refused() {
    let base = RoleManagementPolicy::default_for(GLOBAL_ADMINISTRATOR, now());
    for text in [
        "P999999999D",
        "P99999999999W",
        "PT999999999999H",
        "PT9223372036854775807S",
    ] {
        let mut p = base.clone();
        let err = p
            .patch_rule(
                "Expiration_Admin_Eligibility",
                &json!({"@odata.type": "#microsoft.graph.unifiedRoleManagementPolicyExpirationRule",
                        "maximumDuration": text}),
                now(),
                None,
            )
            .unwrap_err();
        assert!(err.to_string().contains("maximumDuration"), "{text}: {err}");
        assert_eq!(p, base);
    }
}
