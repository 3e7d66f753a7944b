"""Schemathesis hooks of crates/server/tests/schemathesis_api.rs (loaded via SCHEMATHESIS_HOOKS).

Schemathesis reuses ids from earlier answers (GET /v1.0/users lists the administrator whose
token it sends), so a generated PATCH with accountEnabled=false and force=true, or a DELETE of
the user or of their role assignment, can reach that administrator and end the run's own access:
every later answer would be a 401 or 403. The test names the administrator (id,
userPrincipalName, role assignment ids) in PORTCULLIS_PROTECTED; these hooks drop the generated
writes aimed at them (by path, or by principalId in a body). Everything else, the
administrator's reads included, is generated as usual.
"""

import os

import schemathesis

PROTECTED = {
    value.strip().lower()
    for value in os.environ.get("PORTCULLIS_PROTECTED", "").split(",")
    if value.strip()
}


def _names_protected(value):
    if isinstance(value, str):
        return value.strip().lower() in PROTECTED
    if isinstance(value, dict):
        return any(_names_protected(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return any(_names_protected(v) for v in value)
    return False


@schemathesis.hook
def filter_case(context, case):
    if case.method.upper() == "GET":
        return True
    if _names_protected(case.path_parameters or {}):
        return False
    body = case.body
    if isinstance(body, dict) and _names_protected(body.get("principalId")):
        return False
    return True
