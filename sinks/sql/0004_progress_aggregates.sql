-- Progress aggregates, fed by materialized views on every insert.
--
-- Counts are uniqExact STATES of household ids (or of Kafka positions for
-- rejections), never count(): a duplicated or replayed event adds an id that
-- is already in the set, so no count can rise. The sink inserts with
-- deduplicate_blocks_in_dependent_materialized_views = 1 and every target
-- below has a deduplication window, so a retried block is dropped here too.
--
-- Counts are over every revision: "complete" = households with a COMPLETE
-- result in some revision, "with_warnings" = households flagged in some
-- revision. Fieldwork days are in Asia/Jakarta (WIB).

CREATE TABLE IF NOT EXISTS ${db}.progress_village_daily${local} ${on_cluster}
(
    district_code LowCardinality(String),
    village_code String,
    day Date COMMENT 'Day of finished_at in Asia/Jakarta',
    district_name SimpleAggregateFunction(anyLast, String),
    village_name SimpleAggregateFunction(anyLast, String),
    households AggregateFunction(uniqExact, String) COMMENT 'Households with any result',
    complete AggregateFunction(uniqExactIf, String, UInt8),
    incomplete AggregateFunction(uniqExactIf, String, UInt8),
    no_respondent AggregateFunction(uniqExactIf, String, UInt8),
    refused AggregateFunction(uniqExactIf, String, UInt8),
    moved AggregateFunction(uniqExactIf, String, UInt8),
    with_warnings AggregateFunction(uniqExactIf, String, UInt8),
    last_finished_at AggregateFunction(max, DateTime64(3, 'UTC')),
    last_written_at AggregateFunction(max, DateTime64(3, 'UTC'))
)
ENGINE = AggregatingMergeTree
ORDER BY (district_code, village_code, day)
SETTINGS non_replicated_deduplication_window = 10000;

CREATE MATERIALIZED VIEW IF NOT EXISTS ${db}.progress_village_daily_mv ${on_cluster}
TO ${db}.progress_village_daily${local}
AS SELECT
    district_code,
    village_code,
    toDate(finished_at, 'Asia/Jakarta') AS day,
    anyLast(toString(district_name)) AS district_name,
    anyLast(toString(village_name)) AS village_name,
    uniqExactState(household_id) AS households,
    uniqExactIfState(household_id, result = 'COMPLETE') AS complete,
    uniqExactIfState(household_id, result = 'INCOMPLETE') AS incomplete,
    uniqExactIfState(household_id, result = 'NO_RESPONDENT') AS no_respondent,
    uniqExactIfState(household_id, result = 'REFUSED') AS refused,
    uniqExactIfState(household_id, result = 'MOVED_OR_BUILDING_GONE') AS moved,
    uniqExactIfState(household_id, notEmpty(warning_codes)) AS with_warnings,
    maxState(finished_at) AS last_finished_at,
    maxState(written_at) AS last_written_at
FROM ${db}.households${local}
GROUP BY district_code, village_code, day;

-- Per enumerator and day. Interview durations are kept as a set of
-- (household_id, revision, seconds) of COMPLETE interviews rather than a
-- quantile state: a replay adds nothing to a set, and the view keeps only the
-- newest revision per household before taking quantiles. About 25 entries
-- per enumerator and day, so the set stays small.
CREATE TABLE IF NOT EXISTS ${db}.progress_enumerator_daily${local} ${on_cluster}
(
    district_code LowCardinality(String),
    enumerator_id String,
    day Date,
    supervisor_id SimpleAggregateFunction(anyLast, String),
    households AggregateFunction(uniqExact, String),
    complete AggregateFunction(uniqExactIf, String, UInt8),
    with_warnings AggregateFunction(uniqExactIf, String, UInt8),
    last_finished_at AggregateFunction(max, DateTime64(3, 'UTC')),
    durations SimpleAggregateFunction(groupUniqArrayArray, Array(Tuple(String, UInt32, Int32)))
)
ENGINE = AggregatingMergeTree
ORDER BY (district_code, enumerator_id, day)
SETTINGS non_replicated_deduplication_window = 10000;

CREATE MATERIALIZED VIEW IF NOT EXISTS ${db}.progress_enumerator_daily_mv ${on_cluster}
TO ${db}.progress_enumerator_daily${local}
AS SELECT
    district_code,
    toString(enumerator_id) AS enumerator_id,
    toDate(finished_at, 'Asia/Jakarta') AS day,
    anyLast(toString(supervisor_id)) AS supervisor_id,
    uniqExactState(household_id) AS households,
    uniqExactIfState(household_id, result = 'COMPLETE') AS complete,
    uniqExactIfState(household_id, notEmpty(warning_codes)) AS with_warnings,
    maxState(finished_at) AS last_finished_at,
    groupUniqArrayIf(
        CAST((household_id, revision, duration_seconds), 'Tuple(String, UInt32, Int32)'),
        result = 'COMPLETE'
    ) AS durations
FROM ${db}.households${local}
GROUP BY district_code, enumerator_id, day;

-- Rejections per district, enumerator, reason and day. A rejection with two
-- reasons appears under both; the set of Kafka positions counts it once
-- when reasons are merged.
CREATE TABLE IF NOT EXISTS ${db}.rejections_daily${local} ${on_cluster}
(
    district_code LowCardinality(String),
    enumerator_id String,
    reason LowCardinality(String),
    day Date COMMENT 'Day of received_at in Asia/Jakarta',
    rejections AggregateFunction(uniqExact, String) COMMENT 'Set of topic:partition:offset',
    last_received_at AggregateFunction(max, DateTime64(3, 'UTC'))
)
ENGINE = AggregatingMergeTree
ORDER BY (district_code, enumerator_id, reason, day)
SETTINGS non_replicated_deduplication_window = 10000;

CREATE MATERIALIZED VIEW IF NOT EXISTS ${db}.rejections_daily_mv ${on_cluster}
TO ${db}.rejections_daily${local}
AS SELECT
    district_code,
    toString(enumerator_id) AS enumerator_id,
    arrayJoin(if(empty(reason_codes), ['unknown'], reason_codes)) AS reason,
    toDate(received_at, 'Asia/Jakarta') AS day,
    uniqExactState(concat(source_topic, ':', toString(source_partition), ':', toString(source_offset))) AS rejections,
    maxState(received_at) AS last_received_at
FROM ${db}.rejection_payloads${local}
GROUP BY district_code, enumerator_id, reason, day;
