-- Views analysts and the progress page read. Normal views run with the
-- reader's rights, so the analyst role needs SELECT on the tables below too
-- (it gets them; never rejection_payloads).

-- The members of the newest revision of each household. members FINAL alone
-- is not enough: a newer revision with fewer members leaves the old extra
-- members behind, and a revision with no members at all leaves every old
-- one. households decides which revision is current. GLOBAL IN is plain IN
-- on one node and ships the small (id, revision) set once in a cluster.
CREATE OR REPLACE VIEW ${db}.members_current ${on_cluster} AS
SELECT *
FROM ${db}.members FINAL
WHERE (household_id, revision) GLOBAL IN (
    SELECT household_id, max(revision)
    FROM ${db}.households
    GROUP BY household_id
);

-- Progress per village: target from targets, counts from the daily aggregate.
-- Villages with a target and no household yet show 0; households in a
-- village without a target show target 0 and a NULL percentage. Rejections
-- carry no village code, so rejected is NULL here.
CREATE OR REPLACE VIEW ${db}.progress_by_village ${on_cluster} AS
SELECT
    district_code,
    village_code,
    if(names.name != '', names.name, p.village_name) AS village_name,
    t.target AS target,
    p.enumerated AS enumerated,
    if(t.target > 0, round(100 * p.enumerated / t.target, 1), NULL) AS percent,
    p.visited AS visited,
    p.incomplete AS incomplete,
    p.no_respondent AS no_respondent,
    p.refused AS refused,
    p.moved AS moved,
    CAST(NULL, 'Nullable(UInt64)') AS rejected,
    p.warnings AS warnings,
    if(p.visited = 0, NULL, p.last_submission_at) AS last_submission_at
FROM
(
    SELECT
        district_code,
        village_code,
        anyLast(village_name) AS village_name,
        uniqExactMerge(households) AS visited,
        uniqExactIfMerge(complete) AS enumerated,
        uniqExactIfMerge(incomplete) AS incomplete,
        uniqExactIfMerge(no_respondent) AS no_respondent,
        uniqExactIfMerge(refused) AS refused,
        uniqExactIfMerge(moved) AS moved,
        uniqExactIfMerge(with_warnings) AS warnings,
        maxMerge(last_finished_at) AS last_submission_at
    FROM ${db}.progress_village_daily
    GROUP BY district_code, village_code
) AS p
FULL OUTER JOIN
(
    SELECT district_code, village_code, sum(expected_households) AS target
    FROM ${db}.targets FINAL
    GROUP BY district_code, village_code
) AS t USING (district_code, village_code)
LEFT JOIN
(
    SELECT code, name FROM ${db}.regions FINAL WHERE level = 'village'
) AS names ON names.code = village_code;

-- Progress per district (kecamatan), with rejections received for it.
CREATE OR REPLACE VIEW ${db}.progress_by_district ${on_cluster} AS
SELECT
    district_code,
    names.bps_code AS bps_district_code,
    if(names.name != '', names.name, p.district_name) AS district_name,
    t.target AS target,
    p.enumerated AS enumerated,
    if(t.target > 0, round(100 * p.enumerated / t.target, 1), NULL) AS percent,
    p.visited AS visited,
    p.incomplete AS incomplete,
    p.no_respondent AS no_respondent,
    p.refused AS refused,
    p.moved AS moved,
    r.rejected AS rejected,
    p.warnings AS warnings,
    if(p.visited = 0, NULL, p.last_submission_at) AS last_submission_at
FROM
(
    SELECT
        district_code,
        anyLast(district_name) AS district_name,
        uniqExactMerge(households) AS visited,
        uniqExactIfMerge(complete) AS enumerated,
        uniqExactIfMerge(incomplete) AS incomplete,
        uniqExactIfMerge(no_respondent) AS no_respondent,
        uniqExactIfMerge(refused) AS refused,
        uniqExactIfMerge(moved) AS moved,
        uniqExactIfMerge(with_warnings) AS warnings,
        maxMerge(last_finished_at) AS last_submission_at
    FROM ${db}.progress_village_daily
    GROUP BY district_code
) AS p
FULL OUTER JOIN
(
    SELECT district_code, sum(expected_households) AS target
    FROM ${db}.targets FINAL
    GROUP BY district_code
) AS t USING (district_code)
LEFT JOIN
(
    SELECT district_code, uniqExactMerge(rejections) AS rejected
    FROM ${db}.rejections_daily
    GROUP BY district_code
) AS r USING (district_code)
LEFT JOIN
(
    SELECT code, name, bps_code FROM ${db}.regions FINAL WHERE level = 'district'
) AS names ON names.code = district_code
WHERE district_code != '';

-- Progress per enumerator (PPL): target = sum of the targets of the assigned
-- SLS units; households per day = enumerated / days with any submission;
-- durations of COMPLETE interviews, newest revision per household only.
CREATE OR REPLACE VIEW ${db}.progress_by_enumerator ${on_cluster} AS
SELECT
    enumerator_id,
    if(e.supervisor_id != '', e.supervisor_id, p.supervisor_id) AS supervisor_id,
    arraySort(arrayDistinct(arrayConcat(e.district_codes, p.work_districts))) AS district_codes,
    e.target AS target,
    p.enumerated AS enumerated,
    if(e.target > 0, round(100 * p.enumerated / e.target, 1), NULL) AS percent,
    p.visited AS visited,
    r.rejected AS rejected,
    p.warnings AS warnings,
    p.days_worked AS days_worked,
    if(p.days_worked > 0, round(p.enumerated / p.days_worked, 1), NULL) AS households_per_day,
    d.duration_p50_s AS duration_p50_s,
    d.duration_p90_s AS duration_p90_s,
    if(p.visited = 0, NULL, p.last_submission_at) AS last_submission_at
FROM
(
    SELECT
        enumerator_id,
        anyLast(supervisor_id) AS supervisor_id,
        groupUniqArray(toString(district_code)) AS work_districts,
        uniqExactMerge(households) AS visited,
        uniqExactIfMerge(complete) AS enumerated,
        uniqExactIfMerge(with_warnings) AS warnings,
        uniqExact(day) AS days_worked,
        maxMerge(last_finished_at) AS last_submission_at
    FROM ${db}.progress_enumerator_daily
    GROUP BY enumerator_id
) AS p
FULL OUTER JOIN
(
    SELECT enumerator_id, supervisor_id, district_codes, expected_households AS target
    FROM ${db}.enumerators FINAL
) AS e USING (enumerator_id)
LEFT JOIN
(
    SELECT
        enumerator_id,
        round(quantileExact(0.5)(seconds)) AS duration_p50_s,
        round(quantileExact(0.9)(seconds)) AS duration_p90_s
    FROM
    (
        SELECT enumerator_id, entry.1 AS household_id, argMax(entry.3, entry.2) AS seconds
        FROM ${db}.progress_enumerator_daily
        ARRAY JOIN durations AS entry
        GROUP BY enumerator_id, household_id
    )
    GROUP BY enumerator_id
) AS d USING (enumerator_id)
LEFT JOIN
(
    SELECT enumerator_id, uniqExactMerge(rejections) AS rejected
    FROM ${db}.rejections_daily
    WHERE enumerator_id != ''
    GROUP BY enumerator_id
) AS r USING (enumerator_id);
