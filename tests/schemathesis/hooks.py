"""Schemathesis hooks for tests/schemathesis/run.sh (loaded through SCHEMATHESIS_HOOKS).

The run authenticates with two real tokens, and the API lets a token update, regenerate or
delete itself (and an Account Admin's token, the teacher's). Schemathesis would sooner or
later do just that, and every request after it would be a 401: the run would go on
testing nothing but the refusal of a revoked token. So a PUT or DELETE that names one of
the run's own tokens -- by id (`2`, `+2`, `002`) or by hint (`tw_...AbCd`, `tw_AbCd`) -- is
sent to token `0` instead, which exists for nobody: it is still sent, and answered (404),
and checked like any other request. Nothing else is changed.

TW_PROTECTED_TOKEN_IDS: comma-separated ids; TW_PROTECTED_TOKEN_TAILS: comma-separated
last four characters of the secrets (what a hint ends with).
"""

import os
import re

import schemathesis

TOKEN_PATH = "/api/v1/users/{user_id}/tokens/{id}"
IDS = {int(i) for i in os.environ.get("TW_PROTECTED_TOKEN_IDS", "").split(",") if i.strip()}
TAILS = [t for t in os.environ.get("TW_PROTECTED_TOKEN_TAILS", "").split(",") if t.strip()]


def names_a_protected_token(reference) -> bool:
    ref = str(reference)
    # What the server reads as an id: Rust's i64 parsing, an optional sign and ASCII digits.
    if re.fullmatch(r"[+-]?[0-9]+", ref):
        return int(ref) in IDS
    # Anything else is read as a hint; be generous about what might match one.
    return any(tail in ref for tail in TAILS)


@schemathesis.hook
def before_call(context, case, **kwargs):
    if case.method.upper() not in ("PUT", "DELETE") or case.operation.path != TOKEN_PATH:
        return
    params = case.path_parameters or {}
    if "id" in params and names_a_protected_token(params["id"]):
        params["id"] = "0"
        case.path_parameters = params
