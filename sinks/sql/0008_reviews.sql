-- Supervisor review decisions and each interview's review status (issue 15.2).
--
-- The worker inserts every review it accepted into `reviews` (the supervisor's
-- comment included: free text about a family, so analysts get no access, as
-- with rejection_payloads). A materialized view copies everything but the
-- comment into `review_decisions`, which analysts read. Both are keyed by
-- review_id within the household, so a resent decision (same review_id) and a
-- replayed batch (same insert token, derived from the Kafka offsets) stay one row.

CREATE TABLE IF NOT EXISTS ${db}.reviews${local} ${on_cluster}
(
    review_id String COMMENT 'UUID of the decision, made by the supervisor''s app',
    household_id String,
    submission_id String COMMENT 'The reviewed submission',
    revision UInt32 COMMENT 'The reviewed revision (the latest accepted one when it was judged)',
    enumerator_id LowCardinality(String) COMMENT 'PPL whose interview it is',
    supervisor_id LowCardinality(String) COMMENT 'PML who decided',
    decision LowCardinality(String) COMMENT 'APPROVED, RETURNED or REJECTED_FINAL',
    comment Nullable(String) COMMENT 'Free text for the enumerator; may name family members',
    decided_at DateTime64(3, 'UTC') COMMENT 'Device clock of the supervisor',
    source_topic LowCardinality(String),
    source_partition Int32,
    source_offset Int64,
    received_at DateTime64(3, 'UTC') COMMENT 'Kafka record timestamp',
    written_at DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree
ORDER BY (household_id, review_id)
SETTINGS non_replicated_deduplication_window = 10000;

CREATE TABLE IF NOT EXISTS ${db}.review_decisions${local} ${on_cluster}
(
    review_id String,
    household_id String,
    submission_id String,
    revision UInt32,
    enumerator_id LowCardinality(String),
    supervisor_id LowCardinality(String),
    decision LowCardinality(String) COMMENT 'APPROVED, RETURNED or REJECTED_FINAL',
    has_comment Bool,
    decided_at DateTime64(3, 'UTC'),
    received_at DateTime64(3, 'UTC'),
    written_at DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree
ORDER BY (household_id, review_id)
SETTINGS non_replicated_deduplication_window = 10000;

CREATE MATERIALIZED VIEW IF NOT EXISTS ${db}.review_decisions_mv ${on_cluster}
TO ${db}.review_decisions${local}
AS SELECT
    review_id, household_id, submission_id, revision, enumerator_id, supervisor_id,
    decision, notEmpty(trimBoth(ifNull(comment, ''))) AS has_comment, decided_at,
    received_at, written_at
FROM ${db}.reviews${local};

-- Each accepted household's review status (docs/analytics.md, "Review lifecycle"):
--   AWAITING_REVIEW  the latest accepted revision has no decision yet (a new
--                    interview, or one revised after it was returned or approved;
--                    `revised` = 1 then);
--   APPROVED / RETURNED  the latest decision on the latest accepted revision
--                    (latest by decided_at, then review_id);
--   REJECTED_FINAL   some revision was rejected for good: terminal, whatever follows.
-- Derived from households FINAL and every decision, never from arrival order:
-- a decision arriving before or after a revision gives the same status.
CREATE OR REPLACE VIEW ${db}.interview_status ${on_cluster} AS
SELECT
    h.household_id AS household_id,
    h.revision AS revision,
    h.district_code AS district_code,
    h.village_code AS village_code,
    h.enumerator_id AS enumerator_id,
    h.supervisor_id AS supervisor_id,
    h.result AS result,
    multiIf(
        a.final_decisions > 0, 'REJECTED_FINAL',
        c.decision = 'APPROVED', 'APPROVED',
        c.decision = 'RETURNED', 'RETURNED',
        'AWAITING_REVIEW'
    ) AS status,
    toUInt8(a.final_decisions = 0 AND c.decision = '' AND a.reviewed_revisions > 0) AS revised,
    a.decisions AS decisions,
    if(a.decisions = 0, NULL, a.last_decided_at) AS last_decided_at
FROM
(
    SELECT household_id, revision, district_code, village_code, enumerator_id, supervisor_id, result
    FROM ${db}.households FINAL
) AS h
LEFT JOIN
(
    SELECT
        household_id,
        revision,
        argMax(decision, (decided_at, review_id)) AS decision
    FROM ${db}.review_decisions FINAL
    GROUP BY household_id, revision
) AS c ON c.household_id = h.household_id AND c.revision = h.revision
LEFT JOIN
(
    SELECT
        household_id,
        countIf(decision = 'REJECTED_FINAL') AS final_decisions,
        uniqExact(revision) AS reviewed_revisions,
        count() AS decisions,
        max(decided_at) AS last_decided_at
    FROM ${db}.review_decisions FINAL
    GROUP BY household_id
) AS a ON a.household_id = h.household_id;

-- Review progress beside enumeration, per district, per team (supervisor) and
-- per enumerator: accepted households, those whose latest revision is COMPLETE
-- (enumerated), and how many are in each review status.
CREATE OR REPLACE VIEW ${db}.review_progress_by_district ${on_cluster} AS
SELECT
    district_code,
    count() AS households,
    countIf(result = 'COMPLETE') AS enumerated,
    countIf(status = 'AWAITING_REVIEW') AS awaiting_review,
    countIf(status = 'APPROVED') AS approved,
    countIf(status = 'RETURNED') AS returned,
    countIf(status = 'REJECTED_FINAL') AS rejected_final,
    countIf(revised = 1) AS revised_awaiting_review
FROM ${db}.interview_status
GROUP BY district_code;

CREATE OR REPLACE VIEW ${db}.review_progress_by_team ${on_cluster} AS
SELECT
    supervisor_id,
    uniqExact(enumerator_id) AS enumerators,
    count() AS households,
    countIf(result = 'COMPLETE') AS enumerated,
    countIf(status = 'AWAITING_REVIEW') AS awaiting_review,
    countIf(status = 'APPROVED') AS approved,
    countIf(status = 'RETURNED') AS returned,
    countIf(status = 'REJECTED_FINAL') AS rejected_final,
    countIf(revised = 1) AS revised_awaiting_review
FROM ${db}.interview_status
GROUP BY supervisor_id;

CREATE OR REPLACE VIEW ${db}.review_progress_by_enumerator ${on_cluster} AS
SELECT
    enumerator_id,
    anyLast(supervisor_id) AS supervisor_id,
    count() AS households,
    countIf(result = 'COMPLETE') AS enumerated,
    countIf(status = 'AWAITING_REVIEW') AS awaiting_review,
    countIf(status = 'APPROVED') AS approved,
    countIf(status = 'RETURNED') AS returned,
    countIf(status = 'REJECTED_FINAL') AS rejected_final,
    countIf(revised = 1) AS revised_awaiting_review
FROM ${db}.interview_status
GROUP BY enumerator_id;
