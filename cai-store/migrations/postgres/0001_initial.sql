-- cai-store PostgreSQL schema, version 1: the tables of the SQLite schema
-- (migrations/sqlite/0001_initial.sql), column for column, with BYTEA for BLOB and
-- BIGINT for INTEGER. The store's connections put its own schema first on the
-- search_path, so these tables are created in the tenant's schema.
--
-- Every table is keyed by tenant first: two tenants may hold records with the same id,
-- and every read names its tenant. Ids are the 16 bytes of a UUIDv7, so ordering by
-- id is creation order; subjects (an account or a guest) are 17 bytes: 0x00 or 0x01,
-- then the id, which orders accounts before guests as `SubjectId` does. Timestamps are
-- Unix milliseconds. Sealed content bodies and key material are BYTEA, stored as
-- cai-core hands them over (ciphertext). `body` columns hold the remaining fields of
-- a record in cai-core's JSON form (docs/JSON.md); what is queried, filtered, unique or
-- cascaded has a column of its own.
--
-- Cascades are foreign keys where a child cannot exist without its parent in the
-- storage contract (versions of an item, the role/group/member lists of a record);
-- the other documented cascades are DELETE statements in the batch's transaction,
-- because the contract allows, e.g., a participant of a session not stored here.

CREATE TABLE tenants (
    id BYTEA PRIMARY KEY NOT NULL,
    revision BIGINT NOT NULL,
    body TEXT NOT NULL
);

CREATE TABLE accounts (
    tenant BYTEA NOT NULL,
    id BYTEA NOT NULL,
    email TEXT,
    -- Set while the account is deactivated: when it is due for pseudonymisation.
    pseudonymise_at BIGINT,
    revision BIGINT NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (tenant, id)
);
CREATE UNIQUE INDEX accounts_email ON accounts (tenant, email) WHERE email IS NOT NULL;
CREATE INDEX accounts_pseudonymise ON accounts (tenant, pseudonymise_at, id)
    WHERE pseudonymise_at IS NOT NULL;

-- An account's roles, in the order the record lists them.
CREATE TABLE account_roles (
    tenant BYTEA NOT NULL,
    account BYTEA NOT NULL,
    position BIGINT NOT NULL,
    role BYTEA NOT NULL,
    PRIMARY KEY (tenant, account, position),
    FOREIGN KEY (tenant, account) REFERENCES accounts (tenant, id) ON DELETE CASCADE
);
CREATE INDEX account_roles_role ON account_roles (tenant, role, account);

CREATE TABLE guests (
    tenant BYTEA NOT NULL,
    id BYTEA NOT NULL,
    session BYTEA NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (tenant, id)
);
CREATE INDEX guests_session ON guests (tenant, session);

CREATE TABLE roles (
    tenant BYTEA NOT NULL,
    id BYTEA NOT NULL,
    revision BIGINT NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (tenant, id)
);

CREATE TABLE groups (
    tenant BYTEA NOT NULL,
    id BYTEA NOT NULL,
    revision BIGINT NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (tenant, id)
);

-- A group's members, in the order the record lists them.
CREATE TABLE group_members (
    tenant BYTEA NOT NULL,
    grp BYTEA NOT NULL,
    position BIGINT NOT NULL,
    account BYTEA NOT NULL,
    PRIMARY KEY (tenant, grp, position),
    FOREIGN KEY (tenant, grp) REFERENCES groups (tenant, id) ON DELETE CASCADE
);
CREATE INDEX group_members_account ON group_members (tenant, account, grp);

CREATE TABLE sessions (
    tenant BYTEA NOT NULL,
    id BYTEA NOT NULL,
    revision BIGINT NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (tenant, id)
);

-- The groups a session is shared with, in the order the record lists them.
CREATE TABLE session_groups (
    tenant BYTEA NOT NULL,
    session BYTEA NOT NULL,
    position BIGINT NOT NULL,
    grp BYTEA NOT NULL,
    PRIMARY KEY (tenant, session, position),
    FOREIGN KEY (tenant, session) REFERENCES sessions (tenant, id) ON DELETE CASCADE
);
CREATE INDEX session_groups_group ON session_groups (tenant, grp, session);

CREATE TABLE participants (
    tenant BYTEA NOT NULL,
    session BYTEA NOT NULL,
    subject BYTEA NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (tenant, session, subject)
);
CREATE INDEX participants_subject ON participants (tenant, subject, session);

CREATE TABLE invitations (
    tenant BYTEA NOT NULL,
    id BYTEA NOT NULL,
    session BYTEA NOT NULL,
    created_by BYTEA NOT NULL,
    secret_hash BYTEA NOT NULL,
    address_binding BYTEA,
    revision BIGINT NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (tenant, id)
);
CREATE INDEX invitations_session ON invitations (tenant, session, id);
CREATE INDEX invitations_created_by ON invitations (tenant, created_by, id);

