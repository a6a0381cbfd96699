-- NIK -> households, for the worker's duplicate-NIK check across workers and restarts
-- (NIK_DUPLICATE_HOUSEHOLD; streams/worker/nik_lookup.py asks it once per batch).
--
-- `members` is ordered by household, so asking it for a batch's NIKs would read the
-- whole nik_hash column every batch. This copy is ordered by the NIK: an IN list of a
-- batch's keys reads only the granules holding them (small granules, 8-byte keys).
-- The key is the first 8 bytes of members.nik_hash (an HMAC-SHA256) read as a
-- big-endian integer: a collision between two people is about 1 in 10^11 for a
-- regency, and would only raise a warning. Fed by a materialized view of every insert
-- into members, so nothing in the sink changes; analysts read members, not this.

CREATE TABLE IF NOT EXISTS ${db}.nik_households${local} ${on_cluster}
(
    nik_key UInt64 COMMENT 'First 8 bytes of members.nik_hash, big-endian',
    household_id String,
    written_at DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(written_at)
ORDER BY (nik_key, household_id)
SETTINGS index_granularity = 256, non_replicated_deduplication_window = 10000;

CREATE MATERIALIZED VIEW IF NOT EXISTS ${db}.nik_households_mv ${on_cluster}
TO ${db}.nik_households${local}
AS SELECT
    reinterpretAsUInt64(reverse(unhex(substring(nik_hash, 1, 16)))) AS nik_key,
    household_id,
    written_at
FROM ${db}.members${local}
WHERE nik_hash IS NOT NULL;

-- Migrations are DDL only (idempotent, ON CLUSTER): a database that already held
-- members when this step ran fills the copy once by hand, on one node:
--   INSERT INTO <db>.nik_households SELECT reinterpretAsUInt64(reverse(unhex(
--     substring(nik_hash, 1, 16)))), household_id, written_at
--   FROM <db>.members WHERE nik_hash IS NOT NULL
