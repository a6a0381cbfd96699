-- Reference data loaded from the region master and the enumeration frame at
-- worker start (sinks.rows.reference_blocks). Small, so in cluster mode each
-- is one replicated table on every node rather than a sharded one. The
-- latest load wins (ReplacingMergeTree without version keeps the last row
-- inserted); read them with FINAL.

CREATE TABLE IF NOT EXISTS ${db}.regions ${on_cluster}
(
    level LowCardinality(String) COMMENT 'province, regency, district or village',
    code String COMMENT 'Region master code (Kemendagri with the shipped master)',
    parent_code String,
    name String,
    bps_code String COMMENT 'BPS code of the same area, empty when unknown',
    urban_rural LowCardinality(String) COMMENT 'urban, rural or empty',
    district_code String COMMENT 'The district containing it (itself for a district), empty above',
    regency_code String
)
ENGINE = ReplacingMergeTree
ORDER BY code
SETTINGS non_replicated_deduplication_window = 10000;

CREATE TABLE IF NOT EXISTS ${db}.enumerators ${on_cluster}
(
    enumerator_id String COMMENT 'PPL code',
    supervisor_id LowCardinality(String) COMMENT 'PML code',
    regency_code LowCardinality(String),
    district_codes Array(String) COMMENT 'Districts of the assigned SLS units',
    village_codes Array(String) COMMENT 'Villages of the assigned SLS units',
    sls_units Int32 COMMENT 'Assigned SLS units',
    expected_households Int64 COMMENT 'Sum of the targets of the assigned SLS units'
)
ENGINE = ReplacingMergeTree
ORDER BY enumerator_id
SETTINGS non_replicated_deduplication_window = 10000;

CREATE TABLE IF NOT EXISTS ${db}.targets ${on_cluster}
(
    village_code String,
    sls_code String,
    district_code LowCardinality(String),
    expected_households Int64 COMMENT 'Households (families) expected in the SLS unit'
)
ENGINE = ReplacingMergeTree
ORDER BY (village_code, sls_code)
SETTINGS non_replicated_deduplication_window = 10000;
