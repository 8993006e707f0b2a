"""device configs: the capacities of each config a device was sent

A dial's state must carry the capacities of the config_version it reports. Configs sent
before this revision are not known: a state on the device's newest config_version is checked
against the current pairing, and the ingestor records every config it publishes from now on
(it publishes them all again when it connects).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 16:50:00
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "deviceconfig",
        sa.Column("device_id", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("capacities", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["device_id"], ["device.id"]),
        sa.PrimaryKeyConstraint("device_id", "version"),
    )


def downgrade() -> None:
    op.drop_table("deviceconfig")
