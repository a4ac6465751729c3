-- The kind of each audit entry as a column, for retention by kind: login records
-- (`login_succeeded`, `login_failed`) lose their personal parts at the tenant's
-- `login_records` deadline (cai-core `AuditStore::erase_login_records_before`).
-- Filled from the entry's public body for entries written before this migration.
ALTER TABLE audit_events ADD COLUMN kind TEXT;
UPDATE audit_events SET kind = body::jsonb ->> 'kind';
CREATE INDEX audit_events_kind_at ON audit_events (tenant, kind, at);
