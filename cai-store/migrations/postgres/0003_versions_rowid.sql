-- 0003 changes how SQLite lays out `versions` (a rowid table instead of WITHOUT ROWID,
-- so large bodies do not spill into overflow pages). PostgreSQL stores tables as heaps
-- with TOAST for large values already: nothing to change. The migration exists so
-- both backends have the same schema number (transfer::SCHEMA_VERSION).
SELECT 1;
