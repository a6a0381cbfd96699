-- Paradata: the field apps' own record of their work (EnumeratorEvent on
-- <prefix>.enumerator-events), and the views operations read it through.
--
-- One row per event. The key is the event itself (enumerator, device time,
-- event_id): an app that sends an event again after a lost acknowledgement
-- repeats its event_id and time, so the copy collapses into one row at merge
-- (read with FINAL, as the views do); a batch read again after a crash is
-- dropped at insert by its token (the batch's offsets). Sharded by enumerator
-- in cluster mode, so both copies meet on one shard.
-- Ids only: enumerator, household, device, assignment codes. GPS rounded to 3
-- decimals (about 100 m) like households; no names, no free text.

CREATE TABLE IF NOT EXISTS ${db}.enumerator_events${local} ${on_cluster}
(
    event_id String COMMENT 'UUID made by the app; an app retry repeats it',
    enumerator_id LowCardinality(String) COMMENT 'PPL code',
    event_type LowCardinality(String) COMMENT 'LOGIN, SYNC, HEARTBEAT, ASSIGNMENT_ACCEPTED, ASSIGNMENT_FINISHED, INTERVIEW_STARTED, INTERVIEW_FINISHED',
    at DateTime64(3, 'UTC') COMMENT 'When it happened, device clock',
    household_id Nullable(String) COMMENT 'INTERVIEW_* events: the family interviewed',
    village_code String COMMENT 'BPS 10-digit village of the assignment as sent; empty when unknown',
    sls_code String COMMENT 'SLS of the assignment as sent; empty when unknown',
    bps_district_code LowCardinality(String) COMMENT 'First 7 digits of village_code; empty when unknown',
    latitude Nullable(Float64) COMMENT 'GPS rounded to 3 decimals (about 100 m)',
    longitude Nullable(Float64) COMMENT 'GPS rounded to 3 decimals (about 100 m)',
    gps_accuracy_m Nullable(Float64),
    pending_count Nullable(Int32) COMMENT 'SYNC: interviews still on the device after it',
    app_version LowCardinality(String),
    device_id String COMMENT 'Tablet id; empty when not sent',
    source_topic LowCardinality(String),
    source_partition Int32,
    source_offset Int64,
    received_at DateTime64(3, 'UTC') COMMENT 'Kafka record timestamp',
    written_at DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree
ORDER BY (enumerator_id, at, event_id)
SETTINGS non_replicated_deduplication_window = 10000;

-- Per enumerator (the frame's and any seen in paradata): the last event of each
-- kind, whether active, how long since the last sync.
--
-- as_of, the instant "now" is measured from, is the newest event time not in the
-- future (device clocks run ahead; those events do not move it). Live, thousands
-- of tablets report every few minutes, so as_of is now within seconds; on a
-- replay of a past month (the demo's simulated October 2022) it is the simulated
-- present, where now() would call every enumerator silent since 2022. A field
-- that has gone quiet (night) shows as_of at its last event: read as_of.
--
-- active: an event within active_minutes (30) of as_of. Apps send a HEARTBEAT
-- every 10-15 minutes while open, so 30 minutes is two missed heartbeats: a tablet
-- closed or out of coverage, not one lost ping (sinks/paradata.py ACTIVE_MINUTES).
-- days_without_sync: whole days from the last SYNC (from the first event when
-- there was never one) to as_of; NULL for an enumerator with no event at all.
CREATE OR REPLACE VIEW ${db}.enumerator_activity ${on_cluster} AS
WITH
    30 AS active_minutes,
    (
        SELECT max(at) FROM ${db}.enumerator_events WHERE at <= now64(3)
    ) AS as_of
SELECT
    enumerator_id,
    f.supervisor_id AS supervisor_id,
    f.district_codes AS district_codes,
    a.bps_district_code AS last_bps_district_code,
    a.events AS events,
    a.first_event_at AS first_event_at,
    a.last_event_at AS last_event_at,
    a.last_event_type AS last_event_type,
    a.last_login_at AS last_login_at,
    a.last_sync_at AS last_sync_at,
    a.last_pending_count AS last_pending_count,
    a.last_latitude AS last_latitude,
    a.last_longitude AS last_longitude,
    as_of,
    if(a.events > 0, dateDiff('minute', a.last_event_at, as_of), NULL) AS minutes_silent,
    a.events > 0 AND dateDiff('minute', a.last_event_at, as_of) <= active_minutes AS active,
    if(
        a.events > 0,
        dateDiff('day', if(a.last_sync_at IS NULL, a.first_event_at, a.last_sync_at), as_of),
        NULL
    ) AS days_without_sync
FROM
(
    SELECT
        enumerator_id,
        count() AS events,
        min(at) AS first_event_at,
        max(at) AS last_event_at,
        argMax(event_type, at) AS last_event_type,
        argMax(bps_district_code, (bps_district_code != '', at)) AS bps_district_code,
        maxIf(at, event_type = 'LOGIN') AS last_login_raw,
        if(countIf(event_type = 'LOGIN') > 0, last_login_raw, NULL) AS last_login_at,
        maxIf(at, event_type = 'SYNC') AS last_sync_raw,
        if(countIf(event_type = 'SYNC') > 0, last_sync_raw, NULL) AS last_sync_at,
        argMaxIf(pending_count, at, event_type = 'SYNC') AS last_pending_count,
        argMaxIf(latitude, at, latitude IS NOT NULL) AS last_latitude,
        argMaxIf(longitude, at, latitude IS NOT NULL) AS last_longitude
    FROM ${db}.enumerator_events FINAL
    WHERE at <= now64(3)
    GROUP BY enumerator_id
) AS a
FULL OUTER JOIN
(
    SELECT enumerator_id, supervisor_id, district_codes FROM ${db}.enumerators FINAL
) AS f USING (enumerator_id);

-- Active enumerators per district (kecamatan, region-master code from the frame)
-- and team (supervisor): assigned is the frame's count, seen those with any event,
-- active those with an event in the last 30 minutes of as_of. An enumerator working
-- in two districts counts in both; one outside the frame counts under district ''.
CREATE OR REPLACE VIEW ${db}.active_enumerators ${on_cluster} AS
SELECT
    district_code,
    supervisor_id,
    count() AS assigned,
    countIf(events > 0) AS seen,
    countIf(active) AS active,
    max(last_event_at) AS last_event_at,
    any(as_of) AS as_of
FROM ${db}.enumerator_activity
ARRAY JOIN if(empty(district_codes), [''], district_codes) AS district_code
GROUP BY district_code, supervisor_id;

-- One row per interview: the first INTERVIEW_FINISHED of a household paired with
-- the INTERVIEW_STARTED just before it (same enumerator, same household). Later
-- pairs are the form reopened (a correction): counted in sessions and
-- total_seconds, not in duration_seconds, so a two-minute fix is not taken for a
-- two-minute interview. A start never finished, or a finish without a start,
-- makes no row.
CREATE OR REPLACE VIEW ${db}.interview_durations ${on_cluster} AS
SELECT
    enumerator_id,
    household_id,
    argMin(started, finished) AS started_at,
    min(finished) AS finished_at,
    toInt64(dateDiff('second', started_at, finished_at)) AS duration_seconds,
    count() AS sessions,
    toInt64(sum(dateDiff('second', started, finished))) AS total_seconds
FROM
(
    SELECT
        enumerator_id,
        household_id,
        event_type,
        at AS finished,
        anyLast(if(event_type = 'INTERVIEW_STARTED', at, NULL)) OVER (
            PARTITION BY enumerator_id, household_id
            ORDER BY at, event_type = 'INTERVIEW_FINISHED'
            ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING
        ) AS started_or_null,
        assumeNotNull(started_or_null) AS started
    FROM
    (
        SELECT enumerator_id, assumeNotNull(household_id) AS household_id, event_type, at
        FROM ${db}.enumerator_events FINAL
        WHERE event_type IN ('INTERVIEW_STARTED', 'INTERVIEW_FINISHED')
            AND household_id IS NOT NULL
    )
)
WHERE event_type = 'INTERVIEW_FINISHED' AND started_or_null IS NOT NULL
GROUP BY enumerator_id, household_id;

-- Time per interview per enumerator: median and 90th percentile of
-- duration_seconds, and the very short ones. very_short_seconds (600): a
-- complete K form (location, housing, every member's 30-odd items, assets,
-- programmes) cannot be asked in under 10 minutes; the simulator's shortest
-- complete interview is 15. Shorter ones were filled without the family, or the
-- start was not recorded (sinks/paradata.py VERY_SHORT_INTERVIEW_SECONDS).
CREATE OR REPLACE VIEW ${db}.interview_time_by_enumerator ${on_cluster} AS
WITH 600 AS very_short_seconds
SELECT
    enumerator_id,
    count() AS interviews,
    round(quantileExact(0.5)(duration_seconds)) AS duration_p50_s,
    round(quantileExact(0.9)(duration_seconds)) AS duration_p90_s,
    countIf(duration_seconds < very_short_seconds) AS very_short,
    sum(sessions - 1) AS reopened
FROM ${db}.interview_durations
GROUP BY enumerator_id;

-- Data quality per enumerator (every one of the frame, and any other who sent
-- something): the households of their newest revision (visited),
-- rejected submissions, warnings, very short interviews (paradata), GPS anomalies
-- (a GPS_* warning) and households sharing a NIK with another household
-- (members_current.nik_hash in more than one household). Rates are per
-- submission decided (visited + rejected) or per household; NULL when there is
-- nothing to divide by.
CREATE OR REPLACE VIEW ${db}.data_quality_by_enumerator ${on_cluster} AS
SELECT
    enumerator_id,
    if(f.supervisor_id != '', f.supervisor_id, h.supervisor_id) AS supervisor_id,
    h.visited AS visited,
    r.rejected AS rejected,
    if(h.visited + r.rejected > 0, round(r.rejected / (h.visited + r.rejected), 4), NULL)
        AS rejection_rate,
    h.with_warnings AS with_warnings,
    if(h.visited > 0, round(h.with_warnings / h.visited, 4), NULL) AS warning_rate,
    t.interviews AS timed_interviews,
    t.very_short AS very_short_interviews,
    if(t.interviews > 0, round(t.very_short / t.interviews, 4), NULL) AS very_short_rate,
    h.gps_anomalies AS gps_anomalies,
    if(h.visited > 0, round(h.gps_anomalies / h.visited, 4), NULL) AS gps_anomaly_rate,
    n.duplicate_nik_households AS duplicate_nik_households
FROM
(
    SELECT
        enumerator_id,
        anyLast(supervisor_id) AS supervisor_id,
        count() AS visited,
        countIf(notEmpty(warning_codes)) AS with_warnings,
        countIf(arrayExists(code -> startsWith(code, 'GPS_'), warning_codes)) AS gps_anomalies
    FROM ${db}.households FINAL
    GROUP BY enumerator_id
) AS h
FULL OUTER JOIN
(
    SELECT enumerator_id, uniqExact(source_topic, source_partition, source_offset) AS rejected
    FROM ${db}.rejections FINAL
    WHERE enumerator_id != ''
    GROUP BY enumerator_id
) AS r USING (enumerator_id)
FULL OUTER JOIN
(
    SELECT enumerator_id, interviews, very_short FROM ${db}.interview_time_by_enumerator
) AS t USING (enumerator_id)
LEFT JOIN
(
    SELECT h2.enumerator_id AS enumerator_id, uniqExact(m.household_id) AS duplicate_nik_households
    FROM ${db}.members_current AS m
    INNER JOIN ${db}.households AS h2 FINAL ON h2.household_id = m.household_id
    WHERE m.nik_hash IN (
        SELECT nik_hash
        FROM ${db}.members_current
        WHERE nik_hash IS NOT NULL
        GROUP BY nik_hash
        HAVING uniqExact(household_id) > 1
    )
    GROUP BY h2.enumerator_id
) AS n USING (enumerator_id)
FULL OUTER JOIN
(
    SELECT enumerator_id, supervisor_id FROM ${db}.enumerators FINAL
) AS f USING (enumerator_id)
WHERE enumerator_id != '';

-- The same, rolled up by team (supervisor, PML): counts summed, rates recomputed
-- from the sums, so a large team is not outweighed by a small one.
CREATE OR REPLACE VIEW ${db}.data_quality_by_team ${on_cluster} AS
SELECT
    supervisor_id,
    enumerators,
    visited,
    rejected,
    if(visited + rejected > 0, round(rejected / (visited + rejected), 4), NULL) AS rejection_rate,
    with_warnings,
    if(visited > 0, round(with_warnings / visited, 4), NULL) AS warning_rate,
    timed_interviews,
    very_short_interviews,
    if(timed_interviews > 0, round(very_short_interviews / timed_interviews, 4), NULL)
        AS very_short_rate,
    gps_anomalies,
    if(visited > 0, round(gps_anomalies / visited, 4), NULL) AS gps_anomaly_rate,
    duplicate_nik_households
FROM
(
    SELECT
        supervisor_id,
        count() AS enumerators,
        sum(e.visited) AS visited,
        sum(e.rejected) AS rejected,
        sum(e.with_warnings) AS with_warnings,
        sum(e.timed_interviews) AS timed_interviews,
        sum(e.very_short_interviews) AS very_short_interviews,
        sum(e.gps_anomalies) AS gps_anomalies,
        sum(e.duplicate_nik_households) AS duplicate_nik_households
    FROM ${db}.data_quality_by_enumerator AS e
    GROUP BY e.supervisor_id AS supervisor_id
);
