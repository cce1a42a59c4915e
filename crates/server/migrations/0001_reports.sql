-- One schema for SQLite and PostgreSQL: only types and statements both read the same way
-- (TEXT, BIGINT, ON CONFLICT). Times are Unix seconds. Counts are never stored: they are
-- aggregated from `reports`, whose primary key is the report id, so a report is counted once
-- however many servers receive it.
CREATE TABLE reports (
    id TEXT PRIMARY KEY,
    archive_sha256 TEXT NOT NULL,
    archive_bytes BIGINT NOT NULL,
    signature TEXT NOT NULL,
    client_signature TEXT,
    class TEXT NOT NULL,
    kernel_release TEXT NOT NULL,
    hardware TEXT NOT NULL,
    crash_time BIGINT,
    received BIGINT NOT NULL,
    seen BIGINT NOT NULL,
    token_name TEXT NOT NULL
);
CREATE INDEX reports_signature_seen ON reports (signature, seen);
CREATE INDEX reports_seen ON reports (seen);
CREATE INDEX reports_release ON reports (kernel_release);

CREATE TABLE signatures (
    signature TEXT PRIMARY KEY,
    class TEXT NOT NULL,
    title TEXT NOT NULL,
    function TEXT,
    frames TEXT NOT NULL,
    representative TEXT NOT NULL
);
