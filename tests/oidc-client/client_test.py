#!/usr/bin/env python3
"""An independent OpenID Connect relying party, written against the specifications with Authlib,
that signs in to a running Portcullis and checks what it gets.

It performs discovery, the authorization code flow with PKCE (S256) through Authlib's
OAuth2Session, drives the HTML sign-in forms as a browser would (cookies kept, redirects followed
by hand within the issuer, stopped at the redirect URI), validates the ID token (ES256 signature
against the published JWKS, iss, aud, exp, nonce) with Authlib's CodeIDToken and joserfc (the
JOSE library Authlib itself uses), calls UserInfo, and then steps up: a second request whose
`claims` parameter asks for the authentication context c2, which the tenant guards with MFA every
time, must show the TOTP form and yield tokens whose `acrs` contain c2. Negative checks: a code
redeemed twice, and a refresh token used twice, are refused with HTTP 400 `invalid_grant`.

Environment:
  PORTCULLIS_ISSUER        the issuer, e.g. http://localhost:8080
  PORTCULLIS_CLIENT_ID     a public client registered with the redirect URI below
  PORTCULLIS_REDIRECT_URI  where codes go (nothing needs to listen there)
  PORTCULLIS_USER          sign-in name
  PORTCULLIS_PASSWORD      password
  PORTCULLIS_TOTP_SECRET   the user's TOTP secret, base32 (SHA-1, 6 digits, 30 s)

Exits 0 with a summary on success; 1 with the failed check on stderr otherwise.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import struct
import sys
import time
from html.parser import HTMLParser
from urllib.parse import parse_qs, urljoin, urlsplit

import requests
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session, OAuthError
from authlib.oidc.core import CodeIDToken
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from joserfc.jwt import JWTClaimsRegistry

TIMEOUT = 15
STEP_UP_CONTEXT = "c2"
SCOPE = "openid profile offline_access"


class Failure(Exception):
    """A check that did not hold."""


def check(condition: bool, message: str) -> None:
    if not condition:
        raise Failure(message)


def env(name: str) -> str:
    value = os.environ.get(name, "")
    check(value != "", f"environment variable {name} is not set")
    return value


# --------------------------------------------------------------------------------------------
# TOTP (RFC 6238 over RFC 4226: HMAC-SHA-1, 6 digits, 30-second steps)


class Totp:
    """Codes of one secret; never returns a code of a step already used (codes are single-use)."""

    def __init__(self, secret_b32: str) -> None:
        padded = secret_b32.strip().upper() + "=" * (-len(secret_b32.strip()) % 8)
        self.key = base64.b32decode(padded)
        self.last_step: int | None = None
        self.waited = 0.0

    def code_at(self, step: int) -> str:
        mac = hmac.new(self.key, struct.pack(">Q", step), hashlib.sha1).digest()
        offset = mac[-1] & 0x0F
        number = struct.unpack(">I", mac[offset : offset + 4])[0] & 0x7FFFFFFF
        return f"{number % 1_000_000:06d}"

    def fresh_code(self) -> str:
        step = int(time.time()) // 30
        if self.last_step is not None and step <= self.last_step:
            pause = (self.last_step + 1) * 30 - time.time() + 0.5
            print(f"  waiting {pause:.1f} s for the next TOTP step (codes are single-use)")
            time.sleep(max(pause, 0))
            self.waited += max(pause, 0)
            step = int(time.time()) // 30
        self.last_step = step
        return self.code_at(step)


# --------------------------------------------------------------------------------------------
# The browser: HTML forms by id, redirects followed by hand


class Page(HTMLParser):
    """The forms of a page (by id: action and fields) and its error and reason texts."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: dict[str, dict] = {}
        self.texts: dict[str, list[str]] = {"error": [], "need": []}
        self._form: dict | None = None
        self._capture: str | None = None
        self._depth = 0
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form" and a.get("id"):
            self._form = {"action": a.get("action"), "method": a.get("method"), "fields": {}}
            self.forms[a["id"]] = self._form
        elif tag == "input" and self._form is not None and a.get("name"):
            self._form["fields"][a["name"]] = a.get("value") or ""
        if self._capture is not None:
            self._depth += 1
        elif a.get("id") in ("error", "no-method") or "need" in (a.get("class") or "").split():
            self._capture = "need" if a.get("id") is None else "error"
            self._depth = 1
            self.texts[self._capture].append("")

    def handle_endtag(self, tag):
        if tag == "form":
            self._form = None
        if self._capture is not None:
            self._depth -= 1
            if self._depth == 0:
                self._capture = None

    def handle_data(self, data):
        if self._capture is not None:
            self.texts[self._capture][-1] += data

    def describe(self) -> str:
        errors = " | ".join(" ".join(t.split()) for t in self.texts["error"])
        needs = " | ".join(" ".join(t.split()) for t in self.texts["need"])
        return f"forms={sorted(self.forms)} error={errors or '-'} reasons={needs or '-'}"


