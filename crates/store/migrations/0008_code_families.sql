-- What an authorization code granted, so that a replayed code can take it back (RFC 6749
-- §4.1.2): the refresh-token family its redemption started, and when it was presented again
-- after being redeemed (a replay), after which no family may start from it.
ALTER TABLE authorization_codes ADD COLUMN family_id TEXT;
ALTER TABLE authorization_codes ADD COLUMN replayed_at BIGINT;
