-- Failed console sign-ins per email and per client address, in fixed windows, shared by every
-- node. UNLOGGED: a database crash forgets them, which only gives a locked-out email its
-- attempts back early.
CREATE UNLOGGED TABLE login_failures (
    key TEXT PRIMARY KEY,
    failures BIGINT NOT NULL,
    since BIGINT NOT NULL
);
