-- The placement catalog of `cai_store::router::StoreRouter`: which region, and which
-- kind of placement, holds each tenant. A row is written once and never changed: a
-- tenant's placement does not move silently.
CREATE TABLE placements (
    tenant BLOB PRIMARY KEY CHECK (length(tenant) = 16),
    region TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('sqlite_file', 'pg_schema', 'shared'))
) STRICT, WITHOUT ROWID;
