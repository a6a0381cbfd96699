-- Erasures of households on a lawful request (`regsosek erase household`): the audit.
--
-- One row per run that was not a dry run (a run that found nothing is recorded too:
-- the request was answered). It must not keep what it erased: the household id is
-- stored only as an HMAC-SHA256 under the operation's NIK key (sinks/erasure.py
-- household_hash), which whoever holds the key can recompute to answer "was this
-- household erased?", and nobody else can reverse (ids are a village code and a few
-- serial numbers: a plain SHA-256 of every id of a regency takes seconds).
-- tables / rows / rebuilt_keys are parallel arrays: rows removed per table, and for
-- the progress aggregates the keys recomputed without the household.
-- Operators' names and request references: not granted to analysts (sinks/privacy.py).
-- Small and rare, so one replicated table, not sharded.

CREATE TABLE IF NOT EXISTS ${db}.erasures ${on_cluster}
(
    erased_at DateTime64(3, 'UTC'),
    request_ref String COMMENT 'Reference of the lawful request (letter, ticket), as given by --request',
    erased_by String COMMENT 'Who ran it (--by)',
    household_hmac String COMMENT 'HMAC-SHA256 hex of the household id under the NIK key; never the id',
    tables Array(String),
    rows Array(UInt64) COMMENT 'Rows that held the household, per table; for aggregates the rows of the keys recomputed',
    rebuilt_keys Array(UInt64) COMMENT 'Aggregates: keys (village/enumerator/reason and day) recomputed; else 0'
)
ENGINE = MergeTree
ORDER BY erased_at
SETTINGS non_replicated_deduplication_window = 10000;
