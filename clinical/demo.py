"""Demo patients, treatments and records for a demo branch, made through the real services so
that the audit trail, MRNs and assignments are what a real branch would have."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from accounts.models import Role, User
from clinical import services
from clinical.models import Patient, Treatment

TREATMENTS = [
    ("Consultation", "CONS", 15),
    ("Follow-up review", "FUP", 10),
    ("Wound dressing", "DRS", 20),
    ("Vaccination", "VAC", 10),
    ("ECG", "ECG", 20),
]

# Each branch's patients: (name, gender, birth date or age in years, phone, extra fields).
PATIENTS: dict[str, list[tuple[str, str, str | int, str, dict[str, Any]]]] = {
    "GB": [
        (
            "Amelia Hart",
            "female",
            "1988-04-02",
            "020 7946 0018",
            {"allergies": [{"substance": "Penicillin", "reaction": "Hives", "severity": "severe"}]},
        ),
        ("Oliver Hart", "male", "1986-11-20", "020 7946 0018", {}),
        (
            "Lily Hart",
            "female",
            6,
            "020 7946 0018",
            {"contact": {"name": "Amelia Hart", "relation": "mother", "phone": "020 7946 0018"}},
        ),
        (
            "José Álvarez",
            "male",
            "1975-07-14",
            "+34 612 345 678",
            {"identifiers": [{"type": "passport", "value": "PAA123456"}]},
        ),
        (
            "Fatima Al-Sayed",
            "female",
            "1992-01-30",
            "07911 123456",
            {"identifiers": [{"type": "national_health_id", "value": "943 476 5919"}]},
        ),
        ("Chloé Dubois", "female", "2001-09-09", "", {"email": "chloe@example.org"}),
        (
            "George Okafor",
            "male",
            "1959-03-03",
            "07912 345678",
            {
                "medical_history": {
                    "chronic_conditions": "Type 2 diabetes; hypertension",
                    "current_medication": "Metformin 500 mg BD",
                }
            },
        ),
    ],
    "IN": [
        (
            "Anita Sharma",
            "female",
            "1990-05-05",
            "98765 43210",
            {"allergies": [{"substance": "Sulfonamides", "severity": "moderate"}]},
        ),
        ("Rohan Sharma", "male", 12, "98765 43210", {}),
        ("अनीता वर्मा", "female", "1984-12-12", "91234 56789", {}),
        (
            "Mohammed Iqbal",
            "male",
            "1970-02-02",
            "99887 76655",
            {"identifiers": [{"type": "national_health_id", "value": "12-3456-7890-1234"}]},
        ),
        ("Priya Nair", "female", "1996-08-15", "", {}),
    ],
}


def _user(role: str) -> User:
    return User.objects.filter(role=role, is_active=True).order_by("pk").first()  # type: ignore[return-value]


@transaction.atomic
def seed_branch(hospital: Any) -> None:
    if Patient.objects.exists():
        return
    desk, doctor, admin = _user(Role.RECEPTIONIST), _user(Role.DOCTOR), _user(Role.HOSPITAL_ADMIN)
    for name, code, minutes in TREATMENTS:
        Treatment.objects.get_or_create(code=code, defaults={"name": name, "duration_minutes": minutes})
    # As if the branch came from a previous system that had issued MRNs up to 1000.
    services.mrn_sequence_start(next_number=1001)
    registered = []
    for name, gender, born, phone, extra in PATIENTS.get(hospital.country, PATIENTS["GB"]):
        data: dict[str, Any] = {"full_name": name, "gender": gender, "phone": phone, **extra}
        data.update({"age": {"value": born}} if isinstance(born, int) else {"date_of_birth": born})
        registered.append(services.patient_register(actor=desk, data=data, confirm_new=True).patient)
    services.patient_register(
        actor=desk,
        data={
            "description": "Man, about 40, brought in by ambulance, no documents",
            "gender": "male",
            "age": {"value": 40},
        },
    )
    consultation = Treatment.objects.get(code="CONS")
    for patient in registered[:4]:
        services.patient_assign_doctor(patient=patient, doctor=doctor, actor=admin, reason="demo")
    first = services.treatment_record_create(
        doctor=doctor,
        patient=registered[0],
        data={
            "treatment_id": consultation.pk,
            "diagnosis": "Acute bronchitis",
            "icd10_code": "J20.9",
            "clinical_notes": "Cough for 10 days, no fever. Chest: scattered wheeze.",
            "patient_advice": "Drink plenty of fluids. Come back if you get a fever or feel short of breath.",
            "follow_up": {"in_days": 14, "note": "Review the cough"},
            "prescriptions": [
                {
                    "medicine": "Salbutamol",
                    "strength": "100 mcg/dose",
                    "dose": "2 puffs",
                    "frequency": "up to 4 times a day",
                    "duration": "14 days",
                    "instructions": "When wheezy",
                },
                {
                    "medicine": "Paracetamol",
                    "strength": "500 mg",
                    "dose": "2 tablets",
                    "frequency": "every 6 hours",
                    "duration": "5 days",
                    "instructions": "No more than 8 tablets in 24 hours",
                },
            ],
        },
    )
    services.treatment_record_correct(
        doctor=doctor,
        record=first,
        reason="Added the inhaler technique advice",
        data={
            "treatment_id": consultation.pk,
            "diagnosis": "Acute bronchitis",
            "icd10_code": "J20.9",
            "clinical_notes": "Cough for 10 days, no fever. Chest: scattered wheeze. Inhaler technique checked.",
            "patient_advice": "Drink plenty of fluids. Use the inhaler with a spacer. Come back if you get a fever.",
            "follow_up": {"in_days": 14, "note": "Review the cough"},
            "prescriptions": [
                {
                    "medicine": "Salbutamol",
                    "strength": "100 mcg/dose",
                    "dose": "2 puffs",
                    "frequency": "up to 4 times a day",
                    "duration": "14 days",
                    "instructions": "With a spacer",
                },
                {
                    "medicine": "Paracetamol",
                    "strength": "500 mg",
                    "dose": "2 tablets",
                    "frequency": "every 6 hours",
                    "duration": "5 days",
                    "instructions": "No more than 8 tablets in 24 hours",
                },
            ],
        },
    )
    services.treatment_record_create(
        doctor=doctor,
        patient=registered[1],
        data={
            "treatment_id": consultation.pk,
            "diagnosis": "Hypertension, newly found",
            "icd10_code": "I10",
            "follow_up": {"in_days": 7, "note": "Blood pressure check"},
        },
    )
