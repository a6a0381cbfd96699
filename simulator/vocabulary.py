"""Answer distributions of the simulated families: plausible for rural East Java, not official.

The shares lean on what is publicly known of Jember (agriculture, tobacco and
coffee estates, trade; mostly LPG 3 kg for cooking, PLN electricity almost
everywhere) and on Susenas-style national patterns. They make a realistic-
looking stream, not statistics: every share here is an assumption of the
simulator, chosen so a dashboard looks like fieldwork, never a source.
"""

from __future__ import annotations

from simulator.tables import Table, uniform, weighted

SEX = weighted("MALE:51 FEMALE:49")

MALE_NAMES = uniform(
    "Ahmad Abdul Agus Arif Bambang Budi Dwi Eko Fauzi Hadi Hairul Hasan Imam Joko "
    "Moh. Muhammad Mulyono Rahmat Rudi Samsul Slamet Sugeng Suparman Sutrisno Syaiful "
    "Teguh Wahyu Yusuf Sholeh Hori Sunarto Misnadi Nurhasan Rizky Fajar"
)
FEMALE_NAMES = uniform(
    "Siti Sri Nur Dewi Endang Sulastri Rina Yuli Fitri Aminah Fatimah Khotimah "
    "Marlina Suwarni Wulan Indah Novi Rohmah Musyarofah Hosnia Sutini Lilik Anis Ayu "
    "Nabila"
)
MALE_SECOND = uniform(
    "Hidayat Santoso Wijaya Susanto Saputra Pratama Hariyanto Efendi Anwar Mashuri "
    "Sholihin Ramadhan Setiawan Prasetyo"
)
FEMALE_SECOND = uniform(
    "Hasanah Rahayu Ningsih Wati Lestari Rahmawati Safitri Aisyah Handayani Wulandari "
    "Puspita Maulida"
)

SINGLE_YOUNG_HEAD = weighted("NEVER_MARRIED:60 DIVORCED:40")
SINGLE_OLDER_HEAD = weighted("WIDOWED:60 DIVORCED:25 NEVER_MARRIED:15")
ADULT_CHILD_MARITAL = weighted("NEVER_MARRIED:77 MARRIED:20 DIVORCED:3")
ABSENCE = weighted("DECEASED:50 MOVED_DOMESTIC:35 MOVED_ABROAD:15")

_STILL = "STILL_IN_SCHOOL"
_NO_LONGER = "NO_LONGER_IN_SCHOOL"
_NEVER = "NEVER_ATTENDED"
_ADULT_LEVELS = weighted(
    "SD:35 MI:4 SMP:18 MTS:5 SMA:13 SMK:10 MA:5 D1_D2_D3:2 D4_S1:6 S2:0.5 "
    "PAKET_A:0.5 PAKET_B:0.5 PAKET_C:0.5"
)
_ELDER_LEVELS = weighted("SD:65 MI:5 SMP:14 SMA:10 D4_S1:4 D1_D2_D3:2")
_SD = weighted("SD:80 MI:20")
_SMP = weighted("SMP:75 MTS:25")
_SMA = weighted("SMA:40 SMK:40 MA:20")
_UNI = weighted("D4_S1:80 D1_D2_D3:20")
_LEFT_TEEN = weighted("SMP:70 SD:30")
_LEFT_YOUNG = weighted("SMA:35 SMK:20 MA:5 SMP:25 SD:10 D4_S1:5")

#: (oldest age, participation table, (level if still in school, level if no longer)).
SCHOOLING: tuple[tuple[int, Table[str], tuple[Table[str], Table[str]]], ...] = (
    (5, Table([(_NEVER, 85), (_STILL, 15)]), (_SD, _SD)),
    (6, Table([(_NEVER, 40), (_STILL, 60)]), (_SD, _SD)),
    (12, Table([(_STILL, 97), (_NO_LONGER, 2), (_NEVER, 1)]), (_SD, _SD)),
    (15, Table([(_STILL, 90), (_NO_LONGER, 10)]), (_SMP, _SD)),
    (18, Table([(_STILL, 75), (_NO_LONGER, 25)]), (_SMA, _LEFT_TEEN)),
    (24, Table([(_STILL, 20), (_NO_LONGER, 80)]), (_UNI, _LEFT_YOUNG)),
    (59, Table([(_NO_LONGER, 97), (_NEVER, 3)]), (_ADULT_LEVELS, _ADULT_LEVELS)),
    (200, Table([(_NO_LONGER, 80), (_NEVER, 20)]), (_ELDER_LEVELS, _ELDER_LEVELS)),
)