CREATE TABLE rooms (
    tenant BYTEA NOT NULL,
    id BYTEA NOT NULL,
    password BYTEA NOT NULL,
    revision BIGINT NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (tenant, id)
);

CREATE TABLE items (
    tenant BYTEA NOT NULL,
    id BYTEA NOT NULL,
    session BYTEA NOT NULL,
    kind BIGINT NOT NULL,
    author BYTEA NOT NULL,
    created_at BIGINT NOT NULL,
    latest_version BIGINT NOT NULL,
    PRIMARY KEY (tenant, id)
);
CREATE INDEX items_session ON items (tenant, session, id);

CREATE TABLE versions (
    tenant BYTEA NOT NULL,
    item BYTEA NOT NULL,
    version BIGINT NOT NULL,
    session BYTEA NOT NULL,
    author BYTEA NOT NULL,
    created_at BIGINT NOT NULL,
    key_epoch BIGINT NOT NULL,
    body BYTEA NOT NULL,
    PRIMARY KEY (tenant, item, version),
    FOREIGN KEY (tenant, item) REFERENCES items (tenant, id) ON DELETE CASCADE
);

CREATE TABLE custody (
    tenant BYTEA NOT NULL,
    session BYTEA NOT NULL,
    epoch BIGINT NOT NULL,
    custody BYTEA NOT NULL,
    PRIMARY KEY (tenant, session, epoch)
);

CREATE TABLE history_grants (
    tenant BYTEA NOT NULL,
    session BYTEA NOT NULL,
    recipient BYTEA NOT NULL,
    granted_by BYTEA NOT NULL,
    at BIGINT NOT NULL,
    grant_bytes BYTEA NOT NULL,
    PRIMARY KEY (tenant, session, recipient)
);
CREATE INDEX history_grants_recipient ON history_grants (tenant, recipient);

CREATE TABLE e2e_epochs (
    tenant BYTEA NOT NULL,
    session BYTEA NOT NULL,
    epoch BIGINT NOT NULL,
    commit_bytes BYTEA NOT NULL,
    record BYTEA NOT NULL,
    welcome BYTEA,
    grp BYTEA NOT NULL,
    committed_by BYTEA NOT NULL,
    at BIGINT NOT NULL,
    PRIMARY KEY (tenant, session, epoch)
);

CREATE TABLE key_packages (
    tenant BYTEA NOT NULL,
    owner BYTEA NOT NULL,
    reference BYTEA NOT NULL,
    device BYTEA NOT NULL,
    last_resort BIGINT NOT NULL,
    package BYTEA NOT NULL,
    published_at BIGINT NOT NULL,
    PRIMARY KEY (tenant, owner, reference)
);
CREATE UNIQUE INDEX key_packages_reference ON key_packages (tenant, reference);
CREATE INDEX key_packages_published ON key_packages (tenant, owner, published_at, reference);

CREATE TABLE key_backups (
    tenant BYTEA NOT NULL,
    account BYTEA NOT NULL,
    backup BYTEA NOT NULL,
    PRIMARY KEY (tenant, account)
);

CREATE TABLE credentials (
    tenant BYTEA NOT NULL,
    account BYTEA NOT NULL,
    kind BIGINT NOT NULL,
    data BYTEA NOT NULL,
    updated_at BIGINT NOT NULL,
    revision BIGINT NOT NULL,
    PRIMARY KEY (tenant, account, kind)
);

-- Per-tenant counters of the audit trail, incidents and the outbox: the last number
-- handed out, never reused even if entries go.
CREATE TABLE sequences (
    tenant BYTEA NOT NULL,
    name TEXT NOT NULL,
    last BIGINT NOT NULL,
    PRIMARY KEY (tenant, name)
);

CREATE TABLE audit_events (
    tenant BYTEA NOT NULL,
    seq BIGINT NOT NULL,
    id BYTEA NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (tenant, seq)
);
CREATE UNIQUE INDEX audit_events_id ON audit_events (tenant, id);

CREATE TABLE incidents (
    tenant BYTEA NOT NULL,
    seq BIGINT NOT NULL,
    id BYTEA NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (tenant, seq)
);
CREATE UNIQUE INDEX incidents_id ON incidents (tenant, id);

-- Every notification ever queued; the body goes once it was delivered.
CREATE TABLE notifications (
    tenant BYTEA NOT NULL,
    seq BIGINT NOT NULL,
    event BYTEA NOT NULL,
    delivered BIGINT NOT NULL,
    body TEXT,
    PRIMARY KEY (tenant, seq)
);
CREATE UNIQUE INDEX notifications_event ON notifications (tenant, event);
CREATE INDEX notifications_pending ON notifications (tenant, seq) WHERE delivered = 0;

-- One row, locked FOR UPDATE by every batch first: batches on one schema run one at a
-- time, as on SQLite's single writer, while reads never wait.
CREATE TABLE batch_lock (
    id BIGINT PRIMARY KEY CHECK (id = 1)
);
INSERT INTO batch_lock (id) VALUES (1);
