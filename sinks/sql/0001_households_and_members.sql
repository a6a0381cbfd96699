-- Households and members: one row per household REVISION, the newest revision wins.
--
-- Placeholders (sinks/migrations.py renders them): ${db} the database,
-- ${on_cluster} empty or ON CLUSTER 'name', ${local} empty or _local. Tables
-- written with ${local} are sharded by household_id in cluster mode, with a
-- Distributed table of the plain name in front; on one node they are the
-- tables themselves.
--
-- ORDER BY household_id, not (district_code, household_id): ReplacingMergeTree
-- deduplicates by the sorting key, so a revision that corrects the district
-- would otherwise leave two "current" rows. The id begins with the BPS village
-- code, so this order already keeps a district's households together.
-- No names, no NIK, no street address, no free-text notes: see docs/analytics.md.

CREATE TABLE IF NOT EXISTS ${db}.households${local} ${on_cluster}
(
    household_id String COMMENT 'Stable id of the family (K form) across revisions',
    revision UInt32 COMMENT '1 for the first send, +1 per correction; the newest wins',
    submission_id String COMMENT 'Id of the send that carried this revision',
    code_system LowCardinality(String) COMMENT 'Code system of the form location: BPS or KEMENDAGRI',
    province_code LowCardinality(String) COMMENT 'Region master code of the province',
    regency_code LowCardinality(String) COMMENT 'Region master code of the regency (kabupaten/kota)',
    district_code LowCardinality(String) COMMENT 'Region master code of the district (kecamatan); the form code when the master cannot resolve it',
    village_code String COMMENT 'Region master code of the village (desa); the form code when the master cannot resolve it',
    bps_district_code LowCardinality(String) COMMENT 'BPS 7-digit district code, empty when unknown',
    form_village_code String COMMENT 'Village code as the form carried it, in its own code system',
    province_name LowCardinality(String),
    regency_name LowCardinality(String),
    district_name LowCardinality(String),
    village_name LowCardinality(String),
    urban_rural LowCardinality(Nullable(String)) COMMENT 'URBAN or RURAL from the frame; NULL when unknown',
    sls_code LowCardinality(String) COMMENT 'Item 105, neighbourhood unit (SLS, e.g. an RT)',
    sub_sls_code LowCardinality(String),
    sls_name String COMMENT 'Item 106, e.g. RT 003 RW 001',
    building_number Int32 COMMENT 'Item 109',
    family_number Int32 COMMENT 'Item 110',
    latitude Nullable(Float64) COMMENT 'GPS rounded to 3 decimals (about 100 m): a place, not a door',
    longitude Nullable(Float64) COMMENT 'GPS rounded to 3 decimals (about 100 m)',
    enumerator_id LowCardinality(String) COMMENT 'PPL code',
    supervisor_id LowCardinality(String) COMMENT 'PML code (from the assignment master when known)',
    started_at DateTime64(3, 'UTC'),
    finished_at DateTime64(3, 'UTC'),
    duration_seconds Int32 COMMENT 'finished_at - started_at; negative values are app clock errors',
    result LowCardinality(String) COMMENT 'Item 205: COMPLETE, INCOMPLETE, NO_RESPONDENT, REFUSED, MOVED_OR_BUILDING_GONE',
    member_count Nullable(Int32) COMMENT 'Item 112 as reported',
    members_listed Int32 COMMENT 'Members listed in Blok IV',
    household_size Nullable(Int32) COMMENT 'Members living in the family',
    children_count Nullable(Int32) COMMENT 'Living-in members aged 0-14',
    elderly_count Nullable(Int32) COMMENT 'Living-in members aged 60+',
    disabled_count Nullable(Int32),
    dependency_ratio Nullable(Float64),
    housing_score Nullable(Float64),
    asset_score Nullable(Float64),
    tenure LowCardinality(Nullable(String)) COMMENT 'Item 301a',
    floor_area_m2 Nullable(Int32) COMMENT 'Item 302',
    floor_material LowCardinality(Nullable(String)) COMMENT 'Item 303',
    wall_material LowCardinality(Nullable(String)) COMMENT 'Item 304',
    roof_material LowCardinality(Nullable(String)) COMMENT 'Item 305',
    drinking_water LowCardinality(Nullable(String)) COMMENT 'Item 306a',
    lighting LowCardinality(Nullable(String)) COMMENT 'Item 307a',
    cooking_fuel LowCardinality(Nullable(String)) COMMENT 'Item 308',
    toilet LowCardinality(Nullable(String)) COMMENT 'Item 309a',
    faeces_disposal LowCardinality(Nullable(String)) COMMENT 'Item 310',
    assets_owned Array(LowCardinality(String)) COMMENT 'Items 502-503 answered yes, e.g. refrigerator, motorcycle, land',
    cows Nullable(Int32) COMMENT 'Item 504a',
    buffaloes Nullable(Int32),
    horses Nullable(Int32),
    pigs Nullable(Int32),
    goats_sheep Nullable(Int32),
    bpnt_sembako Nullable(Bool) COMMENT 'Item 501a; NULL when the block was not reached',
    pkh Nullable(Bool) COMMENT 'Item 501b',
    blt_dana_desa Nullable(Bool) COMMENT 'Item 501c',
    electricity_subsidy Nullable(Bool) COMMENT 'Item 501d',
    regional_aid Nullable(Bool) COMMENT 'Item 501e',
    fertiliser_subsidy Nullable(Bool) COMMENT 'Item 501f',
    lpg_subsidy Nullable(Bool) COMMENT 'Item 501g',
    pbi_jkn Nullable(Bool) COMMENT 'At least one member with government-paid health insurance',
    warning_codes Array(LowCardinality(String)) COMMENT 'Codes of the validation warnings',
    app_version LowCardinality(String),
    processed_at Nullable(DateTime64(3, 'UTC')) COMMENT 'When the processor validated it',
    written_at DateTime64(3, 'UTC') COMMENT 'When the sink wrote this row',
    ingest_lag_ms Nullable(Int64) COMMENT 'finished_at to processed_at, milliseconds',
    INDEX by_district district_code TYPE set(0) GRANULARITY 4
)
ENGINE = ReplacingMergeTree(revision)
ORDER BY household_id
SETTINGS non_replicated_deduplication_window = 10000;

