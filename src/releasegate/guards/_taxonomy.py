"""The MLCommons AI Safety hazard taxonomy, in the S1–S14 numbering that Llama Guard 3 uses."""

from __future__ import annotations

from enum import StrEnum


class HazardCategory(StrEnum):
    S1 = "S1"  # violent crimes
    S2 = "S2"  # non-violent crimes
    S3 = "S3"  # sex-related crimes
    S4 = "S4"  # child sexual exploitation
    S5 = "S5"  # defamation
    S6 = "S6"  # specialized advice
    S7 = "S7"  # privacy
    S8 = "S8"  # intellectual property
    S9 = "S9"  # indiscriminate weapons (CBRNE)
    S10 = "S10"  # hate
    S11 = "S11"  # suicide and self-harm
    S12 = "S12"  # sexual content
    S13 = "S13"  # elections
    S14 = "S14"  # code interpreter abuse

    @property
    def label(self) -> str:
        """The category's name in the taxonomy, e.g. 'Violent Crimes'."""
        return HAZARD_TITLES[self]


HAZARD_TITLES: dict[HazardCategory, str] = {
    HazardCategory.S1: "Violent Crimes",
    HazardCategory.S2: "Non-Violent Crimes",
    HazardCategory.S3: "Sex-Related Crimes",
    HazardCategory.S4: "Child Sexual Exploitation",
    HazardCategory.S5: "Defamation",
    HazardCategory.S6: "Specialized Advice",
    HazardCategory.S7: "Privacy",
    HazardCategory.S8: "Intellectual Property",
    HazardCategory.S9: "Indiscriminate Weapons",
    HazardCategory.S10: "Hate",
    HazardCategory.S11: "Suicide & Self-Harm",
    HazardCategory.S12: "Sexual Content",
    HazardCategory.S13: "Elections",
    HazardCategory.S14: "Code Interpreter Abuse",
}
