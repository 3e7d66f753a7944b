//! The demo tenant's directory and Conditional Access (users, groups, role assignments,
//! contexts, policies) and the role settings that make activation ask for context c1.

use super::*;
use policy::ids::{PrincipalId, RoleId};

/// The demo tenant: users (ids in [`USERS`] order), groups, role assignments, authentication
/// contexts and policies.
pub(super) fn tenant(
    user_ids: &[String],
    admins_group: &str,
    break_glass_group: &str,
) -> Result<Tenant, ServeError> {
    let mut tenant = Tenant::default();
    let mut admins = Vec::new();
    let mut break_glass = Vec::new();
    for (spec, id) in USERS.iter().zip(user_ids) {
        tenant.users.push(User {
            id: id.clone(),
            user_principal_name: Some(spec.upn.into()),
            display_name: Some(spec.display_name.into()),
            account_enabled: Some(true),
            user_type: Some("Member".into()),
            ..User::default()
        });
        match spec.membership {
            Membership::Admins => admins.push(MemberRef::Id(id.clone())),
            Membership::BreakGlass => break_glass.push(MemberRef::Id(id.clone())),
            Membership::None => {}
        }
        let (role, status) = match spec.holding {
            Holding::None => continue,
            Holding::Eligible(role) => (role, AssignmentStatus::Eligible),
            Holding::Active(role) => (role, AssignmentStatus::Active),
        };
        tenant.role_assignments.push(RoleAssignment {
            // None: the store derives the id from principal, role, scope and status, so that
            // a repeated seeding does not duplicate it.
            id: None,
            principal_id: PrincipalId::trusted(id.clone()),
            role_definition_id: RoleId::trusted(role),
            directory_scope_id: Some("/".into()),
            status,
            extra: policy::Extra::default(),
        });
    }
    for (id, name, members) in [
        (admins_group, ADMINS_GROUP, admins),
        (break_glass_group, BREAK_GLASS_GROUP, break_glass),
    ] {
        tenant.groups.push(Group {
            id: id.into(),
            display_name: Some(name.into()),
            is_assignable_to_role: Some(false),
            members,
            extra: policy::Extra::default(),
        });
    }
    tenant.authentication_context_class_references = vec![
        context(
            "c1",
            "PIM activation of privileged roles",
            "Step-up before a privileged directory role is activated",
        ),
        context(
            "c2",
            "Sensitive actions",
            "Step-up before a sensitive operation (changing policies, reading secrets)",
        ),
    ];
    let everyone_but_break_glass = json!({
        "includeUsers": ["All"],
        "excludeGroups": [break_glass_group],
    });
    let every_time = json!({
        "isEnabled": true,
        "frequencyInterval": "everyTime",
        "authenticationType": "primaryAndSecondaryAuthentication",
    });
    let documents = [
        json!({
            "id": POLICY_MFA,
            "displayName": "CA001 Require MFA for all users",
            "state": "enabled",
            "conditions": {
                "users": everyone_but_break_glass,
                "applications": { "includeApplications": ["All"] },
                "clientAppTypes": ["all"],
            },
            "grantControls": { "operator": "OR", "builtInControls": ["mfa"] },
        }),
        json!({
            "id": POLICY_PIM_ACTIVATION,
            "displayName": "CA010 PIM activation: phishing-resistant MFA, every time",
            "state": "enabled",
            "conditions": {
                "users": everyone_but_break_glass,
                "applications": { "includeAuthenticationContextClassReferences": ["c1"] },
                "clientAppTypes": ["all"],
            },
            "grantControls": {
                "operator": "OR",
                "authenticationStrength": { "id": PHISHING_RESISTANT_MFA_STRENGTH_ID },
            },
            "sessionControls": { "signInFrequency": every_time },
        }),
        json!({
            "id": POLICY_SENSITIVE_ACTIONS,
            "displayName": "CA020 Sensitive actions: MFA every time",
            "state": "enabled",
            "conditions": {
                "users": everyone_but_break_glass,
                "applications": { "includeAuthenticationContextClassReferences": ["c2"] },
                "clientAppTypes": ["all"],
            },
            "grantControls": { "operator": "OR", "builtInControls": ["mfa"] },
            "sessionControls": { "signInFrequency": every_time },
        }),
    ];
    for document in documents {
        let policy: ConditionalAccessPolicy = serde_json::from_value(document)
            .map_err(|e| ServeError::Internal(format!("demo policy: {e}")))?;
        tenant.conditional_access_policies.push(policy);
    }
    Ok(tenant)
}

pub(super) fn context(
    id: &str,
    name: &str,
    description: &str,
) -> AuthenticationContextClassReference {
    AuthenticationContextClassReference {
        id: id.into(),
        display_name: Some(name.into()),
        description: Some(description.into()),
        is_available: Some(true),
        ..AuthenticationContextClassReference::default()
    }
}
/// Role settings of the demo: activating Global Administrator or Privileged Role Administrator
/// requires authentication context c1 (which CA010 answers with phishing-resistant MFA, every
/// time). Other roles keep the defaults (an MFA claim check), which `portcullis lint` flags.
pub(super) async fn require_c1_for_privileged_roles(
    store: &Store,
    now: DateTime<Utc>,
) -> Result<(), ServeError> {
    for role in [
        policy::directory::GLOBAL_ADMINISTRATOR,
        policy::directory::PRIVILEGED_ROLE_ADMINISTRATOR,
    ] {
        let (mut settings, version) = match store.get_role_policy(role).await? {
            Some(stored) => (stored.policy, stored.version),
            None => (pim::RoleManagementPolicy::default_for(role, now), 0),
        };
        settings
            .require_authentication_context("c1", now, None)
            .map_err(|e| ServeError::Internal(format!("demo role settings: {e}")))?;
        store.put_role_policy(&settings, version).await?;
    }
    Ok(())
}
