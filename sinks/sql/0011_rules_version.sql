-- Rules version (issue #17, replay): which rules judged each household and rejection.
--
-- processors/rules/version.py derives it from the rule catalogue, the rule code and the
-- context's thresholds; the worker writes it on every row. Rows written before this step
-- read '' (unknown rules). The second ALTER of each table reaches the Distributed table in
-- cluster mode; on one node it is the same table again, and IF NOT EXISTS makes it a no-op.
ALTER TABLE ${db}.households${local} ${on_cluster}
    ADD COLUMN IF NOT EXISTS rules_version LowCardinality(String) DEFAULT ''
    COMMENT 'Rules that accepted this revision (processors/rules/version.py); empty before it was recorded';
ALTER TABLE ${db}.households ${on_cluster}
    ADD COLUMN IF NOT EXISTS rules_version LowCardinality(String) DEFAULT ''
    COMMENT 'Rules that accepted this revision (processors/rules/version.py); empty before it was recorded';
ALTER TABLE ${db}.rejection_payloads${local} ${on_cluster}
    ADD COLUMN IF NOT EXISTS rules_version LowCardinality(String) DEFAULT ''
    COMMENT 'Rules that rejected this message; empty before it was recorded';
ALTER TABLE ${db}.rejection_payloads ${on_cluster}
    ADD COLUMN IF NOT EXISTS rules_version LowCardinality(String) DEFAULT ''
    COMMENT 'Rules that rejected this message; empty before it was recorded';
ALTER TABLE ${db}.rejections${local} ${on_cluster}
    ADD COLUMN IF NOT EXISTS rules_version LowCardinality(String) DEFAULT ''
    COMMENT 'Rules that rejected this message; empty before it was recorded';
ALTER TABLE ${db}.rejections ${on_cluster}
    ADD COLUMN IF NOT EXISTS rules_version LowCardinality(String) DEFAULT ''
    COMMENT 'Rules that rejected this message; empty before it was recorded';

-- The view that copies payloads into rejections names its columns, so it is made again
-- with the new one, under a new name and BEFORE the old one is dropped: an insert in
-- between goes through both views, and the two copies are one row (ReplacingMergeTree
-- keyed by the source offset). Dropping first would lose the analyst row of an insert
-- that falls in the gap, e.g. from a worker still running the previous version during a
-- rolling upgrade.
CREATE MATERIALIZED VIEW IF NOT EXISTS ${db}.rejections_copy_mv ${on_cluster}
TO ${db}.rejections${local}
AS SELECT
    source_topic, source_partition, source_offset, submission_id, household_id,
    enumerator_id, district_code, bps_district_code, reason_codes, reason_fields,
    schema_id, original_size, original_sha256, received_at, written_at, rules_version
FROM ${db}.rejection_payloads${local};
DROP VIEW IF EXISTS ${db}.rejections_mv ${on_cluster};

-- Replay runs (regsosek replay): one row per change of phase, the newest wins. Read FINAL.
-- A small table on every node, not sharded: the worker that runs the replay reads it.
CREATE TABLE IF NOT EXISTS ${db}.replay_runs ${on_cluster}
(
    run_id String COMMENT 'Short id; the consumer group is <prefix>-replay-<run_id>',
    started_at DateTime64(3, 'UTC'),
    rules_version LowCardinality(String) COMMENT 'Rules the replay judges by',
    phase LowCardinality(String) COMMENT 'catching_up, swapping, finishing, done, failed',
    live_uuid String COMMENT 'UUID of the live households table before the swap',
    end_offsets String COMMENT 'JSON {partition: offset}: where the replay stops, noted at the swap',
    detail String COMMENT 'Why it failed, or what it did last',
    updated_at DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(updated_at)
ORDER BY run_id
SETTINGS non_replicated_deduplication_window = 10000;
