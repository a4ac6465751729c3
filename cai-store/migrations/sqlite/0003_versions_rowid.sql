-- Versions hold the sealed bodies: a 1 KiB message is about 1.1 KiB of envelope. In a
-- WITHOUT ROWID table a row that large no longer fits a b-tree cell and spills into an
-- overflow page of its own, so every such message took about 4.6 KiB of file; as a
-- rowid table (the primary key becomes a separate index) it takes about 1.4 KiB, and
-- deleting it frees (and, with secure_delete, zeroes) a third of the pages.
CREATE TABLE versions_rowid (
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
) STRICT;
INSERT INTO versions_rowid (tenant, item, version, session, author, created_at, key_epoch, body)
    SELECT tenant, item, version, session, author, created_at, key_epoch, body FROM versions;
DROP TABLE versions;
ALTER TABLE versions_rowid RENAME TO versions;
