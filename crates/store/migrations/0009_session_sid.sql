-- A session's public id (the `sid` claim): unlike `id`, the hash of the cookie's token, it stays
-- the same when the cookie is rotated after a sign-in step, so tokens issued earlier in the
-- session keep naming it.
ALTER TABLE sessions ADD COLUMN sid TEXT;
UPDATE sessions SET sid = id WHERE sid IS NULL;
CREATE UNIQUE INDEX sessions_sid ON sessions (sid);
