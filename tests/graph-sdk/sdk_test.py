"""Microsoft's own Graph SDK for Python (msgraph-sdk), unchanged, against a running Portcullis.

Run by crates/server/tests/graph_sdk.rs, in two phases:

  sdk_test.py configure   the seed's three administrator steps (docs/admin-api.md, "The seed's
                          three steps with curl") through the SDK's request builders and models,
                          then the users list with $select, $top, $count and paging
  sdk_test.py read        the sign-in log, where the sign-in that the Rust test made after the
                          policy existed must show that policy in appliedConditionalAccessPolicies

Environment: PORTCULLIS_BASE (http://localhost:PORT), PORTCULLIS_CA_TOKEN (an active Conditional
Access Administrator's access token), PORTCULLIS_PRA_TOKEN (an active Privileged Role
Administrator's), PORTCULLIS_READER_TOKEN (an active Security Reader's), PORTCULLIS_USERS (the
userPrincipalNames the directory must list, comma-separated) and, for `read`,
PORTCULLIS_SIGNED_IN (the userPrincipalName whose sign-in must be logged).

Every body the SDK sends is printed, so that the test's output shows what the SDK puts on the wire.
"""

import asyncio
import os
import sys
from urllib.parse import urlparse

import httpx
from kiota_abstractions.api_error import APIError
from kiota_abstractions.authentication import (
    AccessTokenProvider,
    AllowedHostsValidator,
    BaseBearerTokenAuthenticationProvider,
)
from kiota_abstractions.base_request_configuration import RequestConfiguration
from msgraph import GraphServiceClient
from msgraph.graph_request_adapter import GraphRequestAdapter, options
from msgraph.generated.audit_logs.sign_ins.sign_ins_request_builder import (
    SignInsRequestBuilder,
)
from msgraph.generated.models.applied_conditional_access_policy_result import (
    AppliedConditionalAccessPolicyResult,
)
from msgraph.generated.models.authentication_context_class_reference import (
    AuthenticationContextClassReference,
)
from msgraph.generated.models.authentication_strength_policy import (
    AuthenticationStrengthPolicy,
)
from msgraph.generated.models.conditional_access_applications import (
    ConditionalAccessApplications,
)
from msgraph.generated.models.conditional_access_client_app import ConditionalAccessClientApp
from msgraph.generated.models.conditional_access_condition_set import (
    ConditionalAccessConditionSet,
)
from msgraph.generated.models.conditional_access_grant_controls import (
    ConditionalAccessGrantControls,
)
from msgraph.generated.models.conditional_access_policy import ConditionalAccessPolicy
from msgraph.generated.models.conditional_access_policy_state import (
    ConditionalAccessPolicyState,
)
from msgraph.generated.models.conditional_access_session_controls import (
    ConditionalAccessSessionControls,
)
from msgraph.generated.models.conditional_access_users import ConditionalAccessUsers
from msgraph.generated.models.o_data_errors.o_data_error import ODataError
from msgraph.generated.models.sign_in_frequency_authentication_type import (
    SignInFrequencyAuthenticationType,
)
from msgraph.generated.models.sign_in_frequency_interval import SignInFrequencyInterval
from msgraph.generated.models.sign_in_frequency_session_control import (
    SignInFrequencySessionControl,
)
from msgraph.generated.models.unified_role_management_policy_authentication_context_rule import (
    UnifiedRoleManagementPolicyAuthenticationContextRule,
)
from msgraph.generated.policies.role_management_policy_assignments.role_management_policy_assignments_request_builder import (
    RoleManagementPolicyAssignmentsRequestBuilder,
)
from msgraph.generated.users.users_request_builder import UsersRequestBuilder
from msgraph_core import GraphClientFactory
from msgraph_core.tasks.page_iterator import PageIterator

APPLICATION_ADMINISTRATOR = "9b895d92-2cd3-44c7-9d02-a6ac2d5ea5c3"
PHISHING_RESISTANT = "00000000-0000-0000-0000-000000000004"
CONTEXT = "Tier 0 Role Activation (Sign-in Everytime)"
POLICY = "Tier 0 Role Activation"


class PortcullisToken(AccessTokenProvider):
    """Hands the SDK an access token that Portcullis issued, for Portcullis's host only."""

    def __init__(self, token: str, host: str) -> None:
        self._token = token
        self._hosts = AllowedHostsValidator([host])

    async def get_authorization_token(self, uri, additional_authentication_context={}):
        # The SDK follows absolute links (@odata.nextLink): the token goes to no other host.
        return self._token if self._hosts.is_url_host_valid(uri) else ""

    def get_allowed_hosts_validator(self) -> AllowedHostsValidator:
        return self._hosts


