-- Uploaded files (cai-core `Counselling::upload_file`): the blob holding an item's
-- sealed stream, NULL for every other item. Unique per tenant, so the orphan sweep's
-- `item_by_blob` finds at most one item, through the index.
ALTER TABLE items ADD COLUMN blob BLOB;
CREATE UNIQUE INDEX items_blob ON items (tenant, blob);
