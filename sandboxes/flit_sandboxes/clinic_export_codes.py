"""Static value tables for the synthetic clinic export (``clinic_export.py``).

Everything here is small, constant and hand-written, so the generator stays readable and the value
vocabulary is reviewable in one place. Codes, descriptions and base costs are copied from the bundled
Synthea sample (``flit_pipelines/sample_data/synthea_csv_sample``): SNOMED CT for encounters,
procedures, reasons and care plans, LOINC for observations, RxNorm for medications, DICOM for imaging.
They are public terminology codes, not patient data. Money is in integer **cents**.

No value in any table may contain a comma, a double quote or a line break: the Synthea files are
written without quoting (see ``clinic_export._TableWriter``), exactly like Synthea's own output.
Synthea itself replaces commas in descriptions with two spaces, and so do these tables.
"""

from __future__ import annotations

# --- Synthea headers (column order as in the bundled sample, Synthea 3.2.2-SNAPSHOT) ---------------

SYNTHEA_HEADERS: dict[str, tuple[str, ...]] = {
    "patients.csv": (
        "Id", "BIRTHDATE", "DEATHDATE", "SSN", "DRIVERS", "PASSPORT", "PREFIX", "FIRST", "LAST",
        "SUFFIX", "MAIDEN", "MARITAL", "RACE", "ETHNICITY", "GENDER", "BIRTHPLACE", "ADDRESS", "CITY",
        "STATE", "COUNTY", "FIPS", "ZIP", "LAT", "LON", "HEALTHCARE_EXPENSES", "HEALTHCARE_COVERAGE",
        "INCOME",
    ),
    "organizations.csv": (
        "Id", "NAME", "ADDRESS", "CITY", "STATE", "ZIP", "LAT", "LON", "PHONE", "REVENUE", "UTILIZATION",
    ),
    "providers.csv": (
        "Id", "ORGANIZATION", "NAME", "GENDER", "SPECIALITY", "ADDRESS", "CITY", "STATE", "ZIP", "LAT",
        "LON", "ENCOUNTERS", "PROCEDURES",
    ),
    "payers.csv": (
        "Id", "NAME", "OWNERSHIP", "ADDRESS", "CITY", "STATE_HEADQUARTERED", "ZIP", "PHONE",
        "AMOUNT_COVERED", "AMOUNT_UNCOVERED", "REVENUE", "COVERED_ENCOUNTERS", "UNCOVERED_ENCOUNTERS",
        "COVERED_MEDICATIONS", "UNCOVERED_MEDICATIONS", "COVERED_PROCEDURES", "UNCOVERED_PROCEDURES",
        "COVERED_IMMUNIZATIONS", "UNCOVERED_IMMUNIZATIONS", "UNIQUE_CUSTOMERS", "QOLS_AVG",
        "MEMBER_MONTHS",
    ),
    "payer_transitions.csv": (
        "PATIENT", "MEMBERID", "START_DATE", "END_DATE", "PAYER", "SECONDARY_PAYER", "PLAN_OWNERSHIP",
        "OWNER_NAME",
    ),
    "encounters.csv": (
        "Id", "START", "STOP", "PATIENT", "ORGANIZATION", "PROVIDER", "PAYER", "ENCOUNTERCLASS", "CODE",
        "DESCRIPTION", "BASE_ENCOUNTER_COST", "TOTAL_CLAIM_COST", "PAYER_COVERAGE", "REASONCODE",
        "REASONDESCRIPTION",
    ),
    "careplans.csv": (
        "Id", "START", "STOP", "PATIENT", "ENCOUNTER", "CODE", "DESCRIPTION", "REASONCODE",
        "REASONDESCRIPTION",
    ),
    "claims.csv": (
        "Id", "PATIENTID", "PROVIDERID", "PRIMARYPATIENTINSURANCEID", "SECONDARYPATIENTINSURANCEID",
        "DEPARTMENTID", "PATIENTDEPARTMENTID", "DIAGNOSIS1", "DIAGNOSIS2", "DIAGNOSIS3", "DIAGNOSIS4",
        "DIAGNOSIS5", "DIAGNOSIS6", "DIAGNOSIS7", "DIAGNOSIS8", "REFERRINGPROVIDERID", "APPOINTMENTID",
        "CURRENTILLNESSDATE", "SERVICEDATE", "SUPERVISINGPROVIDERID", "STATUS1", "STATUS2", "STATUSP",
        "OUTSTANDING1", "OUTSTANDING2", "OUTSTANDINGP", "LASTBILLEDDATE1", "LASTBILLEDDATE2",
        "LASTBILLEDDATEP", "HEALTHCARECLAIMTYPEID1", "HEALTHCARECLAIMTYPEID2",
    ),
    "claims_transactions.csv": (
        "ID", "CLAIMID", "CHARGEID", "PATIENTID", "TYPE", "AMOUNT", "METHOD", "FROMDATE", "TODATE",
        "PLACEOFSERVICE", "PROCEDURECODE", "MODIFIER1", "MODIFIER2", "DIAGNOSISREF1", "DIAGNOSISREF2",
        "DIAGNOSISREF3", "DIAGNOSISREF4", "UNITS", "DEPARTMENTID", "NOTES", "UNITAMOUNT",
        "TRANSFEROUTID", "TRANSFERTYPE", "PAYMENTS", "ADJUSTMENTS", "TRANSFERS", "OUTSTANDING",
        "APPOINTMENTID", "LINENOTE", "PATIENTINSURANCEID", "FEESCHEDULEID", "PROVIDERID",
        "SUPERVISINGPROVIDERID",
    ),
    "medications.csv": (
        "START", "STOP", "PATIENT", "PAYER", "ENCOUNTER", "CODE", "DESCRIPTION", "BASE_COST",
        "PAYER_COVERAGE", "DISPENSES", "TOTALCOST", "REASONCODE", "REASONDESCRIPTION",
    ),
    "observations.csv": (
        "DATE", "PATIENT", "ENCOUNTER", "CATEGORY", "CODE", "DESCRIPTION", "VALUE", "UNITS", "TYPE",
    ),
    "imaging_studies.csv": (
        "Id", "DATE", "PATIENT", "ENCOUNTER", "SERIES_UID", "BODYSITE_CODE", "BODYSITE_DESCRIPTION",
        "MODALITY_CODE", "MODALITY_DESCRIPTION", "INSTANCE_UID", "SOP_CODE", "SOP_DESCRIPTION",
        "PROCEDURE_CODE",
    ),
}