def same_origin(a: str, b: str) -> bool:
    x, y = urlsplit(a), urlsplit(b)
    return (x.scheme, x.hostname, x.port) == (y.scheme, y.hostname, y.port)


def at_redirect_uri(url: str, redirect_uri: str) -> bool:
    x, y = urlsplit(url), urlsplit(redirect_uri)
    return (x.scheme, x.netloc, x.path) == (y.scheme, y.netloc, y.path)


class Browser:
    """A cookie-keeping user agent that fills Portcullis's sign-in forms."""

    def __init__(self, issuer: str, user: str, password: str, totp: Totp) -> None:
        self.http = requests.Session()
        self.http.headers["User-Agent"] = "Mozilla/5.0 (X11; Linux x86_64) PortcullisAuthlibTest"
        self.issuer = issuer
        self.user = user
        self.password = password
        self.totp = totp

    def sign_in(self, authorization_url: str, redirect_uri: str) -> tuple[str, list[str]]:
        """Follows the sign-in from the authorization URL to the redirect URI; returns the
        callback URL and the forms the pages asked to fill, in order."""
        asked: list[str] = []
        submitted: dict[str, int] = {}
        response = self.http.get(authorization_url, allow_redirects=False, timeout=TIMEOUT)
        for _ in range(25):
            if response.is_redirect:
                location = urljoin(response.url, response.headers["Location"])
                if at_redirect_uri(location, redirect_uri):
                    return location, asked
                check(
                    same_origin(location, self.issuer),
                    f"the sign-in redirected to an unexpected place: {location}",
                )
                response = self.http.get(location, allow_redirects=False, timeout=TIMEOUT)
                continue
            check(
                response.status_code == 200,
                f"{response.url} answered HTTP {response.status_code}: {response.text[:2000]}",
            )
            page = Page(response.text)
            form_id = next(
                (f for f in ("username-form", "password-form", "totp-form") if f in page.forms),
                None,
            )
            check(
                form_id is not None,
                f"the sign-in page asks for nothing this client can do: {page.describe()}",
            )
            submitted[form_id] = submitted.get(form_id, 0) + 1
            check(
                submitted[form_id] == 1,
                f"{form_id} is asked for again after being filled in: {page.describe()}",
            )
            asked.append(form_id.removesuffix("-form"))
            form = page.forms[form_id]
            fields = dict(form["fields"])
            if form_id == "username-form":
                fields["username"] = self.user
            elif form_id == "password-form":
                fields["password"] = self.password
            else:
                fields["code"] = self.totp.fresh_code()
            check(
                (form["method"] or "").lower() == "post" and form["action"],
                f"{form_id} is not a POST form with an action: {form}",
            )
            action = urljoin(response.url, form["action"])
            check(same_origin(action, self.issuer), f"{form_id} posts elsewhere: {action}")
            # As a browser does: a form post names the page's origin (the pages refuse others).
            origin = "{0.scheme}://{0.netloc}".format(urlsplit(response.url))
            response = self.http.post(
                action,
                data=fields,
                headers={"Origin": origin},
                allow_redirects=False,
                timeout=TIMEOUT,
            )
        raise Failure(f"the sign-in did not finish within 25 pages (asked for {asked})")


# --------------------------------------------------------------------------------------------
# Tokens


def decode_verified(token: str, jwks: dict, what: str):
    """Verifies an ES256 JWT against the JWKS; returns joserfc's token (header and claims)."""
    try:
        header = json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))
    except (ValueError, IndexError) as e:
        raise Failure(f"the {what} is not a JWT: {e}") from e
    check(header.get("alg") == "ES256", f"the {what} is signed with {header.get('alg')}, not ES256")
    kids = [k.get("kid") for k in jwks.get("keys", [])]
    check(header.get("kid") in kids, f"the {what}'s kid {header.get('kid')} is not in the JWKS {kids}")
    try:
        return jwt.decode(token, KeySet.import_key_set(jwks), algorithms=["ES256"])
    except JoseError as e:
        raise Failure(f"the {what}'s signature does not verify against the JWKS: {e!r}") from e


