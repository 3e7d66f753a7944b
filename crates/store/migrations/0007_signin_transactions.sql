-- Sign-in transactions: one per /authorize request (or step-up) while the user proves who they
-- are. The transaction's start is the instant "sign-in frequency: every time" measures from.
-- id: random and public (it travels in URLs); browser_hash binds it to the browser that began it.
CREATE TABLE signin_transactions (
    id TEXT NOT NULL PRIMARY KEY,
    browser_hash TEXT NOT NULL,
    client_id TEXT NOT NULL REFERENCES oidc_clients (client_id) ON DELETE CASCADE,
    request_json TEXT NOT NULL,
    user_id TEXT REFERENCES users (id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    completed_at BIGINT
);
CREATE INDEX signin_transactions_expiry ON signin_transactions (expires_at);

-- Service-wide secrets (the one-time-code HMAC key), shared by every node of a deployment.
CREATE TABLE service_secrets (
    name TEXT NOT NULL PRIMARY KEY,
    value TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
