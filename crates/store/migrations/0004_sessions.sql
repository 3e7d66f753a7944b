-- Browser sessions, the methods performed in them, and failure counters.

-- id: the hash of the session cookie's random token; the token itself is never stored.
CREATE TABLE sessions (
    id TEXT NOT NULL PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    revoked_at BIGINT
);
CREATE INDEX sessions_user ON sessions (user_id);

-- method: a Graph authenticationMethodModes value. transaction_id: the sign-in or step-up
-- (e.g. a PIM activation request) the method was performed for.
CREATE TABLE session_auth_events (
    id TEXT NOT NULL PRIMARY KEY,
    session_id TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    method TEXT NOT NULL,
    performed_at BIGINT NOT NULL,
    aaguid TEXT,
    user_verified BIGINT NOT NULL CHECK (user_verified IN (0, 1)),
    transaction_id TEXT
);
CREATE INDEX session_auth_events_session ON session_auth_events (session_id, performed_at);

-- Failure counters per account or per source address.
CREATE TABLE lockouts (
    scope TEXT NOT NULL CHECK (scope IN ('account', 'source')),
    lock_key TEXT NOT NULL,
    failures BIGINT NOT NULL,
    window_started_at BIGINT NOT NULL,
    locked_until BIGINT,
    PRIMARY KEY (scope, lock_key)
);
