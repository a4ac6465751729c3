-- cai-store SQLite schema, version 1.
--
-- Every table is keyed by tenant first: two tenants may hold records with the same id,
-- and every read names its tenant. Ids are the 16 bytes of a UUIDv7, so ordering by
-- id is creation order; subjects (an account or a guest) are 17 bytes: 0x00 or 0x01,
-- then the id, which orders accounts before guests as `SubjectId` does. Timestamps are
-- Unix milliseconds. Sealed content bodies and key material are BLOBs, stored as
-- cai-core hands them over (ciphertext). `body` columns hold the remaining fields of
-- a record in cai-core's JSON form (docs/JSON.md); what is queried, filtered, unique or
-- cascaded has a column of its own.
--
-- Cascades are foreign keys where a child cannot exist without its parent in the
-- storage contract (versions of an item, the role/group/member lists of a record);
-- the other documented cascades are DELETE statements in the batch's transaction,
-- because the contract allows, e.g., a participant of a session not stored here.

CREATE TABLE tenants (
    id BLOB PRIMARY KEY NOT NULL,
    revision INTEGER NOT NULL,
    body TEXT NOT NULL
) STRICT, WITHOUT ROWID;

CREATE TABLE accounts (
    tenant BLOB NOT NULL,
    id BLOB NOT NULL,
    email TEXT,
    -- Set while the account is deactivated: when it is due for pseudonymisation.
    pseudonymise_at INTEGER,
    revision INTEGER NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (tenant, id)
) STRICT, WITHOUT ROWID;
CREATE UNIQUE INDEX accounts_email ON accounts (tenant, email) WHERE email IS NOT NULL;
CREATE INDEX accounts_pseudonymise ON accounts (tenant, pseudonymise_at, id)
    WHERE pseudonymise_at IS NOT NULL;

-- An account's roles, in the order the record lists them.
CREATE TABLE account_roles (
    tenant BLOB NOT NULL,
    account BLOB NOT NULL,
    position INTEGER NOT NULL,
    role BLOB NOT NULL,
    PRIMARY KEY (tenant, account, position),
    FOREIGN KEY (tenant, account) REFERENCES accounts (tenant, id) ON DELETE CASCADE
) STRICT, WITHOUT ROWID;
CREATE INDEX account_roles_role ON account_roles (tenant, role, account);

CREATE TABLE guests (
    tenant BLOB NOT NULL,
    id BLOB NOT NULL,
    session BLOB NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (tenant, id)
) STRICT, WITHOUT ROWID;
CREATE INDEX guests_session ON guests (tenant, session);

CREATE TABLE roles (
    tenant BLOB NOT NULL,
    id BLOB NOT NULL,
    revision INTEGER NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (tenant, id)
) STRICT, WITHOUT ROWID;

CREATE TABLE groups (
    tenant BLOB NOT NULL,
    id BLOB NOT NULL,
    revision INTEGER NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (tenant, id)
) STRICT, WITHOUT ROWID;

-- A group's members, in the order the record lists them.
CREATE TABLE group_members (
    tenant BLOB NOT NULL,
    grp BLOB NOT NULL,
    position INTEGER NOT NULL,
    account BLOB NOT NULL,
    PRIMARY KEY (tenant, grp, position),
    FOREIGN KEY (tenant, grp) REFERENCES groups (tenant, id) ON DELETE CASCADE
) STRICT, WITHOUT ROWID;
CREATE INDEX group_members_account ON group_members (tenant, account, grp);

CREATE TABLE sessions (
    tenant BLOB NOT NULL,
    id BLOB NOT NULL,
    revision INTEGER NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (tenant, id)
) STRICT, WITHOUT ROWID;

-- The groups a session is shared with, in the order the record lists them.
CREATE TABLE session_groups (
    tenant BLOB NOT NULL,
    session BLOB NOT NULL,
    position INTEGER NOT NULL,
    grp BLOB NOT NULL,
    PRIMARY KEY (tenant, session, position),
    FOREIGN KEY (tenant, session) REFERENCES sessions (tenant, id) ON DELETE CASCADE
) STRICT, WITHOUT ROWID;
CREATE INDEX session_groups_group ON session_groups (tenant, grp, session);

CREATE TABLE participants (
    tenant BLOB NOT NULL,
    session BLOB NOT NULL,
    subject BLOB NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (tenant, session, subject)
) STRICT, WITHOUT ROWID;
CREATE INDEX participants_subject ON participants (tenant, subject, session);

CREATE TABLE invitations (
    tenant BLOB NOT NULL,
    id BLOB NOT NULL,
    session BLOB NOT NULL,
    created_by BLOB NOT NULL,
    secret_hash BLOB NOT NULL,
    address_binding BLOB,
    revision INTEGER NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (tenant, id)
) STRICT, WITHOUT ROWID;
CREATE INDEX invitations_session ON invitations (tenant, session, id);
CREATE INDEX invitations_created_by ON invitations (tenant, created_by, id);

