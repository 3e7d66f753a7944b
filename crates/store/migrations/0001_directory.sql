-- Directory: users, groups (nested), directory roles and their assignments, and the Conditional
-- Access configuration kept as Graph JSON documents.
--
-- Every migration of this folder runs unchanged on SQLite and PostgreSQL, so it keeps to the
-- SQL both accept: TEXT ids; BIGINT Unix-millisecond times; BIGINT 0/1 flags (sqlx's Any driver
-- cannot read a column SQLite declares BOOLEAN); TEXT JSON; BYTEA bytes (SQLite stores blobs
-- as they come whatever the declared type); no SERIAL, AUTOINCREMENT or backend functions.
-- Never edit an applied migration: add a new one.

CREATE TABLE users (
    id TEXT NOT NULL PRIMARY KEY,
    user_principal_name TEXT NOT NULL,
    -- Lower-cased in Rust: SQLite's lower() folds ASCII only, PostgreSQL's follows the locale,
    -- and the uniqueness of a sign-in name must not depend on the backend.
    upn_key TEXT NOT NULL UNIQUE,
    display_name TEXT NOT NULL,
    account_enabled BIGINT NOT NULL CHECK (account_enabled IN (0, 1)),
    user_type TEXT NOT NULL,
    guest_or_external_user_type TEXT,
    -- Graph fields Portcullis does not use, kept for a tenant export.
    extra_json TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE directory_groups (
    id TEXT NOT NULL PRIMARY KEY,
    display_name TEXT NOT NULL,
    is_assignable_to_role BIGINT NOT NULL CHECK (is_assignable_to_role IN (0, 1)),
    extra_json TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

-- A member is a user or a group (nesting to any depth), so member_id has no foreign key.
CREATE TABLE group_members (
    group_id TEXT NOT NULL REFERENCES directory_groups (id) ON DELETE CASCADE,
    member_id TEXT NOT NULL,
    PRIMARY KEY (group_id, member_id)
);
CREATE INDEX group_members_member ON group_members (member_id);

-- Directory roles, by Entra role template id.
CREATE TABLE role_definitions (
    id TEXT NOT NULL PRIMARY KEY,
    display_name TEXT NOT NULL,
    description TEXT NOT NULL,
    is_built_in BIGINT NOT NULL CHECK (is_built_in IN (0, 1))
);

INSERT INTO role_definitions (id, display_name, description, is_built_in) VALUES
    ('62e90394-69f5-4237-9190-012177145e10', 'Global Administrator',
     'Can manage all aspects of Microsoft Entra ID and Microsoft services that use Microsoft Entra identities.', 1),
    ('e8611ab8-c189-46e8-94e1-60213ab1f814', 'Privileged Role Administrator',
     'Can manage role assignments in Microsoft Entra ID, and all aspects of Privileged Identity Management.', 1),
    ('b1be1c3e-b65d-4f19-8427-f6fa0d97feb9', 'Conditional Access Administrator',
     'Can manage Conditional Access capabilities.', 1),
    ('194ae4cb-b126-40b2-bd5b-6091b380977d', 'Security Administrator',
     'Can read security information and reports, and manage configuration in Microsoft Entra ID and Office 365.', 1),
    ('0526716b-113d-4c15-b2c8-68e3c22b9f80', 'Authentication Policy Administrator',
     'Can create and manage the authentication methods policy, tenant-wide MFA settings, password protection policy, and verifiable credentials.', 1),
    ('9b895d92-2cd3-44c7-9d02-a6ac2d5ea5c3', 'Application Administrator',
     'Can create and manage all aspects of app registrations and enterprise apps.', 1),
    ('fe930be7-5e62-47db-91af-98c3a49a38b1', 'User Administrator',
     'Can manage all aspects of users and groups, including resetting passwords for limited admins.', 1),
    ('729827e3-9c14-49f7-bb1b-9608f156bbb8', 'Helpdesk Administrator',
     'Can reset passwords for non-administrators and Helpdesk Administrators.', 1),
    ('5d6b6bb7-de71-4623-b4af-96380a352509', 'Security Reader',
     'Can read security information and reports in Microsoft Entra ID and Office 365.', 1),
    ('f2ef992c-3afb-46b9-b7cf-a126ee74c451', 'Global Reader',
     'Can read everything that a Global Administrator can, but not update anything.', 1);

-- principal_id is a user or a role-assignable group: no foreign key. An assignment is in force
-- from start_at until end_at (open-ended when NULL).
CREATE TABLE role_assignments (
    id TEXT NOT NULL PRIMARY KEY,
    principal_id TEXT NOT NULL,
    role_definition_id TEXT NOT NULL REFERENCES role_definitions (id),
    directory_scope_id TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('active', 'eligible')),
    start_at BIGINT NOT NULL,
    end_at BIGINT,
    extra_json TEXT NOT NULL
);
CREATE INDEX role_assignments_principal ON role_assignments (principal_id);

-- Conditional Access configuration as Graph JSON, unknown fields included, so that an export
-- survives a round trip whatever this version understands of it.
CREATE TABLE ca_documents (
    kind TEXT NOT NULL CHECK (kind IN ('policy', 'namedLocation', 'authenticationStrength',
                                       'authenticationContext')),
    id TEXT NOT NULL,
    document TEXT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (kind, id)
);