async def show_request(request: httpx.Request) -> None:
    body = request.content.decode() if request.content else ""
    print(f"  -> {request.method} {request.url}" + (f"\n     {body}" if body else ""))


def client(base: str, token: str) -> GraphServiceClient:
    """A Graph client whose base URL is Portcullis's /v1.0 (plain http on loopback)."""
    http = GraphClientFactory.create_with_default_middleware(
        client=httpx.AsyncClient(
            base_url=f"{base}/v1.0", timeout=30, event_hooks={"request": [show_request]}
        ),
        options=options,
    )
    auth = BaseBearerTokenAuthenticationProvider(PortcullisToken(token, urlparse(base).hostname))
    return GraphServiceClient(request_adapter=GraphRequestAdapter(auth, client=http))


def check(condition: bool, what: str) -> None:
    if not condition:
        raise AssertionError(what)
    print(f"ok: {what}")


async def configure(base: str) -> None:
    ca = client(base, os.environ["PORTCULLIS_CA_TOKEN"])
    pra = client(base, os.environ["PORTCULLIS_PRA_TOKEN"])

    # 1. + New authentication context: Tier 0 Role Activation (Sign-in Everytime).
    context = await ca.identity.conditional_access.authentication_context_class_references.post(
        AuthenticationContextClassReference(id="c1", display_name=CONTEXT, is_available=True)
    )
    check(
        context.id == "c1" and context.display_name == CONTEXT and context.is_available is True,
        f"context c1 created: {context.display_name!r}, available",
    )

    # Graph's error bodies reach the SDK as its ODataError, code and message.
    try:
        await ca.identity.conditional_access.authentication_context_class_references.post(
            AuthenticationContextClassReference(id="c1", display_name="Again")
        )
        raise AssertionError("c1 was created twice")
    except ODataError as e:
        check(
            e.response_status_code == 409 and e.error.code == "Conflict" and e.error.message,
            f"creating c1 again: 409 {e.error.code}: {e.error.message}",
        )

    # 2. Application Administrator's activation requires it: the role's policy is found through
    # its policy assignment, as Microsoft documents it, and its rule is updated.
    query = RoleManagementPolicyAssignmentsRequestBuilder.RoleManagementPolicyAssignmentsRequestBuilderGetQueryParameters(
        filter="scopeId eq '/' and scopeType eq 'DirectoryRole' and "
        f"roleDefinitionId eq '{APPLICATION_ADMINISTRATOR}'"
    )
    assignments = await pra.policies.role_management_policy_assignments.get(
        request_configuration=RequestConfiguration(query_parameters=query)
    )
    check(
        len(assignments.value) == 1
        and assignments.value[0].role_definition_id == APPLICATION_ADMINISTRATOR,
        "one policy assignment for Application Administrator",
    )
    policy_id = assignments.value[0].policy_id
    rule = await pra.policies.role_management_policies.by_unified_role_management_policy_id(
        policy_id
    ).rules.by_unified_role_management_policy_rule_id(
        "AuthenticationContext_EndUser_Assignment"
    ).patch(
        UnifiedRoleManagementPolicyAuthenticationContextRule(is_enabled=True, claim_value="c1")
    )
    check(
        isinstance(rule, UnifiedRoleManagementPolicyAuthenticationContextRule)
        and rule.is_enabled is True
        and rule.claim_value == "c1",
        f"policy {policy_id}: AuthenticationContext_EndUser_Assignment requires c1",
    )
    settings = await pra.policies.role_management_policies.by_unified_role_management_policy_id(
        policy_id
    ).rules.by_unified_role_management_policy_rule_id(
        "AuthenticationContext_EndUser_Assignment"
    ).get()
    check(
        isinstance(settings, UnifiedRoleManagementPolicyAuthenticationContextRule)
        and settings.claim_value == "c1",
        "the rule reads back with claimValue c1",
    )

    # 3. The policy: the role's members, on c1, phishing-resistant, sign-in frequency every
    # time, On.
    policy = await ca.identity.conditional_access.policies.post(
        ConditionalAccessPolicy(
            display_name=POLICY,
            state=ConditionalAccessPolicyState.Enabled,
            conditions=ConditionalAccessConditionSet(
                users=ConditionalAccessUsers(include_roles=[APPLICATION_ADMINISTRATOR]),
                applications=ConditionalAccessApplications(
                    include_authentication_context_class_references=["c1"]
                ),
                client_app_types=[ConditionalAccessClientApp.All],
            ),
            grant_controls=ConditionalAccessGrantControls(
                operator="OR",
                authentication_strength=AuthenticationStrengthPolicy(id=PHISHING_RESISTANT),
            ),
            session_controls=ConditionalAccessSessionControls(
                sign_in_frequency=SignInFrequencySessionControl(
                    is_enabled=True,
                    frequency_interval=SignInFrequencyInterval.EveryTime,
                    authentication_type=SignInFrequencyAuthenticationType.PrimaryAndSecondaryAuthentication,
                )
            ),
        )
    )
    check(
        policy.id
        and policy.state == ConditionalAccessPolicyState.Enabled
        and policy.conditions.users.include_roles == [APPLICATION_ADMINISTRATOR]
        and policy.conditions.applications.include_authentication_context_class_references
        == ["c1"]
        and policy.grant_controls.authentication_strength.id == PHISHING_RESISTANT
        and policy.session_controls.sign_in_frequency.frequency_interval
        == SignInFrequencyInterval.EveryTime,
        f"policy {policy.id} created: {policy.display_name!r}, enabled",
    )
    listed = await ca.identity.conditional_access.policies.get()
    check(
        [p.display_name for p in listed.value if p.id == policy.id] == [POLICY],
        "the policy is listed",
    )

    # The directory, two users a page, through the SDK's page iterator.
    query = UsersRequestBuilder.UsersRequestBuilderGetQueryParameters(
        select=["id", "userPrincipalName", "displayName"], top=2, count=True
    )
    first = await ca.users.get(request_configuration=RequestConfiguration(query_parameters=query))
    expected = set(os.environ["PORTCULLIS_USERS"].split(","))
    check(first.odata_count == len(expected), f"@odata.count is {len(expected)}")
    check(len(first.value) == 2 and bool(first.odata_next_link), "a page of two, with a next link")
    check(
        all(u.account_enabled is None and u.id for u in first.value),
        "$select: id, userPrincipalName, displayName only",
    )
    seen = []

    def collect(user) -> bool:
        seen.append(user.user_principal_name)
        return True

    await PageIterator(first, ca.request_adapter).iterate(collect)
    check(sorted(seen) == sorted(expected), f"every user, once, over the pages: {sorted(seen)}")