# --- the project's additions beyond Synthea ("with_extras") ----------------------------------------

#: Trailing columns appended to a Synthea file's header when extras are on.
EXTRA_COLUMNS: dict[str, tuple[str, ...]] = {
    "patients.csv": ("EMAIL",),
    "encounters.csv": ("STATUS", "CANCELLATION_REASON"),
}

#: Whole files that only exist when extras are on.
EXTRA_HEADERS: dict[str, tuple[str, ...]] = {
    "notes.csv": ("Id", "PATIENT", "ENCOUNTER", "DATE", "AUTHOR", "NOTE_TYPE", "TEXT"),
    "documents.csv": ("Id", "PATIENT", "DATE", "TITLE", "FILE_PATH", "MIME_TYPE", "SIZE_BYTES"),
    "relationships.csv": ("Id", "PATIENT", "RELATED_PATIENT", "RELATIONSHIP", "IS_GUARANTOR"),
    "provider_directory.csv": ("PROVIDER", "EMAIL"),
}

ENCOUNTER_STATUSES = ("completed", "cancelled", "no-show")
ENCOUNTER_STATUS_P = (0.90, 0.07, 0.03)
CANCELLATION_REASONS = (
    "Patient request",
    "Provider unavailable",
    "Scheduling conflict",
    "Patient ill",
    "Weather closure",
)

# --- organisations / places (values are synthetic; county names and FIPS are public constants) -----

STATE = "Massachusetts"
STATE_ABBR = "MA"
#: (county, FIPS) pairs of Massachusetts, as Synthea writes them.
COUNTIES = (
    ("Norfolk County", "25021"),
    ("Essex County", "25009"),
    ("Suffolk County", "25025"),
    ("Middlesex County", "25017"),
    ("Worcester County", "25027"),
    ("Plymouth County", "25023"),
    ("Bristol County", "25005"),
    ("Hampden County", "25013"),
)
ORG_KINDS = ("Family Clinic", "Health Center", "Medical Group", "Community Practice", "Care Associates")
#: Domain of the practice's staff e-mail addresses (provider_directory.csv). ``.example`` is reserved.
CLINIC_DOMAIN = "synthclinic.example"
#: Domain of patients' own e-mail addresses.
PATIENT_MAIL_DOMAIN = "mail.example"

SPECIALITIES = ("GENERAL PRACTICE", "INTERNAL MEDICINE", "PEDIATRICS", "FAMILY MEDICINE")
SPECIALITY_P = (0.70, 0.12, 0.10, 0.08)

