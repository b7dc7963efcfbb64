-- The log, the command index, the member keys and the API tokens. `{schema}` is the
-- deployment's schema. Written with IF NOT EXISTS: a database created before migrations
-- were numbered has these tables already, and is recorded at version 1 unchanged.
CREATE TABLE IF NOT EXISTS {schema}.events (
    position BIGINT PRIMARY KEY,
    stream BYTEA NOT NULL,
    version BIGINT NOT NULL,
    command_id BYTEA NOT NULL,
    record BYTEA NOT NULL,
    UNIQUE (stream, version));
CREATE TABLE IF NOT EXISTS {schema}.commands (
    command_id BYTEA PRIMARY KEY,
    first_position BIGINT NOT NULL,
    last_position BIGINT NOT NULL);
CREATE TABLE IF NOT EXISTS {schema}.member_keys (
    member BYTEA PRIMARY KEY,
    wrapped BYTEA NOT NULL);
CREATE TABLE IF NOT EXISTS {schema}.tokens (
    id BYTEA PRIMARY KEY,
    record BYTEA NOT NULL);
