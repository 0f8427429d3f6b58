"""Does a prescribed medicine clash with a recorded allergy?

A safety net, not a drug database: a medicine clashes when its generic name contains the
allergy's substance (or the other way round), or when both belong to one of a few classes whose
cross-reactions every prescriber knows (a penicillin allergy and amoxicillin). The doctor is
asked to confirm; the confirmation is in the audit trail.
"""

from __future__ import annotations

from dataclasses import dataclass

from clinical.normalise import name_for_search

# Class → members, by generic name (lower-case, without accents). Matched as substrings.
CLASSES: dict[str, tuple[str, ...]] = {
    "penicillin": (
        "penicillin",
        "amoxicillin",
        "ampicillin",
        "flucloxacillin",
        "cloxacillin",
        "dicloxacillin",
        "piperacillin",
        "co-amoxiclav",
        "ticarcillin",
        "temocillin",
        "pivmecillinam",
        "benzathine",
    ),
    "sulfonamide": ("sulfamethoxazole", "co-trimoxazole", "sulfadiazine", "sulfasalazine", "sulfa"),
    "nsaid": (
        "ibuprofen",
        "naproxen",
        "diclofenac",
        "aspirin",
        "acetylsalicylic",
        "ketorolac",
        "indometacin",
        "mefenamic",
        "celecoxib",
        "etoricoxib",
        "piroxicam",
        "meloxicam",
    ),
    "cephalosporin": ("cef", "ceph"),
    "opioid": ("morphine", "codeine", "tramadol", "oxycodone", "fentanyl", "pethidine", "dihydrocodeine"),
}
# What staff type for a class: "penicillins", "sulfa drugs", "NSAIDs"...
ALIASES = {
    "penicillins": "penicillin",
    "sulfa": "sulfonamide",
    "sulfonamides": "sulfonamide",
    "sulpha": "sulfonamide",
    "sulphonamides": "sulfonamide",
    "nsaids": "nsaid",
    "anti-inflammatories": "nsaid",
    "cephalosporins": "cephalosporin",
    "opioids": "opioid",
    "opiates": "opioid",
}


@dataclass(frozen=True)
class Clash:
    line: int
    medicine: str
    allergy: str


def _classes_of(name: str) -> set[str]:
    return {cls for cls, members in CLASSES.items() if any(member in name for member in members)}


def _named_in(substance: str, drug: str) -> bool:
    """ "penicillin" is named in "phenoxymethylpenicillin v"; "iron" is not in "environment"."""
    drug_words = drug.split()
    substance_words = [w for w in substance.split() if len(w) >= 4]
    return (
        substance == drug
        or any(s in d for s in substance_words for d in drug_words)
        or any(d in substance.split() for d in drug_words if len(d) >= 4)
    )


def allergy_clashes(medicines: list[str], allergies: list[str]) -> list[Clash]:
    clashes = []
    for line, medicine in enumerate(medicines):
        drug = name_for_search(medicine)
        if not drug:
            continue
        for allergy in allergies:
            substance = name_for_search(allergy)
            if not substance:
                continue
            named_classes = {ALIASES.get(word, word) for word in substance.split()} & set(CLASSES)
            if _named_in(substance, drug) or (_classes_of(drug) & (_classes_of(substance) | named_classes)):
                clashes.append(Clash(line=line, medicine=medicine, allergy=allergy))
    return clashes
