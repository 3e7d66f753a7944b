-- The sign-in log (Graph signIn), append-only.

-- user_id is NULL when the name typed matched no user; no foreign key, so that the log
-- outlives the user.
CREATE TABLE signins (
    id TEXT NOT NULL PRIMARY KEY,
    created_at BIGINT NOT NULL,
    user_id TEXT,
    user_principal_name TEXT NOT NULL,
    client_id TEXT,
    ip TEXT,
    result TEXT NOT NULL CHECK (result IN ('success', 'failure', 'interrupted')),
    failure_reason TEXT,
    methods_json TEXT NOT NULL,
    applied_policies_json TEXT NOT NULL,
    session_id TEXT
);
CREATE INDEX signins_created ON signins (created_at);
CREATE INDEX signins_user ON signins (user_id, created_at);
