-- The tamper-evident audit trail (src/audit_chain.rs). Rows written before this
-- migration have `hash` NULL; opening the store chains them (in sequence order) before
-- anything else is written.
ALTER TABLE audit_events ADD COLUMN at INTEGER;
-- The actor (a subject id) and the object when it is an account, for erasure by person.
ALTER TABLE audit_events ADD COLUMN subject BLOB;
ALTER TABLE audit_events ADD COLUMN about BLOB;
-- salt ‖ JSON of `changes` / of `request`; NULL once erased. The digests stay.
ALTER TABLE audit_events ADD COLUMN detail BLOB;
ALTER TABLE audit_events ADD COLUMN detail_digest BLOB;
ALTER TABLE audit_events ADD COLUMN origin BLOB;
ALTER TABLE audit_events ADD COLUMN origin_digest BLOB;
ALTER TABLE audit_events ADD COLUMN hash BLOB;
CREATE INDEX audit_events_subject ON audit_events (tenant, subject);
CREATE INDEX audit_events_about ON audit_events (tenant, about);
CREATE INDEX audit_events_at ON audit_events (tenant, at);

-- Signed statements of the chain's head (Ed25519, key held by the host).
CREATE TABLE audit_checkpoints (
    tenant BLOB NOT NULL,
    seq INTEGER NOT NULL,
    head BLOB NOT NULL,
    at INTEGER NOT NULL,
    key BLOB NOT NULL,
    signature BLOB NOT NULL,
    PRIMARY KEY (tenant, seq)
) STRICT, WITHOUT ROWID;
