-- Credentials: what a user can prove themselves with.

CREATE TABLE password_credentials (
    user_id TEXT NOT NULL PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    phc TEXT NOT NULL,
    changed_at BIGINT NOT NULL
);

-- last_used_step: the highest TOTP time step accepted, so that a code is never accepted twice.
CREATE TABLE totp_credentials (
    id TEXT NOT NULL PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    secret BYTEA NOT NULL,
    label TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    last_used_step BIGINT NOT NULL
);
CREATE INDEX totp_credentials_user ON totp_credentials (user_id);

-- Phone numbers and e-mail addresses that receive one-time codes.
CREATE TABLE contact_methods (
    id TEXT NOT NULL PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind TEXT NOT NULL CHECK (kind IN ('sms', 'voice', 'email')),
    address TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    UNIQUE (user_id, kind, address)
);

-- passkey_json: the serialized webauthn-rs credential, rewritten after each use (counter,
-- backup state).
CREATE TABLE webauthn_credentials (
    id TEXT NOT NULL PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    credential_id BYTEA NOT NULL UNIQUE,
    passkey_json TEXT NOT NULL,
    aaguid TEXT,
    attachment TEXT NOT NULL CHECK (attachment IN ('platform', 'cross-platform')),
    user_verified BIGINT NOT NULL CHECK (user_verified IN (0, 1)),
    sign_count BIGINT NOT NULL,
    display_name TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    last_used_at BIGINT
);
CREATE INDEX webauthn_credentials_user ON webauthn_credentials (user_id);

CREATE TABLE temporary_access_passes (
    id TEXT NOT NULL PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    pass_hash TEXT NOT NULL,
    is_usable_once BIGINT NOT NULL CHECK (is_usable_once IN (0, 1)),
    starts_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX temporary_access_passes_user ON temporary_access_passes (user_id);
