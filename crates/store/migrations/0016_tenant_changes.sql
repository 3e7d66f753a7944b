-- What changed in the tenant Conditional Access reads (users, groups and their members, role
-- assignments, Conditional Access documents), so that a service holding an engine built from it
-- can tell cheaply whether anything changed (one row) and follow only what did, instead of
-- reading the whole tenant again.
-- Every write transaction touching those tables raises tenant_version by one per change it
-- records, and records the change under the value reached. The row's lock orders the values as
-- the transactions commit, so a reader that sees value N has seen every change up to N. Old
-- changes are pruned: a reader further behind than the log reaches reads the whole tenant.
CREATE TABLE tenant_version (
    id BIGINT NOT NULL PRIMARY KEY CHECK (id = 1),
    value BIGINT NOT NULL
);
INSERT INTO tenant_version (id, value) VALUES (1, 0);

CREATE TABLE tenant_changes (
    version BIGINT NOT NULL PRIMARY KEY,
    kind TEXT NOT NULL,
    subject_id TEXT NOT NULL
);