-- Members: one row per member per household revision. A newer revision with
-- fewer members leaves the old extra rows in place; read members_current.
CREATE TABLE IF NOT EXISTS ${db}.members${local} ${on_cluster}
(
    household_id String,
    revision UInt32,
    member_number Int32 COMMENT 'Item 401',
    district_code LowCardinality(String) COMMENT 'Copied from the household, to filter without a join',
    village_code String,
    presence LowCardinality(String) COMMENT 'Item 404',
    sex LowCardinality(Nullable(String)) COMMENT 'Item 405',
    age Nullable(Int32) COMMENT 'Item 407, completed years',
    birth_year Nullable(Int32) COMMENT 'Item 406 year; the full birth date is not kept',
    birth_month Nullable(Int32) COMMENT 'Item 406 month, for age in months of young children',
    marital_status LowCardinality(Nullable(String)) COMMENT 'Item 408',
    relationship LowCardinality(Nullable(String)) COMMENT 'Item 409',
    school_participation LowCardinality(Nullable(String)) COMMENT 'Item 412',
    education_level LowCardinality(Nullable(String)) COMMENT 'Item 413',
    worked_last_week Nullable(Bool) COMMENT 'Item 416a',
    main_industry LowCardinality(Nullable(String)) COMMENT 'Item 417',
    employment_status LowCardinality(Nullable(String)) COMMENT 'Item 418',
    difficulty_domains Array(LowCardinality(String)) COMMENT 'Items 428a-i answered CANNOT_DO_AT_ALL or A_LOT_OF_DIFFICULTY',
    disabled Bool COMMENT 'At least one domain above (Washington Group cut-off)',
    chronic_illness LowCardinality(Nullable(String)) COMMENT 'Item 430',
    health_insurance Nullable(Int32) COMMENT 'Item 431a, sum of codes',
    nik_hash Nullable(String) COMMENT 'HMAC-SHA256 of the NIK under the operation key (hex); NULL without NIK',
    written_at DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(revision)
ORDER BY (household_id, member_number)
SETTINGS non_replicated_deduplication_window = 10000;
