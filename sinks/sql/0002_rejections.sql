-- Rejections: what the pipeline could not accept, one row per Kafka message.
--
-- The sink inserts the whole Rejection record into rejection_payloads: the
-- original bytes (which carry names and NIKs in clear when the body was a
-- household) and the free-text messages (which may quote values). A
-- materialized view copies everything else into rejections, the table
-- analysts see; the analyst role gets no access to rejection_payloads.
-- Both are keyed by (source_topic, source_partition, source_offset), so a
-- replayed rejection stays one row.

CREATE TABLE IF NOT EXISTS ${db}.rejection_payloads${local} ${on_cluster}
(
    source_topic LowCardinality(String),
    source_partition Int32,
    source_offset Int64,
    submission_id Nullable(String),
    household_id Nullable(String),
    enumerator_id LowCardinality(String) COMMENT 'Empty when the body could not be decoded',
    district_code LowCardinality(String) COMMENT 'Region master code when resolvable, else as received; empty when unknown',
    bps_district_code LowCardinality(String),
    reason_codes Array(LowCardinality(String)),
    reason_fields Array(String) COMMENT 'Field path per reason, empty for record-level reasons',
    reason_messages Array(String),
    schema_id Nullable(Int32),
    original String COMMENT 'The Kafka message value exactly as received',
    original_size Int32,
    original_sha256 String,
    received_at DateTime64(3, 'UTC'),
    written_at DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree
ORDER BY (source_topic, source_partition, source_offset)
SETTINGS non_replicated_deduplication_window = 10000;

CREATE TABLE IF NOT EXISTS ${db}.rejections${local} ${on_cluster}
(
    source_topic LowCardinality(String),
    source_partition Int32,
    source_offset Int64,
    submission_id Nullable(String),
    household_id Nullable(String),
    enumerator_id LowCardinality(String),
    district_code LowCardinality(String),
    bps_district_code LowCardinality(String),
    reason_codes Array(LowCardinality(String)) COMMENT 'Stable machine-readable reason codes',
    reason_fields Array(String),
    schema_id Nullable(Int32),
    original_size Int32,
    original_sha256 String COMMENT 'To find the payload in rejection_payloads or the rejected topic',
    received_at DateTime64(3, 'UTC'),
    written_at DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree
ORDER BY (source_topic, source_partition, source_offset)
SETTINGS non_replicated_deduplication_window = 10000;

CREATE MATERIALIZED VIEW IF NOT EXISTS ${db}.rejections_mv ${on_cluster}
TO ${db}.rejections${local}
AS SELECT
    source_topic, source_partition, source_offset, submission_id, household_id,
    enumerator_id, district_code, bps_district_code, reason_codes, reason_fields,
    schema_id, original_size, original_sha256, received_at, written_at
FROM ${db}.rejection_payloads${local};
