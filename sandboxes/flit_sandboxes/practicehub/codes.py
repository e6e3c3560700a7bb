"""Code tables and vocabularies of the PracticeHub demo practice (all UNCONFIRMED for PracticeHub).

notes/sources.md §3 confirms no field or enum of PracticeHub; the values below are the sandbox's
choices, picked to look like a US outpatient physiotherapy / chiropractic practice:

* diagnoses: ICD-10-CM codes (musculoskeletal) with their official short descriptions;
* procedures: CPT codes of physical medicine (evaluations, timed therapeutic codes, chiropractic
  manipulation) with a synthetic fee in cents per unit;
* carriers are fictional names (no real payer is implied).
"""

from __future__ import annotations

# ICD-10-CM primary conditions (a patient keeps one across visits).
ICD_PRIMARY: tuple[tuple[str, str], ...] = (
    ("M54.50", "Low back pain, unspecified"),
    ("M54.2", "Cervicalgia"),
    ("M25.511", "Pain in right shoulder"),
    ("M25.512", "Pain in left shoulder"),
    ("M25.561", "Pain in right knee"),
    ("M25.562", "Pain in left knee"),
    ("M54.16", "Radiculopathy, lumbar region"),
    ("M76.61", "Achilles tendinitis, right leg"),
    ("M77.11", "Lateral epicondylitis, right elbow"),
    ("S93.401A", "Sprain of unspecified ligament of right ankle, initial encounter"),
    ("M72.2", "Plantar fascial fibromatosis"),
    ("M17.11", "Unilateral primary osteoarthritis, right knee"),
    ("G56.01", "Carpal tunnel syndrome, right upper limb"),
    ("M75.41", "Impingement syndrome of right shoulder"),
)
# ICD-10-CM secondary findings (30 % of notes carry one).
ICD_SECONDARY: tuple[tuple[str, str], ...] = (
    ("M62.81", "Muscle weakness (generalized)"),
    ("R26.89", "Other abnormalities of gait and mobility"),
    ("R29.3", "Abnormal posture"),
    ("M62.830", "Muscle spasm of back"),
    ("Z96.651", "Presence of right artificial knee joint"),
)

# CPT evaluation codes: the first procedure of an initial assessment.
CPT_EVALUATION: tuple[tuple[str, str, int], ...] = (
    ("97161", "PT evaluation, low complexity", 11500),
    ("97162", "PT evaluation, moderate complexity", 13500),
    ("97163", "PT evaluation, high complexity", 15500),
)
# CPT treatment codes (11, a prime: ``(base + k * step) % 11`` gives 3 distinct codes per note).
CPT_TREATMENT: tuple[tuple[str, str, int], ...] = (
    ("97110", "Therapeutic exercises", 3850),
    ("97140", "Manual therapy techniques", 3625),
    ("97112", "Neuromuscular reeducation", 3975),
    ("97530", "Therapeutic activities", 4150),
    ("97035", "Ultrasound therapy", 1550),
    ("97014", "Electrical stimulation, unattended", 1400),
    ("97010", "Hot or cold packs therapy", 850),
    ("97124", "Massage therapy", 3300),
    ("98940", "Chiropractic manipulative treatment, 1-2 regions", 4500),
    ("98941", "Chiropractic manipulative treatment, 3-4 regions", 5800),
    ("97164", "PT re-evaluation", 8000),
)
TIMED_CPT = frozenset({"97110", "97140", "97112", "97530", "97035", "97124"})  # billed in 15-minute units

APPOINTMENT_TYPES: tuple[tuple[str, int], ...] = (  # name, minutes
    ("Initial Assessment", 60),
    ("Follow-up", 30),
    ("Treatment Session", 45),
    ("Re-assessment", 45),
    ("Telehealth Consultation", 30),
)
APPOINTMENT_STATUSES = ("booked", "confirmed", "arrived", "completed", "cancelled", "no_show")
CANCELLATION_REASONS = ("Patient request", "Illness", "Scheduling conflict", "Practitioner unavailable", "Weather")

PROFESSIONS = ("Physical Therapist", "Chiropractor", "Occupational Therapist", "Massage Therapist",
               "Sports Medicine Physician")
REFERRAL_SOURCES = ("Google", "Physician referral", "Friend or family", "Insurance directory", "Walk-in")

CARRIERS: tuple[tuple[str, str], ...] = (  # fictional carrier, member-ID prefix
    ("Northwind Health", "NWH"),
    ("Contoso Health Plans", "CHP"),
    ("Fabrikam Insurance", "FAB"),
    ("Lakeshore Mutual", "LKM"),
    ("Bluebird Health", "BBH"),
    ("Tailspin Benefits", "TSB"),
)
COVERAGE_TYPES = ("PPO", "HMO", "EPO", "POS", "Medicare", "Medicaid", "Workers Compensation", "Auto (PIP)")
NO_GROUP_COVERAGE = frozenset({"Medicare", "Medicaid"})  # no employer group number

INVOICE_STATUSES = ("paid", "pending", "overdue", "cancelled")
PAYMENT_METHODS = ("card", "insurance", "cash", "check", "bank_transfer")
NO_SHOW_FEE_CENTS = 5000

# document_type, title, version, months valid after signing (0: no expiry), share of patients.
POLICY_DOCUMENTS: tuple[tuple[str, str, str, int, float], ...] = (
    ("privacy_notice", "Notice of Privacy Practices acknowledgment", "2024.1", 0, 1.0),
    ("consent_to_treat", "Consent to evaluation and treatment", "2023.2", 0, 1.0),
    ("financial_policy", "Financial responsibility policy", "2024.1", 12, 0.7),
    ("cancellation_policy", "Cancellation and no-show policy", "2023.1", 0, 0.6),
    ("telehealth_consent", "Telehealth informed consent", "2022.3", 12, 0.25),
    ("assignment_of_benefits", "Assignment of benefits", "2024.2", 12, 0.8),  # insured patients only
)

# owner_type -> (category, file extension, content type)
ATTACHMENT_KINDS: dict[str, tuple[tuple[str, str, str], ...]] = {
    "patient": (("Intake form", "pdf", "application/pdf"), ("Referral letter", "pdf", "application/pdf"),
                ("Insurance card", "jpg", "image/jpeg"), ("Photo ID", "jpg", "image/jpeg")),
    "treatment_note": (("Imaging report", "pdf", "application/pdf"),
                       ("Home exercise program", "pdf", "application/pdf"),
                       ("Progress report", "pdf", "application/pdf")),
    "invoice": (("Receipt", "pdf", "application/pdf"), ("Explanation of benefits", "pdf", "application/pdf")),
}

NOTE_SUBJECTIVE = (
    "Patient reports pain improved since last visit.",
    "Patient reports stiffness in the morning, easing with movement.",
    "Patient reports pain unchanged; sleep disturbed.",
    "Patient reports completing the home exercise program daily.",
    "Patient reports a flare-up after increased activity.",
)
NOTE_OBJECTIVE = (
    "Range of motion improved by about 10 degrees.",
    "Strength 4/5 in the affected region.",
    "Tenderness on palpation, reduced from last visit.",
    "Gait within normal limits; balance fair.",
    "Swelling minimal; special tests negative.",
)
NOTE_PLAN = (
    "Continue current plan of care; progress exercises.",
    "Reassess in two weeks.",
    "Add manual therapy; review home program.",
    "Reduce visit frequency to once weekly.",
    "Discharge planning discussed.",
)
