"""What a Canadian postal code tells us: the province, which our sites do not store.

Canada Post gives each province its own first letters (Canada Post, "Addressing Guidelines",
postal code regions). X is left out: it is shared by Nunavut and the Northwest Territories.
"""

PROVINCES = {
    "A": "NL",
    "B": "NS",
    "C": "PE",
    "E": "NB",
    "G": "QC",
    "H": "QC",
    "J": "QC",
    "K": "ON",
    "L": "ON",
    "M": "ON",  # Toronto
    "N": "ON",
    "P": "ON",
    "R": "MB",
    "S": "SK",
    "T": "AB",
    "V": "BC",
    "Y": "YT",
}


def province(postal_code: str | None) -> str | None:
    """The province's two-letter code (M5V 1A1 -> ON), or None when the code does not say."""
    return PROVINCES.get((postal_code or " ")[0].upper())
