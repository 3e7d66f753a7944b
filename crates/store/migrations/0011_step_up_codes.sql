-- A code minted by a PIM step-up names the activation request it proves; its access token
-- carries that name, and the activation consumes it once.
ALTER TABLE authorization_codes ADD COLUMN step_up_request TEXT;
