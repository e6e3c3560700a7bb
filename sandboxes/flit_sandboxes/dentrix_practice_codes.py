"""Code tables for the synthetic Dentrix-shaped practice (``dentrix_practice``).

Everything here is a **site-overridable default**: the real Dentrix code lists (appointment status
definitions, ``chartstatus``/``proclogclass`` values, fee schedules) are not public (see
``/work/shared/notes/sources.md`` §1.1). Where public code hints at a value it is noted.

Shapes: every table is a tuple of plain tuples; money is in US dollars with two decimals.
"""

from __future__ import annotations

# --- CDT procedure codes (admin.proccode + admin.feeschedule) -------------------------------------
# (adacode, abbrevdescript, description, fee USD, kind, surfaces)
#   kind: "exam" | "hyg" | "xray" | "tooth" (needs a tooth number) | "mouth" (whole mouth / quadrant)
#   surfaces: number of surfaces (0 = none) a restoration of this code carries
PROC_CODES: tuple[tuple[str, str, str, float, str, int], ...] = (
    ("D0120", "PerEx", "periodic oral evaluation - established patient", 62.00, "exam", 0),
    ("D0150", "CompEx", "comprehensive oral evaluation - new or established patient", 98.00, "exam", 0),
    ("D0140", "LimEx", "limited oral evaluation - problem focused", 79.00, "exam", 0),
    ("D0210", "FMX", "intraoral - complete series of radiographic images", 142.00, "xray", 0),
    ("D0220", "PA", "intraoral - periapical first radiographic image", 31.00, "tooth", 0),
    ("D0274", "4BW", "bitewings - four radiographic images", 68.00, "xray", 0),
    ("D0330", "Pano", "panoramic radiographic image", 118.00, "xray", 0),
    ("D1110", "Pro", "prophylaxis - adult", 105.00, "hyg", 0),
    ("D1120", "ProCh", "prophylaxis - child", 74.00, "hyg", 0),
    ("D1206", "FlVar", "topical application of fluoride varnish", 39.00, "hyg", 0),
    ("D1351", "Seal", "sealant - per tooth", 52.00, "tooth", 0),
    ("D2140", "Am1", "amalgam - one surface, primary or permanent", 139.00, "tooth", 1),
    ("D2150", "Am2", "amalgam - two surfaces, primary or permanent", 172.00, "tooth", 2),
    ("D2330", "Rc1A", "resin-based composite - one surface, anterior", 158.00, "tooth", 1),
    ("D2391", "Rc1P", "resin-based composite - one surface, posterior", 181.00, "tooth", 1),
    ("D2392", "Rc2P", "resin-based composite - two surfaces, posterior", 228.00, "tooth", 2),
    ("D2393", "Rc3P", "resin-based composite - three surfaces, posterior", 281.00, "tooth", 3),
    ("D2740", "CrPor", "crown - porcelain/ceramic", 1185.00, "tooth", 0),
    ("D2750", "CrPFM", "crown - porcelain fused to high noble metal", 1140.00, "tooth", 0),
    ("D2950", "BU", "core buildup, including any pins when required", 262.00, "tooth", 0),
    ("D3310", "RCTAnt", "endodontic therapy, anterior tooth", 812.00, "tooth", 0),
    ("D3330", "RCTMol", "endodontic therapy, molar tooth", 1142.00, "tooth", 0),
    ("D4341", "SRP4", "periodontal scaling and root planing - four or more teeth per quadrant", 245.00, "mouth", 0),
    ("D4910", "PerMn", "periodontal maintenance", 148.00, "hyg", 0),
    ("D7140", "Ext", "extraction, erupted tooth or exposed root", 182.00, "tooth", 0),
    ("D7210", "SurgEx", "extraction, erupted tooth requiring removal of bone", 318.00, "tooth", 0),
    ("D9110", "Palli", "palliative treatment of dental pain - per visit", 96.00, "mouth", 0),
)

# Relative weights of the codes drawn for a restorative (non-hygiene) visit.
RESTORATIVE_WEIGHTS: dict[str, float] = {
    "D0140": 4, "D0220": 6, "D0210": 2, "D0330": 2, "D1351": 3, "D2140": 2, "D2150": 2, "D2330": 4,
    "D2391": 10, "D2392": 8, "D2393": 4, "D2740": 5, "D2750": 2, "D2950": 3, "D3310": 1, "D3330": 2,
    "D4341": 3, "D7140": 4, "D7210": 2, "D9110": 2,
}
# Codes proposed in treatment plans.
PLAN_WEIGHTS: dict[str, float] = {
    "D2391": 8, "D2392": 8, "D2393": 4, "D2740": 8, "D2750": 3, "D2950": 4, "D3330": 3, "D4341": 4,
    "D7140": 3, "D7210": 2,
}

