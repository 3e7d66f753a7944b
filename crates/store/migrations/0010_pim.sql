-- Privileged identity management: role settings, schedule requests, consumed step-up proofs,
-- the link from a role assignment to the request that made it, and the audit log
-- (Graph directoryAudit), append-only and hash-chained.

-- One unifiedRoleManagementPolicy per role (Graph JSON, unknown fields kept). version grows by
-- one on every write: a writer states the version it read, and a stale write changes nothing.
CREATE TABLE role_management_policies (
    role_definition_id TEXT NOT NULL PRIMARY KEY REFERENCES role_definitions (id),
    policy_id TEXT NOT NULL UNIQUE,
    document TEXT NOT NULL,
    version BIGINT NOT NULL CHECK (version >= 1)
);

-- roleAssignmentScheduleRequests and roleEligibilityScheduleRequests. request_json holds the
-- Graph body; the columns are authoritative for what the service sets (id, status, times,
-- approvalId, targetScheduleId). status keeps Graph's spelling, unknown values included.
-- approval_stage: the current approval stage (from 0) while PendingApproval.
-- step_up_nonce: random, set when the request is recorded as PendingStepUp; the step-up it
-- asks for is bound to it.
CREATE TABLE schedule_requests (
    id TEXT NOT NULL PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('assignment', 'eligibility')),
    action TEXT NOT NULL,
    principal_id TEXT NOT NULL,
    role_definition_id TEXT NOT NULL,
    status TEXT NOT NULL,
    approval_stage BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    completed_at BIGINT,
    request_json TEXT NOT NULL,
    step_up_nonce TEXT UNIQUE,
    approval_id TEXT,
    target_schedule_id TEXT
);
CREATE INDEX schedule_requests_principal ON schedule_requests (principal_id, created_at);
CREATE INDEX schedule_requests_status ON schedule_requests (status, created_at);

-- Step-up proofs (by their token id) already used: a proof is good for one request, once.
-- No foreign key: a proof stays spent whatever happens to the request.
CREATE TABLE step_up_proofs (
    jti TEXT NOT NULL PRIMARY KEY,
    request_id TEXT NOT NULL,
    consumed_at BIGINT NOT NULL
);
CREATE INDEX step_up_proofs_consumed ON step_up_proofs (consumed_at);

-- What a schedule request made: the request (NULL for assignments made otherwise); closed_at,
-- when its end was handled (by the expiry job, or by a deactivation), so that it is handled
-- once; end_reason, why it ended ('expired', or the reason a deactivation gave).
ALTER TABLE role_assignments ADD COLUMN request_id TEXT;
ALTER TABLE role_assignments ADD COLUMN closed_at BIGINT;
ALTER TABLE role_assignments ADD COLUMN end_reason TEXT;
CREATE INDEX role_assignments_request ON role_assignments (request_id);
CREATE INDEX role_assignments_due ON role_assignments (end_at)
    WHERE request_id IS NOT NULL AND closed_at IS NULL;

-- The audit log. hash = SHA-256(prev_hash || canonical JSON of the entry, seq included), hex;
-- the first entry's prev_hash is 64 zeros. seq runs 1, 2, 3… without gaps.
CREATE TABLE directory_audits (
    id TEXT NOT NULL PRIMARY KEY,
    seq BIGINT NOT NULL UNIQUE,
    activity_date_time BIGINT NOT NULL,
    category TEXT NOT NULL,
    activity_display_name TEXT NOT NULL,
    operation_type TEXT NOT NULL,
    result TEXT NOT NULL CHECK (result IN ('success', 'failure', 'timeout')),
    result_reason TEXT NOT NULL,
    logged_by_service TEXT NOT NULL,
    correlation_id TEXT,
    initiated_by TEXT NOT NULL,
    target_resources TEXT NOT NULL,
    additional_details TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);
CREATE INDEX directory_audits_time ON directory_audits (activity_date_time);
CREATE INDEX directory_audits_correlation ON directory_audits (correlation_id);

-- The end of the chain, one row: appending updates it first, which serializes appends (a row
-- lock on PostgreSQL, the write lock on SQLite) and lets the check notice a truncated tail.
CREATE TABLE audit_head (
    id BIGINT NOT NULL PRIMARY KEY CHECK (id = 1),
    last_seq BIGINT NOT NULL,
    last_hash TEXT NOT NULL
);
INSERT INTO audit_head (id, last_seq, last_hash) VALUES
    (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');
