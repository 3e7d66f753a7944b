-- Short-lived, single-use state: one-time codes, WebAuthn ceremonies, and the message outbox.

CREATE TABLE otp_challenges (
    id TEXT NOT NULL PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    channel TEXT NOT NULL CHECK (channel IN ('sms', 'voice', 'email')),
    code_hash TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    attempts BIGINT NOT NULL,
    consumed_at BIGINT
);
CREATE INDEX otp_challenges_expiry ON otp_challenges (expires_at);

-- user_id is NULL for a discoverable-credential (username-less) authentication.
CREATE TABLE webauthn_ceremonies (
    id TEXT NOT NULL PRIMARY KEY,
    user_id TEXT REFERENCES users (id) ON DELETE CASCADE,
    kind TEXT NOT NULL CHECK (kind IN ('registration', 'authentication')),
    state_json TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    consumed_at BIGINT
);
CREATE INDEX webauthn_ceremonies_expiry ON webauthn_ceremonies (expires_at);

-- What the default code sender "sends": the portal and the tests read it.
CREATE TABLE outbox_messages (
    id TEXT NOT NULL PRIMARY KEY,
    channel TEXT NOT NULL CHECK (channel IN ('sms', 'voice', 'email')),
    recipient TEXT NOT NULL,
    body TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX outbox_messages_recipient ON outbox_messages (recipient, created_at);