RACES = ("white", "black", "asian", "hispanic", "native", "other")
RACE_P = (0.70, 0.10, 0.08, 0.07, 0.02, 0.03)

# --- payers ----------------------------------------------------------------------------------------

#: (NAME, OWNERSHIP). Government programmes keep their generic names; private payers are invented.
PAYERS = (
    ("Medicare", "GOVERNMENT"),
    ("Medicaid", "GOVERNMENT"),
    ("Dual Eligible", "GOVERNMENT"),
    ("Example Health Mutual", "PRIVATE"),
    ("Sample Shield Insurance", "PRIVATE"),
    ("Demo Care Partners", "PRIVATE"),
    ("Placeholder Benefits Co", "PRIVATE"),
    ("Synthetic Life and Health", "PRIVATE"),
    ("Testcase Health Plan", "PRIVATE"),
    ("NO_INSURANCE", "NO_INSURANCE"),
)
PAYER_MEDICARE, PAYER_MEDICAID, PAYER_DUAL, PAYER_NONE = 0, 1, 2, 9
PAYER_PRIVATE = (3, 4, 5, 6, 7, 8)

# --- encounters ------------------------------------------------------------------------------------

ENCOUNTER_CLASSES = ("ambulatory", "wellness", "outpatient", "emergency", "urgentcare", "inpatient")
#: Per class: (min, max) duration in minutes; HEALTHCARECLAIMTYPEID (1 professional, 2 institutional).
CLASS_DURATION_MIN = ((15, 30), (30, 30), (30, 60), (60, 240), (30, 60), (1440, 7200))
CLASS_CLAIM_TYPE = (1, 1, 1, 2, 1, 2)

#: (class index, SNOMED code, description, base cost cents, weight, P(has a reason)).
ENCOUNTER_CODES = (
    (0, "185345009", "Encounter for symptom", 8555, 0.16, 0.95),
    (0, "185347001", "Encounter for problem (procedure)", 8555, 0.14, 0.95),
    (0, "185349003", "Encounter for check up", 8555, 0.05, 0.20),
    (0, "394701000", "Asthma follow-up", 14258, 0.04, 1.00),
    (0, "698314001", "Consultation for treatment", 14258, 0.06, 0.80),
    (1, "162673000", "General examination of patient (procedure)", 13680, 0.28, 0.0),
    (2, "308335008", "Patient encounter procedure", 14258, 0.06, 0.60),
    (2, "33879002", "Administration of vaccine to produce active immunity (procedure)", 14258, 0.05, 0.0),
    (2, "371883000", "Outpatient procedure", 14258, 0.04, 0.90),
    (3, "50849002", "Emergency room admission (procedure)", 14618, 0.05, 1.00),
    (4, "702927004", "Urgent care clinic (environment)", 14258, 0.04, 1.00),
    (5, "305408004", "Admission to surgical department", 14618, 0.03, 1.00),
)
#: Minors' wellness visits use this code instead of the general examination.
WELL_CHILD = ("410620009", "Well child visit (procedure)")

#: (SNOMED code, description) used as encounter REASONCODE and claim DIAGNOSIS1.
REASONS = (
    ("195662009", "Acute viral pharyngitis (disorder)"),
    ("444814009", "Viral sinusitis (disorder)"),
    ("10509002", "Acute bronchitis (disorder)"),
    ("65363002", "Otitis media"),
    ("43878008", "Streptococcal sore throat (disorder)"),
    ("195967001", "Asthma"),
    ("44465007", "Sprain of ankle"),
    ("125605004", "Fracture of bone (disorder)"),
    ("82423001", "Chronic pain (finding)"),
    ("15777000", "Prediabetes"),
    ("59621000", "Essential hypertension (disorder)"),
    ("419199007", "Allergy to substance (finding)"),
)

#: Extra claim lines: (SNOMED code, description, cost cents).
PROCEDURES = (
    ("710824005", "Assessment of health and social care needs (procedure)", 43140),
    ("171207006", "Depression screening (procedure)", 43140),
    ("430193006", "Medication Reconciliation (procedure)", 54371),
    ("715252007", "Depression screening using Patient Health Questionnaire Nine Item score (procedure)", 3171),
    ("9564003", "Complete blood count with white cell differential  automated (procedure)", 43140),
    ("5880005", "Physical examination procedure (procedure)", 43140),
    ("67879005", "History and physical examination  limited (procedure)", 43140),
    ("399208008", "Plain chest X-ray (procedure)", 25900),
)

