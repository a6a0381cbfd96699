-- Re-drives of quarantined originals (`regsosek rejections reprocess`): who
-- re-drove what, and what the worker then made of it. No payload: the
-- original stays in rejection_payloads, this table only points at it.
--
-- Two kinds of row per re-drive id:
--   event = 'redriven'  written by the worker's reprocess endpoint before it
--                       re-publishes the original: who, when, the filter, the
--                       rejected source (topic, partition, offset) and ids;
--                       outcome 'pending'.
--   event = 'judged'    written by the worker when it has decided on a
--                       delivery of the re-drive (with the batch, under the
--                       batch's insert token): where it read it (delivery_*),
--                       outcome accepted / rejected (reason_codes) / dropped.
--                       A redelivery of the same re-drive is a second judged
--                       row at another offset, normally 'dropped'.
-- Keyed so that a batch read again after a crash stays one row per delivery.
-- Small and rare (operator actions), so one replicated table, not sharded.
-- Operators' names and household ids: not granted to analysts (sinks/privacy.py).

CREATE TABLE IF NOT EXISTS ${db}.reprocess_audit ${on_cluster}
(
    redrive_id String COMMENT 'UUID given to one re-publication of one rejected original',
    event LowCardinality(String) COMMENT 'redriven (the command) or judged (the worker)',
    at DateTime64(3, 'UTC') COMMENT 'When the re-drive was published, or judged',
    requested_by String COMMENT 'redriven: who asked (--by); empty on judged rows',
    filter String COMMENT 'redriven: the selection as JSON; empty on judged rows',
    source_topic LowCardinality(String) COMMENT 'The rejected original: rejection_payloads key',
    source_partition Int32,
    source_offset Int64,
    submission_id Nullable(String),
    household_id Nullable(String),
    delivery_topic LowCardinality(String) COMMENT 'judged: where the worker read the re-drive; empty on redriven rows',
    delivery_partition Int32,
    delivery_offset Int64,
    outcome LowCardinality(String) COMMENT 'pending (redriven rows), accepted, rejected or dropped',
    reason_codes Array(LowCardinality(String)) COMMENT 'rejected: the reason codes; else empty'
)
ENGINE = ReplacingMergeTree
ORDER BY (redrive_id, event, delivery_topic, delivery_partition, delivery_offset)
SETTINGS non_replicated_deduplication_window = 10000;