SURFACE_FLAGS = ("surfm", "surfo", "surfd", "surfl", "surff")  # mesial, occlusal, distal, lingual, facial
SURFACE_LETTERS = ("M", "O", "D", "L", "F")

# --- admin.fullproclog code values (site-overridable defaults) -----------------------------------
CHART_COMPLETED = 105  # [POZ] writes a procedure with chartstatus=105
CHART_TREATMENT_PLANNED = 101  # unknown publicly; default
CHART_LEDGER = 90  # [POZ] writes a payment with chartstatus=90; used for payments and adjustments
CLASS_PROCEDURE = 0
CLASS_PATIENT_PAYMENT = 1
CLASS_INSURANCE_PAYMENT = 2
CLASS_ADJUSTMENT = 3

# --- admin.v_appt_status_codes (defid, descript) --------------------------------------------------
# -106 and 150 are the "finished visit" values public code filters on; the rest are defaults.
STATUS_COMPLETE = -106
STATUS_CHECKED_OUT = 150
STATUS_SCHEDULED = 1
STATUS_CONFIRMED = 2
STATUS_BROKEN = -103
STATUS_CANCELLED = -104
APPT_STATUS_CODES: tuple[tuple[int, str], ...] = (
    (STATUS_SCHEDULED, "Scheduled"),
    (STATUS_CONFIRMED, "Confirmed"),
    (STATUS_BROKEN, "Broken / no-show"),
    (STATUS_CANCELLED, "Cancelled"),
    (STATUS_COMPLETE, "Complete"),
    (STATUS_CHECKED_OUT, "Checked out"),
)

# --- admin.v_referral_specialty (defid, description) ----------------------------------------------
SPECIALTIES: tuple[tuple[int, str], ...] = (
    (1, "General Dentistry"), (2, "Orthodontics"), (3, "Periodontics"), (4, "Endodontics"),
    (5, "Oral Surgery"), (6, "Pediatric Dentistry"), (7, "Prosthodontics"), (8, "Dental Hygiene"),
)
HYGIENE_SPECIALTY = 8

# --- admin.hhitem (description, hhtype, critical) -------------------------------------------------
# hhtype per [POZ]: 1 -> problem, 3 -> medication, anything else -> allergy (we use 2).
HH_ITEMS: tuple[tuple[str, int, int], ...] = (
    ("Penicillin allergy", 2, 1), ("Latex allergy", 2, 1), ("Codeine allergy", 2, 0),
    ("Sulfa drug allergy", 2, 0), ("Local anesthetic sensitivity", 2, 1),
    ("Hypertension", 1, 0), ("Type 2 diabetes", 1, 0), ("Artificial heart valve", 1, 1),
    ("Joint replacement (premedicate)", 1, 1), ("Asthma", 1, 0), ("Pregnancy", 1, 0),
    ("Bleeding disorder", 1, 1), ("Warfarin", 3, 1), ("Metformin", 3, 0), ("Lisinopril", 3, 0),
    ("Bisphosphonates", 3, 1), ("Albuterol inhaler", 3, 0),
)

# --- recall types (v_patient_recall.recall_type) ---------------------------------------------------
RECALL_PROPHY = "PROPHY"
RECALL_BWX = "BWX"
RECALL_PERIO = "PERIO"

# --- staff titles, document categories -------------------------------------------------------------
STAFF_TITLES = ("Front Desk", "Dental Assistant", "Office Manager", "Billing Coordinator", "Treatment Coordinator")
DOC_CATEGORIES: tuple[tuple[str, str, int, int], ...] = (
    # (category, extension, min size bytes, max size bytes)
    ("Intraoral Photo", "jpg", 180_000, 2_400_000),
    ("Radiograph", "dcm", 400_000, 6_000_000),
    ("Consent Form", "pdf", 60_000, 600_000),
    ("Insurance Card", "jpg", 90_000, 900_000),
    ("Referral Letter", "pdf", 40_000, 300_000),
    ("Medical History Form", "pdf", 50_000, 400_000),
)

PATIENT_NOTES = (
    "Prefers morning appointments.", "Anxious patient - offer nitrous.", "Call cell phone, not home.",
    "Spanish-speaking; bring interpreter.", "Sensitive to cold on lower left.", "Requests text reminders.",
    "Family has balance payment plan.", "Premedicate before treatment per physician.",
)
CLINICAL_NOTE_TEMPLATES = (
    "Pt presents for {reason}. Medical history reviewed, no changes. Procedures completed as charted.",
    "{reason}: tolerated well. Post-op instructions given. RTC as scheduled.",
    "{reason}. Local anesthetic 2% lidocaine 1:100k epi x1 carpule. No complications.",
    "{reason}. Pt reports mild sensitivity. OHI reviewed; recommended soft brush and fluoride toothpaste.",
)
