-- The tamper-evident audit trail (src/audit_chain.rs). Rows written before this
-- migration have `hash` NULL; opening the store chains them (in sequence order) before
-- anything else is written.
ALTER TABLE audit_events ADD COLUMN at BIGINT;
-- The actor (a subject id) and the object when it is an account, for erasure by person.
ALTER TABLE audit_events ADD COLUMN subject BYTEA;
ALTER TABLE audit_events ADD COLUMN about BYTEA;
-- salt ‖ JSON of `changes` / of `request`; NULL once erased. The digests stay.
ALTER TABLE audit_events ADD COLUMN detail BYTEA;
ALTER TABLE audit_events ADD COLUMN detail_digest BYTEA;
ALTER TABLE audit_events ADD COLUMN origin BYTEA;
ALTER TABLE audit_events ADD COLUMN origin_digest BYTEA;
ALTER TABLE audit_events ADD COLUMN hash BYTEA;
CREATE INDEX audit_events_subject ON audit_events (tenant, subject);
CREATE INDEX audit_events_about ON audit_events (tenant, about);
CREATE INDEX audit_events_at ON audit_events (tenant, at);

-- Signed statements of the chain's head (Ed25519, key held by the host).
CREATE TABLE audit_checkpoints (
    tenant BYTEA NOT NULL,
    seq BIGINT NOT NULL,
    head BYTEA NOT NULL,
    at BIGINT NOT NULL,
    key BYTEA NOT NULL,
    signature BYTEA NOT NULL,
    PRIMARY KEY (tenant, seq)
);
