-- Sign-in throttling that strangers cannot turn into a lockout of the account (docs/oidc.md,
-- "Lockout"): failure counters per account and client (an address, or a known device), and the
-- browsers known to have completed a sign-in of an account.

-- The CHECK on lockouts.scope gains the two per-account-and-client scopes. SQLite cannot change a
-- CHECK in place, so the table is rebuilt (both backends accept the same statements).
CREATE TABLE lockouts_new (
    scope TEXT NOT NULL CHECK (scope IN ('account', 'source', 'account_source', 'account_device')),
    lock_key TEXT NOT NULL,
    failures BIGINT NOT NULL,
    window_started_at BIGINT NOT NULL,
    locked_until BIGINT,
    PRIMARY KEY (scope, lock_key)
);
INSERT INTO lockouts_new (scope, lock_key, failures, window_started_at, locked_until)
    SELECT scope, lock_key, failures, window_started_at, locked_until FROM lockouts;
DROP TABLE lockouts;
ALTER TABLE lockouts_new RENAME TO lockouts;

-- A browser that completed a sign-in of an account. token_hash: the SHA-256 of one token of the
-- device cookie (the token itself is never stored); id: a public name for the pair, used in
-- failure counters and audit entries instead of the hash.
CREATE TABLE known_devices (
    id TEXT NOT NULL PRIMARY KEY,
    token_hash TEXT NOT NULL UNIQUE,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    last_signed_in_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX known_devices_user ON known_devices (user_id, expires_at);
