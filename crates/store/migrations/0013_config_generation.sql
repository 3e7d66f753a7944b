-- A counter that every change to the Conditional Access documents (ca_documents) raises by one.
-- A writer that checked a change against the configuration it read (the lockout guard on
-- enabling a policy) states the generation it read; if another change landed meanwhile, its
-- write changes nothing and it checks again.
CREATE TABLE config_generation (
    id BIGINT NOT NULL PRIMARY KEY CHECK (id = 1),
    value BIGINT NOT NULL
);
INSERT INTO config_generation (id, value) VALUES (1, 0);
