-- How each credential was registered (DESIGN §8.5): a JSON policy::registration::Provenance
-- (the kind of fresh proof, its methods, who issued the temporary access pass, when, from where).
-- NULL: registered before provenance was kept, which counts as an unrecorded proof.
ALTER TABLE webauthn_credentials ADD COLUMN provenance_json TEXT;
ALTER TABLE totp_credentials ADD COLUMN provenance_json TEXT;
ALTER TABLE contact_methods ADD COLUMN provenance_json TEXT;

-- credential_id: the credential performed (passkey, app, pass), when there is one.
-- registration: for a credential with a provenance, the kind of proof it was registered under,
-- copied when it is used, so that deciding a sign-in reads no credential.
ALTER TABLE session_auth_events ADD COLUMN credential_id TEXT;
ALTER TABLE session_auth_events ADD COLUMN registration TEXT;

-- Tenant-wide settings that administrators change (audited), e.g.
-- 'registrationProvenance' = 'enforced' | 'relaxed'.
CREATE TABLE tenant_settings (
    name TEXT NOT NULL PRIMARY KEY,
    value TEXT NOT NULL,
    changed_at BIGINT NOT NULL,
    changed_by TEXT NOT NULL
);

-- Graph signIn status.additionalDetails: what a security-info sign-in registered, and how.
ALTER TABLE signins ADD COLUMN additional_details TEXT;
