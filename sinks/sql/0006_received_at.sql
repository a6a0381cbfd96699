-- When Kafka received each submission (its record timestamp). With written_at it
-- gives the platform's own freshness, independent of tablet clocks and of how
-- long an enumerator stayed offline. The second statement reaches the
-- Distributed table in cluster mode; on one node it is the same table again,
-- and IF NOT EXISTS makes it a no-op.
ALTER TABLE ${db}.households${local} ${on_cluster}
    ADD COLUMN IF NOT EXISTS received_at Nullable(DateTime64(3, 'UTC'))
    COMMENT 'When Kafka received the submission (record timestamp)' AFTER app_version;
ALTER TABLE ${db}.households ${on_cluster}
    ADD COLUMN IF NOT EXISTS received_at Nullable(DateTime64(3, 'UTC'))
    COMMENT 'When Kafka received the submission (record timestamp)' AFTER app_version;