def tampered(token: str) -> str:
    """The token with one bit of its signature flipped."""
    head, payload, signature = token.split(".")
    raw = bytearray(base64.urlsafe_b64decode(signature + "=="))
    raw[len(raw) // 2] ^= 0x01
    return ".".join([head, payload, base64.urlsafe_b64encode(bytes(raw)).rstrip(b"=").decode()])


def validate_id_token(token: dict, jwks: dict, issuer: str, client_id: str, nonce: str | None):
    """Authlib's validation of a code-flow ID token: signature, iss, aud, exp, iat, nonce,
    at_hash (when present), auth_time."""
    check("id_token" in token, f"the token response has no id_token: {sorted(token)}")
    verified = decode_verified(token["id_token"], jwks, "ID token")
    options = {
        "iss": {"essential": True, "value": issuer},
        "aud": {"essential": True, "value": client_id},
        "sub": {"essential": True},
        "exp": {"essential": True},
        "iat": {"essential": True},
        "auth_time": {"essential": True},
    }
    if nonce is not None:
        options["nonce"] = {"essential": True, "value": nonce}
    params = {"nonce": nonce, "client_id": client_id, "access_token": token["access_token"]}
    claims = CodeIDToken(verified.claims, verified.header, options, params)
    try:
        claims.validate(leeway=5)
    except JoseError as e:
        raise Failure(f"the ID token does not validate: {e!r}; claims {dict(claims)}") from e
    try:
        jwt.decode(tampered(token["id_token"]), KeySet.import_key_set(jwks), algorithms=["ES256"])
        raise Failure("an ID token with a flipped signature bit verified: signatures are not checked")
    except JoseError:
        pass
    return claims


def validate_access_token(token: dict, jwks: dict, issuer: str, client_id: str) -> dict:
    """The access token is a JWT (RFC 9068) the issuer signed for this client."""
    verified = decode_verified(token["access_token"], jwks, "access token")
    typ = str(verified.header.get("typ", "")).lower()
    check(typ in ("at+jwt", "application/at+jwt"), f"the access token's typ is {typ!r}, not at+jwt")
    registry = JWTClaimsRegistry(
        leeway=5,
        iss={"essential": True, "value": issuer},
        aud={"essential": True},
        sub={"essential": True},
        exp={"essential": True},
        client_id={"essential": True, "value": client_id},
    )
    try:
        registry.validate(verified.claims)
    except JoseError as e:
        raise Failure(f"the access token does not validate: {e!r}; claims {verified.claims}") from e
    return verified.claims


def token_error(response: requests.Response) -> tuple[int, str]:
    try:
        return response.status_code, response.json().get("error", "")
    except ValueError:
        return response.status_code, response.text[:200]


# --------------------------------------------------------------------------------------------
# The test


class Client:
    def __init__(self) -> None:
        self.issuer = env("PORTCULLIS_ISSUER").rstrip("/")
        self.client_id = env("PORTCULLIS_CLIENT_ID")
        self.redirect_uri = env("PORTCULLIS_REDIRECT_URI")
        self.totp = Totp(env("PORTCULLIS_TOTP_SECRET"))
        self.browser = Browser(
            self.issuer, env("PORTCULLIS_USER"), env("PORTCULLIS_PASSWORD"), self.totp
        )
        self.metadata: dict = {}
        self.jwks: dict = {}
        self.summary: list[str] = []

    def discover(self) -> None:
        url = f"{self.issuer}/.well-known/openid-configuration"
        r = requests.get(url, timeout=TIMEOUT)
        check(r.status_code == 200, f"discovery answered HTTP {r.status_code}: {r.text[:500]}")
        m = r.json()
        check(m.get("issuer") == self.issuer, f"discovery issuer {m.get('issuer')!r} != {self.issuer!r}")
        check(m.get("claims_parameter_supported") is True, "claims_parameter_supported is not true")
        supported = m.get("claims_supported") or []
        for claim in ("acr", "acrs", "amr", "auth_time", "sid"):
            check(claim in supported, f"claims_supported lacks {claim!r}: {supported}")
        check("S256" in (m.get("code_challenge_methods_supported") or []), "S256 PKCE is not offered")
        check(
            "ES256" in (m.get("id_token_signing_alg_values_supported") or []),
            "ES256 ID tokens are not offered",
        )
        for endpoint in ("authorization_endpoint", "token_endpoint", "userinfo_endpoint", "jwks_uri"):
            check(
                str(m.get(endpoint, "")).startswith(self.issuer),
                f"{endpoint} {m.get(endpoint)!r} is not under the issuer",
            )
        self.metadata = m
        r = requests.get(m["jwks_uri"], timeout=TIMEOUT)
        check(r.status_code == 200, f"jwks_uri answered HTTP {r.status_code}")
        self.jwks = r.json()
        check(len(self.jwks.get("keys", [])) > 0, f"the JWKS has no keys: {self.jwks}")
        self.summary.append(f"discovery ok; JWKS has {len(self.jwks['keys'])} key(s)")

    def session(self) -> OAuth2Session:
        return OAuth2Session(
            client_id=self.client_id,
            token_endpoint_auth_method="none",
            scope=SCOPE,
            redirect_uri=self.redirect_uri,
            code_challenge_method="S256",
        )

    def authorize(self, oauth: OAuth2Session, **extra) -> tuple[dict, dict, list[str], dict]:
        """One authorization code flow; returns the token response, the validated ID token
        claims, the forms that were asked for, and the code with its PKCE verifier."""
        verifier = generate_token(64)
        nonce = generate_token(24)
        url, state = oauth.create_authorization_url(
            self.metadata["authorization_endpoint"], code_verifier=verifier, nonce=nonce, **extra
        )
        callback, asked = self.browser.sign_in(url, self.redirect_uri)
        query = {k: v[0] for k, v in parse_qs(urlsplit(callback).query).items()}
        check("error" not in query, f"the authorization failed: {query}")
        check(query.get("state") == state, f"state came back as {query.get('state')!r}")
        check(query.get("iss") == self.issuer, f"iss (RFC 9207) came back as {query.get('iss')!r}")
        try:
            token = oauth.fetch_token(
                self.metadata["token_endpoint"],
                authorization_response=callback,
                state=state,
                code_verifier=verifier,
                timeout=TIMEOUT,
            )
        except OAuthError as e:
            raise Failure(f"the code exchange failed: {e.error}: {e.description}") from e
        check(str(token.get("token_type", "")).lower() == "bearer", f"token_type {token.get('token_type')!r}")
        check(isinstance(token.get("expires_in"), int), f"expires_in {token.get('expires_in')!r}")
        check("refresh_token" in token, "offline_access gave no refresh token")
        claims = validate_id_token(token, self.jwks, self.issuer, self.client_id, nonce)
        return token, claims, asked, {"code": query["code"], "code_verifier": verifier}

    def userinfo(self, oauth: OAuth2Session, sub: str) -> dict:
        r = oauth.get(self.metadata["userinfo_endpoint"], timeout=TIMEOUT)
        check(r.status_code == 200, f"userinfo answered HTTP {r.status_code}: {r.text[:500]}")
        info = r.json()
        check(info.get("sub") == sub, f"userinfo sub {info.get('sub')!r} != ID token sub {sub!r}")
        return info

    def raw_token_request(self, **form) -> requests.Response:
        form["client_id"] = self.client_id
        return requests.post(self.metadata["token_endpoint"], data=form, timeout=TIMEOUT)

    def run(self) -> None:
        started = time.time()
        self.discover()

        # 1. Sign in: code flow with PKCE.
        oauth = self.session()
        token, id1, asked, _ = self.authorize(oauth)
        check(asked[:1] == ["username"], f"the first sign-in did not start by asking who: {asked}")
        check("password" in asked, f"the first sign-in never asked for the password: {asked}")
        amr = id1.get("amr") or []
        check("pwd" in amr, f"amr {amr} lacks 'pwd'")
        auth_time1 = id1.get("auth_time")
        check(
            isinstance(auth_time1, int) and not isinstance(auth_time1, bool),
            f"auth_time {auth_time1!r} is not an integer",
        )
        check(abs(time.time() - auth_time1) <= 120, f"auth_time {auth_time1} is not within 120 s of now")
        check(bool(id1.get("sid")), "the ID token has no sid")
        at1 = validate_access_token(token, self.jwks, self.issuer, self.client_id)
        check(at1.get("sub") == id1["sub"], "the access token's sub differs from the ID token's")
        self.userinfo(oauth, id1["sub"])
        self.summary.append(
            f"sign-in ok: asked {asked}, acr={id1.get('acr')!r} amr={amr} sub={id1['sub']}"
        )

        # 2. Refresh: works once; the used token again is refused, and ends the grant.
        old_refresh = token["refresh_token"]
        try:
            refreshed = oauth.refresh_token(
                self.metadata["token_endpoint"], refresh_token=old_refresh, timeout=TIMEOUT
            )
        except OAuthError as e:
            raise Failure(f"the refresh failed: {e.error}: {e.description}") from e
        new_refresh = refreshed.get("refresh_token")
        check(new_refresh and new_refresh != old_refresh, "the refresh token did not rotate")
        id_r = validate_id_token(refreshed, self.jwks, self.issuer, self.client_id, None)
        check(id_r["sub"] == id1["sub"], "the refreshed ID token names another subject")
        check(id_r.get("auth_time") == auth_time1, "a refresh changed auth_time")
        r = self.raw_token_request(grant_type="refresh_token", refresh_token=old_refresh)
        check(
            token_error(r) == (400, "invalid_grant"),
            f"reusing a refresh token answered {token_error(r)}, not (400, 'invalid_grant')",
        )
        r = self.raw_token_request(grant_type="refresh_token", refresh_token=new_refresh)
        check(
            token_error(r) == (400, "invalid_grant"),
            f"after a refresh token was reused, its successor answered {token_error(r)}, "
            "not (400, 'invalid_grant'): the grant was not revoked",
        )
        self.summary.append("refresh ok: rotates; reuse -> 400 invalid_grant and the grant is revoked")

        # 3. Step-up: the claims parameter asks for authentication context c2 in both tokens.
        time.sleep(1.1)  # auth_time has second resolution: make "later" observable
        claims_request = {
            "access_token": {"acrs": {"essential": True, "value": STEP_UP_CONTEXT}},
            "id_token": {"acrs": {"essential": True, "value": STEP_UP_CONTEXT}},
        }
        oauth2 = self.session()
        token2, id2, asked2, redeemed = self.authorize(
            oauth2, claims=json.dumps(claims_request, separators=(",", ":"))
        )
        check("totp" in asked2, f"the step-up to {STEP_UP_CONTEXT} never asked for the TOTP code: {asked2}")
        check("username" not in asked2, f"the step-up asked who the user is again (no SSO): {asked2}")
        at2 = validate_access_token(token2, self.jwks, self.issuer, self.client_id)
        for name, c in (("ID token", id2), ("access token", at2)):
            check(
                STEP_UP_CONTEXT in (c.get("acrs") or []),
                f"the {name}'s acrs {c.get('acrs')} lack {STEP_UP_CONTEXT!r}",
            )
            for method in ("mfa", "otp"):
                check(method in (c.get("amr") or []), f"the {name}'s amr {c.get('amr')} lacks {method!r}")
        check(id2["sub"] == id1["sub"], "the step-up signed in someone else")
        check(
            isinstance(id2.get("auth_time"), int) and id2["auth_time"] >= auth_time1,
            f"the step-up's auth_time {id2.get('auth_time')} is before the first one {auth_time1}",
        )
        info = self.userinfo(oauth2, id1["sub"])
        check(
            STEP_UP_CONTEXT in (info.get("acrs") or []),
            f"userinfo for the step-up token has acrs {info.get('acrs')}",
        )
        self.summary.append(
            f"step-up ok: asked {asked2}, acr={id2.get('acr')!r} acrs={id2.get('acrs')} "
            f"amr={id2.get('amr')} auth_time +{id2['auth_time'] - auth_time1} s"
        )

        # 4. The step-up's code again (with its right verifier): refused, and the tokens it
        # granted are revoked (RFC 6749 §4.1.2).
        r = self.raw_token_request(
            grant_type="authorization_code", redirect_uri=self.redirect_uri, **redeemed
        )
        check(
            token_error(r) == (400, "invalid_grant"),
            f"redeeming a code twice answered {token_error(r)}, not (400, 'invalid_grant')",
        )
        r = self.raw_token_request(grant_type="refresh_token", refresh_token=token2["refresh_token"])
        check(
            token_error(r) == (400, "invalid_grant"),
            f"after its code was replayed, the step-up's refresh token answered {token_error(r)}, "
            "not (400, 'invalid_grant')",
        )
        self.summary.append("code replay ok: 400 invalid_grant, and its refresh token is revoked")

        took = time.time() - started
        waited = f", {self.totp.waited:.0f} s of it waiting for a TOTP step" if self.totp.waited else ""
        self.summary.append(f"took {took:.1f} s{waited}")


def main() -> int:
    client = None
    try:
        client = Client()
        client.run()
    except (Failure, requests.RequestException) as e:
        print(f"FAIL: {e}", file=sys.stderr)
        if client is not None and client.summary:
            print("passed before the failure:\n  " + "\n  ".join(client.summary), file=sys.stderr)
        return 1
    print("independent OIDC client (Authlib): all checks passed")
    for line in client.summary:
        print(f"  {line}")
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] in ("-h", "--help"):
        print(__doc__)
        sys.exit(0)
    sys.exit(main())
