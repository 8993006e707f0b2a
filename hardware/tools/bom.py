"""The bill of materials (hardware/bom.csv) and what one dial costs.

    .venv/bin/python -m hardware.tools.bom

Prices are approximate unit prices in Canadian dollars at small quantities (1-10 dials)
from Canadian retailers, as of PRICE_DATE; check them before ordering.
"""

import csv
import sys
from dataclasses import dataclass
from decimal import Decimal

from hardware.tools import HARDWARE

BOM_CSV = HARDWARE / "bom.csv"
PRICE_DATE = "2026-11"
TARGET_CAD = Decimal(40)  # the budget per dial


@dataclass(frozen=True)
class Part:
    part: str
    specification: str
    quantity: int
    example_part_number: str
    unit_price_cad: Decimal
    alternatives: str

    @property
    def cost(self):
        return self.quantity * self.unit_price_cad


def load():
    with open(BOM_CSV, newline="") as f:
        return [
            Part(
                **{
                    **row,
                    "quantity": int(row["quantity"]),
                    "unit_price_cad": Decimal(row["unit_price_cad"]),
                }
            )
            for row in csv.DictReader(f)
        ]


def total(parts):
    return sum((p.cost for p in parts), Decimal(0))


def _cell(text):
    return text.replace("|", "\\|")


def markdown(parts):
    """The BOM table in hardware/README.md, with its total and the date of the prices."""
    lines = [
        "| part | specification | qty | example part number | unit CAD | alternatives |",
        "|---|---|---|---|---|---|",
    ]
    for p in parts:
        lines.append(
            f"| {p.part} | {_cell(p.specification)} | {p.quantity} "
            f"| {_cell(p.example_part_number)} | {p.unit_price_cad:.2f} "
            f"| {_cell(p.alternatives)} |"
        )
    lines.append(
        f"\n**Total per dial: about CAD {total(parts):.2f}** (target: under CAD {TARGET_CAD}).\n"
        f"Prices are approximate, for 1-10 dials from Canadian retailers, as of {PRICE_DATE}."
    )
    return "\n".join(lines)


def main():
    parts = load()
    width = max(len(p.part) for p in parts)
    for p in parts:
        print(f"{p.part:<{width}}  {p.quantity:>3} x {p.unit_price_cad:>6.2f} = {p.cost:>6.2f}")
    cost = total(parts)
    print(f"{'total per dial':<{width}}  {'':>14}{cost:>6.2f} CAD (prices of {PRICE_DATE})")
    if cost >= TARGET_CAD:
        sys.exit(f"over the target of CAD {TARGET_CAD}")


if __name__ == "__main__":
    main()
