"""Form codes and Indonesian labels of the answers the rule messages quote.

Supervisors read "Rincian 205 = 4. Responden menolak", not ``REFUSED``. The
labels are copied from the enum docs of ``HouseholdSubmission.avsc`` (the data
dictionary) so that validating a record reads no file; a unit test keeps the
copies equal to the schema.
"""

from __future__ import annotations

from collections.abc import Mapping

LABELS: Mapping[str, Mapping[str, str]] = {
    "InterviewResult": {
        "COMPLETE": "1. Terisi lengkap",
        "INCOMPLETE": "2. Terisi tidak lengkap",
        "NO_RESPONDENT": (
            "3. Tidak ada responden yang dapat memberi jawaban sampai akhir masa pendataan"
        ),
        "REFUSED": "4. Responden menolak",
        "MOVED_OR_BUILDING_GONE": "5. Keluarga pindah/bangunan sensus sudah tidak ada",
    },
    "MemberPresence": {
        "LIVES_WITH_FAMILY": "1. Tinggal bersama keluarga",
        "DECEASED": "2. Meninggal",
        "MOVED_DOMESTIC": "3. Tidak tinggal bersama keluarga/pindah ke wilayah lain di Indonesia",
        "MOVED_ABROAD": "4. Tidak tinggal bersama keluarga/pindah ke luar negeri",
        "NEW_MEMBER": "5. Anggota Keluarga baru",
        "NOT_FOUND": "6. Tidak ditemukan",
    },
    "MaritalStatus": {
        "NEVER_MARRIED": "1. Belum kawin",
        "MARRIED": "2. Kawin/nikah",
        "DIVORCED": "3. Cerai hidup",
        "WIDOWED": "4. Cerai mati",
    },
    "Sex": {"MALE": "1. Laki-laki", "FEMALE": "2. Perempuan"},
    "CookingFuel": {
        "NO_COOKING_AT_HOME": "00. Tidak memasak di rumah",
        "ELECTRICITY": "01. Listrik",
        "LPG_5_5_KG": "02. Gas elpiji 5,5 kg/Blue gaz",
        "LPG_12_KG": "03. Gas elpiji 12 kg",
        "LPG_3_KG": "04. Gas elpiji 3 kg",
        "CITY_GAS": "05. Gas kota/meteran PGN",
        "BIOGAS": "06. Biogas",
        "KEROSENE": "07. Minyak tanah",
        "BRIQUETTE": "08. Briket",
        "CHARCOAL": "09. Arang",
        "FIREWOOD": "10. Kayu bakar",
        "OTHER": "11. Lainnya",
    },
    "SchoolParticipation": {
        "NEVER_ATTENDED": "1. Tidak/belum pernah sekolah",
        "STILL_IN_SCHOOL": "2. Masih sekolah",
        "NO_LONGER_IN_SCHOOL": "3. Tidak bersekolah lagi",
    },
}


def yes_no(value: object) -> str:
    """A Regsosek yes/no item as the form codes it: ``1. Ya`` / ``2. Tidak``."""
    return "1. Ya" if value else "2. Tidak"


def label(enum_name: str, symbol: object) -> str:
    """``"4. Responden menolak"`` for ``("InterviewResult", "REFUSED")``; the symbol if unknown."""
    return LABELS.get(enum_name, {}).get(str(symbol), str(symbol))
