-- Approval decisions (Graph approvalStep) on schedule requests: at most one per stage, written in
-- the transaction that moves the request on (to its next stage, Denied, or Provisioned with the
-- activation it completes). review_result keeps Graph's spelling.
CREATE TABLE approval_steps (
    request_id TEXT NOT NULL REFERENCES schedule_requests (id),
    stage BIGINT NOT NULL CHECK (stage >= 0),
    review_result TEXT NOT NULL CHECK (review_result IN ('Approve', 'Deny')),
    reviewed_by TEXT NOT NULL,
    reviewed_by_name TEXT,
    reviewed_at BIGINT NOT NULL,
    justification TEXT NOT NULL,
    PRIMARY KEY (request_id, stage)
);