# --- claims ledger ---------------------------------------------------------------------------------

#: Claim life-cycle states and their probabilities (see clinic_export._ledger).
CLAIM_STATE_P = (0.93, 0.05, 0.02)  # closed, patient/secondary balance due, insurer balance due
INSURER_METHODS = ("ECHECK", "CHECK")
INSURER_METHOD_P = (0.85, 0.15)
PATIENT_METHODS = ("COPAY", "CASH", "CC", "CHECK", "ECHECK")
PATIENT_METHOD_P = (0.25, 0.20, 0.30, 0.15, 0.10)

# --- medications: (RxNorm code, description, cost cents, chronic?) ----------------------------------

MEDICATIONS = (
    ("308192", "Amoxicillin 500 MG Oral Tablet", 29082, False),
    ("198405", "Ibuprofen 100 MG Oral Tablet", 41670, False),
    ("309097", "Cefuroxime 250 MG Oral Tablet", 135849, False),
    ("849574", "Naproxen sodium 220 MG Oral Tablet", 14836, False),
    ("562251", "Amoxicillin 250 MG / Clavulanate 125 MG Oral Tablet", 81119, False),
    ("209387", "Acetaminophen 325 MG Oral Tablet [Tylenol]", 12994, False),
    ("206905", "Ibuprofen 400 MG Oral Tablet [Ibu]", 12994, False),
    ("860975", "24 HR Metformin hydrochloride 500 MG Extended Release Oral Tablet", 682, True),
    ("895996", "120 ACTUAT fluticasone propionate 0.044 MG/ACTUAT Metered Dose Inhaler [Flovent]", 12994, True),
    ("859088", "NDA020983 200 ACTUAT albuterol 0.09 MG/ACTUAT Metered Dose Inhaler [Ventolin]", 12994, True),
    ("757594", "Jolivette 28 Day Pack", 51326, True),
    ("314076", "lisinopril 10 MG Oral Tablet", 1215, True),
)

# --- observations ------------------------------------------------------------------------------------
#: (CATEGORY, LOINC code, description, UNITS, TYPE, mean, sd, lower bound, weight). Numeric values are
#: written with one decimal, as Synthea does. TYPE "text" rows take their VALUE from OBS_TEXT_VALUES.
OBSERVATIONS = (
    ("vital-signs", "8302-2", "Body Height", "cm", "numeric", 168.0, 12.0, 45.0, 0.10),
    ("vital-signs", "29463-7", "Body Weight", "kg", "numeric", 76.0, 16.0, 3.0, 0.10),
    ("vital-signs", "8480-6", "Systolic Blood Pressure", "mm[Hg]", "numeric", 122.0, 14.0, 80.0, 0.08),
    ("vital-signs", "8462-4", "Diastolic Blood Pressure", "mm[Hg]", "numeric", 79.0, 9.0, 45.0, 0.08),
    ("vital-signs", "8867-4", "Heart rate", "/min", "numeric", 76.0, 11.0, 40.0, 0.06),
    ("laboratory", "2339-0", "Glucose [Mass/volume] in Blood", "mg/dL", "numeric", 95.0, 18.0, 50.0, 0.08),
    ("laboratory", "4548-4", "Hemoglobin A1c/Hemoglobin.total in Blood", "%", "numeric", 5.8, 0.9, 4.0, 0.06),
    ("laboratory", "2093-3", "Cholesterol [Mass/volume] in Serum or Plasma", "mg/dL", "numeric", 185.0, 30.0, 90.0, 0.06),
    ("laboratory", "2085-9", "Cholesterol in HDL [Mass/volume] in Serum or Plasma", "mg/dL", "numeric", 55.0, 12.0, 15.0, 0.05),
    ("laboratory", "2571-8", "Triglycerides", "mg/dL", "numeric", 140.0, 45.0, 30.0, 0.05),
    ("laboratory", "718-7", "Hemoglobin [Mass/volume] in Blood", "g/dL", "numeric", 14.0, 1.4, 7.0, 0.05),
    ("laboratory", "6690-2", "Leukocytes [#/volume] in Blood by Automated count", "10*3/uL", "numeric", 7.0, 1.8, 2.0, 0.05),
    ("laboratory", "38483-4", "Creatinine [Mass/volume] in Blood", "mg/dL", "numeric", 1.0, 0.25, 0.3, 0.05),
    ("laboratory", "2947-0", "Sodium [Moles/volume] in Blood", "mmol/L", "numeric", 140.0, 2.5, 125.0, 0.04),
    ("survey", "72514-3", "Pain severity - 0-10 verbal numeric rating [Score] - Reported", "{score}", "numeric", 2.0, 2.0, 0.0, 0.04),
    ("social-history", "72166-2", "Tobacco smoking status", "", "text", 0.0, 0.0, 0.0, 0.03),
    ("survey", "71802-3", "Housing status", "", "text", 0.0, 0.0, 0.0, 0.02),
)
OBS_TEXT_VALUES = {
    "72166-2": ("Never smoked tobacco (finding)", "Ex-smoker (finding)", "Smokes tobacco daily (finding)"),
    "71802-3": ("I have housing", "I do not have housing (I am staying with others  in a hotel  in a shelter)"),
}