INDUSTRY = weighted(
    "FOOD_CROPS:28 ESTATE_CROPS:12 HORTICULTURE:5 LIVESTOCK:2 FISHERIES:1 "
    "TRADE_VEHICLE_REPAIR:17 MANUFACTURING:8 CONSTRUCTION:7 TRANSPORT_STORAGE:4 "
    "EDUCATION:4 ACCOMMODATION_FOOD:4 OTHER_SERVICES:4 PUBLIC_ADMINISTRATION:2 "
    "HEALTH_SOCIAL_WORK:1 MINING_QUARRYING:0.5 FINANCE_INSURANCE:0.5"
)
FARMING = frozenset({"FOOD_CROPS", "ESTATE_CROPS", "HORTICULTURE", "LIVESTOCK", "FISHERIES"})
FARM_STATUS = weighted(
    "OWN_ACCOUNT:35 EMPLOYER_TEMPORARY_UNPAID:15 CASUAL_AGRICULTURE:30 "
    "UNPAID_FAMILY_WORKER:17 EMPLOYER_PERMANENT_PAID:3"
)
OTHER_STATUS = weighted(
    "EMPLOYEE:42 OWN_ACCOUNT:28 CASUAL_NON_AGRICULTURE:12 "
    "CIVIL_SERVANT_MILITARY_SOE:7 UNPAID_FAMILY_WORKER:6 "
    "EMPLOYER_TEMPORARY_UNPAID:4 EMPLOYER_PERMANENT_PAID:1"
)

#: Domains of someone under 60 with some difficulty (1 in 20): mostly still none per domain.
DIFFICULTY_SOME = weighted("NO_DIFFICULTY:85 SOME_DIFFICULTY:11 A_LOT_OF_DIFFICULTY:4")
DIFFICULTY_ELDERLY = weighted(
    "NO_DIFFICULTY:70 SOME_DIFFICULTY:24 A_LOT_OF_DIFFICULTY:5 CANNOT_DO_AT_ALL:1"
)
CHRONIC_YOUNGER = weighted("NONE:97 ASTHMA:2 OTHER:1")
CHRONIC_OLDER = weighted(
    "NONE:74 HYPERTENSION:13 DIABETES:4 RHEUMATISM:4 CHOLESTEROL:2 "
    "HEART_DISEASE:1 ASTHMA:1 STROKE:0.5 TUBERCULOSIS:0.3 OTHER:0.2"
)
#: Item 431a for families not covered by PBI JKN: 0 none, 2 JKN Mandiri, 4 employer, 8 other.
INSURANCE = Table([(0, 30), (2, 40), (4, 25), (8, 5)])

#: Member fields after ``presence`` (items 405-431): empty for someone who left the family.
DETAIL_FIELDS = (
    "sex",
    "birth_date",
    "age",
    "marital_status",
    "relationship",
    "school_participation",
    "education_level",
    "worked_last_week",
    "main_industry",
    "employment_status",
    "disability",
    "chronic_illness",
    "health_insurance",
)

NOTES: dict[str, Table[str]] = {
    "INCOMPLETE": Table(
        [
            ("Responden harus berangkat kerja; sebagian rincian belum terisi, kunjungan ulang.", 1),
            ("Wawancara terhenti karena hujan deras; dilanjutkan lain hari.", 1),
        ]
    ),
    "NO_RESPONDENT": Table(
        [
            (
                "Rumah selalu kosong pada tiga kali kunjungan; menurut tetangga keluarga merantau.",
                1,
            ),
            ("Tidak ada anggota keluarga yang dapat memberi jawaban sampai akhir pendataan.", 1),
        ]
    ),
    "REFUSED": Table(
        [
            ("Kepala keluarga menolak diwawancarai.", 1),
            ("Responden menolak karena merasa tidak pernah menerima bantuan.", 1),
        ]
    ),
    "MOVED_OR_BUILDING_GONE": Table(
        [
            ("Keluarga sudah pindah ke kecamatan lain.", 1),
            ("Bangunan sudah dibongkar; keluarga tidak diketahui pindah ke mana.", 1),
        ]
    ),
}
RESULT = weighted(
    "COMPLETE:94.0 INCOMPLETE:2.0 NO_RESPONDENT:1.5 REFUSED:1.0 MOVED_OR_BUILDING_GONE:1.5"
)
STREETS = uniform(
    "Jl._Kenanga Jl._Mawar Jl._Melati Jl._Masjid Jl._Raya Jl._Sawah Jl._Kali "
    "Jl._Pasar Jl._Pondok Jl._Mangga Jl._Kopi Jl._Tembakau Dusun_Krajan Dusun_Karang "
    "Dusun_Tegal Dusun_Sumber"
)
