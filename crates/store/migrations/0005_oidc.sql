-- OpenID Connect provider state: clients, authorization codes, refresh tokens, signing keys.

CREATE TABLE oidc_clients (
    client_id TEXT NOT NULL PRIMARY KEY,
    display_name TEXT NOT NULL,
    redirect_uris_json TEXT NOT NULL,
    is_public BIGINT NOT NULL CHECK (is_public IN (0, 1)),
    secret_hash TEXT,
    created_at BIGINT NOT NULL
);

-- Only the hash of a code is stored; consumed_at makes it single-use.
CREATE TABLE authorization_codes (
    code_hash TEXT NOT NULL PRIMARY KEY,
    client_id TEXT NOT NULL REFERENCES oidc_clients (client_id) ON DELETE CASCADE,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    session_id TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    redirect_uri TEXT NOT NULL,
    code_challenge TEXT,
    nonce TEXT,
    scope TEXT NOT NULL,
    claims_json TEXT,
    auth_time BIGINT NOT NULL,
    acr TEXT,
    amr_json TEXT NOT NULL,
    acrs_json TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    consumed_at BIGINT
);
CREATE INDEX authorization_codes_expiry ON authorization_codes (expires_at);

-- A family is every token descended from one authorization code: presenting a consumed token
-- again revokes the whole family.
CREATE TABLE refresh_tokens (
    id TEXT NOT NULL PRIMARY KEY,
    token_hash TEXT NOT NULL UNIQUE,
    family_id TEXT NOT NULL,
    client_id TEXT NOT NULL REFERENCES oidc_clients (client_id) ON DELETE CASCADE,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    session_id TEXT REFERENCES sessions (id) ON DELETE SET NULL,
    scope TEXT NOT NULL,
    claims_json TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    consumed_at BIGINT,
    revoked_at BIGINT
);
CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_session ON refresh_tokens (session_id);

CREATE TABLE signing_keys (
    kid TEXT NOT NULL PRIMARY KEY,
    alg TEXT NOT NULL,
    private_pkcs8 BYTEA NOT NULL,
    public_jwk TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    activated_at BIGINT,
    retired_at BIGINT,
    not_after BIGINT
);