# --- care plans: (SNOMED code, description, reason index into REASONS or -1) -------------------------

CAREPLANS = (
    ("736376001", "Infectious disease care plan (record artifact)", 0),
    ("385691007", "Fracture care", 7),
    ("699728000", "Asthma self management", 5),
    ("698360004", "Diabetes self management plan", 9),
    ("53950000", "Respiratory therapy", 2),
    ("225358003", "Wound care", -1),
    ("773513001", "Physiotherapy care plan (record artifact)", 6),
    ("443402002", "Lifestyle education regarding hypertension (procedure)", 10),
)

# --- imaging (body site, modality, SOP, procedure) ----------------------------------------------------

IMAGING = (
    ("8205005", "Wrist", "DX", "Digital Radiography", "1.2.840.10008.5.1.4.1.1.1.1", "Digital X-Ray Image Storage", "60027007"),
    ("51299004", "Clavicle", "DX", "Digital Radiography", "1.2.840.10008.5.1.4.1.1.1.1", "Digital X-Ray Image Storage", "168594001"),
    ("51185008", "Chest", "DX", "Digital Radiography", "1.2.840.10008.5.1.4.1.1.1.1", "Digital X-Ray Image Storage", "399208008"),
    ("80891009", "Heart structure (body structure)", "US", "Ultrasound", "1.2.840.10008.5.1.4.1.1.3.1", "Ultrasound Multiframe Image Storage", "433236007"),
)

# --- notes: templates rendered into a small pool of sentences ----------------------------------------
# Commas, double quotes and line breaks are deliberate: notes.csv is the one file that needs quoting.

NOTE_TYPES = ("progress", "clinical", "phone")
NOTE_TEMPLATES = {
    "progress": (
        "Patient seen for follow-up of {cond}. Improving, continue current plan.",
        "Reviewed {cond}; symptoms stable, no new complaints. Return in {n} weeks.",
        'Patient states "much better" since last visit. {cond} resolving.',
        "Follow-up for {cond}.\nPlan: repeat labs in {n} weeks, call if worse.",
    ),
    "clinical": (
        "Assessment: {cond}. Vitals within normal limits, exam unremarkable.",
        "Discussed {cond}, treatment options, risks and benefits; patient agrees.",
        'Exam notes: mild tenderness, no swelling. Patient reports "{n}/10" pain.',
        "Plan:\n1) {cond} management\n2) recheck in {n} weeks",
    ),
    "phone": (
        "Called patient re: lab results. Left voicemail, will retry.",
        'Patient called asking about {cond}; advised rest, fluids, and "call back if fever".',
        "Refill request received, forwarded to provider. Pharmacy notified.",
        "Appointment reminder call.\nPatient confirmed, no changes.",
    ),
}
NOTE_CONDITIONS = (
    "viral sinusitis", "ankle sprain", "hypertension", "prediabetes", "asthma", "back pain",
    "otitis media", "seasonal allergies",
)

# --- documents ---------------------------------------------------------------------------------------

#: (extension, MIME type, weight). Sizes are drawn in clinic_export._documents.
DOCUMENT_KINDS = (
    ("txt", "text/plain", 0.40),
    ("pdf", "application/pdf", 0.45),
    ("png", "image/png", 0.15),
)
DOCUMENT_TITLES = {
    "txt": ("Referral letter", "Visit summary", "Telephone message transcript"),
    "pdf": ("Consent form", "Lab report", "Insurance card scan", "Treatment plan"),
    "png": ("X-ray image", "Wound photo", "Scanned ID card"),
}

RELATIONSHIPS = ("parent", "child", "spouse", "sibling", "guardian")