async def read(base: str) -> None:
    reader = client(base, os.environ["PORTCULLIS_READER_TOKEN"])
    upn = os.environ["PORTCULLIS_SIGNED_IN"]

    everything = await reader.audit_logs.sign_ins.get()
    check(len(everything.value) >= 1, f"the sign-in log has {len(everything.value)} entries")

    query = SignInsRequestBuilder.SignInsRequestBuilderGetQueryParameters(
        filter=f"userPrincipalName eq '{upn}'", top=10
    )
    theirs = await reader.audit_logs.sign_ins.get(
        request_configuration=RequestConfiguration(query_parameters=query)
    )
    check(
        len(theirs.value) >= 1 and all(s.user_principal_name == upn for s in theirs.value),
        f"$filter: {len(theirs.value)} sign-in(s) of {upn}",
    )
    latest = theirs.value[0]
    check(
        latest.status is not None and latest.status.error_code == 0,
        "the latest succeeded (status.errorCode 0)",
    )
    check(latest.created_date_time is not None, f"at {latest.created_date_time.isoformat()}")
    applied = {p.display_name: p for p in latest.applied_conditional_access_policies or []}
    check(POLICY in applied, f"appliedConditionalAccessPolicies names {POLICY!r}")
    # The policy guards context c1, which a sign-in that did not ask for it does not meet.
    check(
        applied[POLICY].result == AppliedConditionalAccessPolicyResult.NotApplied,
        f"{POLICY!r}: {applied[POLICY].result}",
    )
    one = await reader.audit_logs.sign_ins.by_sign_in_id(latest.id).get()
    check(one.id == latest.id and one.user_principal_name == upn, "the sign-in read by its id")


async def main(phase: str) -> None:
    base = os.environ["PORTCULLIS_BASE"].rstrip("/")
    try:
        await {"configure": configure, "read": read}[phase](base)
    except APIError as e:
        # What Portcullis answered, in full: a compatibility bug shows here.
        error = getattr(e, "error", None)
        raise SystemExit(
            f"Graph error {e.response_status_code}: "
            f"{getattr(error, 'code', None)}: {getattr(error, 'message', None) or e.message}"
        ) from e


if __name__ == "__main__":
    if len(sys.argv) != 2 or sys.argv[1] not in ("configure", "read"):
        raise SystemExit("usage: sdk_test.py configure|read")
    asyncio.run(main(sys.argv[1]))