CREATE TABLE rooms (
    tenant BLOB NOT NULL,
    id BLOB NOT NULL,
    password BLOB NOT NULL,
    revision INTEGER NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (tenant, id)
) STRICT, WITHOUT ROWID;

CREATE TABLE items (
    tenant BLOB NOT NULL,
    id BLOB NOT NULL,
    session BLOB NOT NULL,
    kind INTEGER NOT NULL,
    author BLOB NOT NULL,
    created_at INTEGER NOT NULL,
    latest_version INTEGER NOT NULL,
    PRIMARY KEY (tenant, id)
) STRICT, WITHOUT ROWID;
CREATE INDEX items_session ON items (tenant, session, id);

CREATE TABLE versions (
    tenant BLOB NOT NULL,
    item BLOB NOT NULL,
    version INTEGER NOT NULL,
    session BLOB NOT NULL,
    author BLOB NOT NULL,
    created_at INTEGER NOT NULL,
    key_epoch INTEGER NOT NULL,
    body BLOB NOT NULL,
    PRIMARY KEY (tenant, item, version),
    FOREIGN KEY (tenant, item) REFERENCES items (tenant, id) ON DELETE CASCADE
) STRICT, WITHOUT ROWID;

CREATE TABLE custody (
    tenant BLOB NOT NULL,
    session BLOB NOT NULL,
    epoch INTEGER NOT NULL,
    custody BLOB NOT NULL,
    PRIMARY KEY (tenant, session, epoch)
) STRICT, WITHOUT ROWID;

CREATE TABLE history_grants (
    tenant BLOB NOT NULL,
    session BLOB NOT NULL,
    recipient BLOB NOT NULL,
    granted_by BLOB NOT NULL,
    at INTEGER NOT NULL,
    grant_bytes BLOB NOT NULL,
    PRIMARY KEY (tenant, session, recipient)
) STRICT, WITHOUT ROWID;
CREATE INDEX history_grants_recipient ON history_grants (tenant, recipient);

CREATE TABLE e2e_epochs (
    tenant BLOB NOT NULL,
    session BLOB NOT NULL,
    epoch INTEGER NOT NULL,
    commit_bytes BLOB NOT NULL,
    record BLOB NOT NULL,
    welcome BLOB,
    grp BLOB NOT NULL,
    committed_by BLOB NOT NULL,
    at INTEGER NOT NULL,
    PRIMARY KEY (tenant, session, epoch)
) STRICT, WITHOUT ROWID;

CREATE TABLE key_packages (
    tenant BLOB NOT NULL,
    owner BLOB NOT NULL,
    reference BLOB NOT NULL,
    device BLOB NOT NULL,
    last_resort INTEGER NOT NULL,
    package BLOB NOT NULL,
    published_at INTEGER NOT NULL,
    PRIMARY KEY (tenant, owner, reference)
) STRICT, WITHOUT ROWID;
CREATE UNIQUE INDEX key_packages_reference ON key_packages (tenant, reference);
CREATE INDEX key_packages_published ON key_packages (tenant, owner, published_at, reference);

CREATE TABLE key_backups (
    tenant BLOB NOT NULL,
    account BLOB NOT NULL,
    backup BLOB NOT NULL,
    PRIMARY KEY (tenant, account)
) STRICT, WITHOUT ROWID;

CREATE TABLE credentials (
    tenant BLOB NOT NULL,
    account BLOB NOT NULL,
    kind INTEGER NOT NULL,
    data BLOB NOT NULL,
    updated_at INTEGER NOT NULL,
    revision INTEGER NOT NULL,
    PRIMARY KEY (tenant, account, kind)
) STRICT, WITHOUT ROWID;

-- Per-tenant counters of the audit trail, incidents and the outbox: the last number
-- handed out, never reused even if entries go.
CREATE TABLE sequences (
    tenant BLOB NOT NULL,
    name TEXT NOT NULL,
    last INTEGER NOT NULL,
    PRIMARY KEY (tenant, name)
) STRICT, WITHOUT ROWID;

CREATE TABLE audit_events (
    tenant BLOB NOT NULL,
    seq INTEGER NOT NULL,
    id BLOB NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (tenant, seq)
) STRICT, WITHOUT ROWID;
CREATE UNIQUE INDEX audit_events_id ON audit_events (tenant, id);

CREATE TABLE incidents (
    tenant BLOB NOT NULL,
    seq INTEGER NOT NULL,
    id BLOB NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (tenant, seq)
) STRICT, WITHOUT ROWID;
CREATE UNIQUE INDEX incidents_id ON incidents (tenant, id);

-- Every notification ever queued; the body goes once it was delivered.
CREATE TABLE notifications (
    tenant BLOB NOT NULL,
    seq INTEGER NOT NULL,
    event BLOB NOT NULL,
    delivered INTEGER NOT NULL,
    body TEXT,
    PRIMARY KEY (tenant, seq)
) STRICT, WITHOUT ROWID;
CREATE UNIQUE INDEX notifications_event ON notifications (tenant, event);
CREATE INDEX notifications_pending ON notifications (tenant, seq) WHERE delivered = 0;
