"""Alembic environment: migrations run from `server.db.migrate` with the URL it sets."""

from alembic import context
from sqlmodel import SQLModel, create_engine

from server import models  # noqa: F401  (registers the tables on SQLModel.metadata)

config = context.config
engine = create_engine(config.get_main_option("sqlalchemy.url"))
with engine.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=SQLModel.metadata,
        render_as_batch=True,  # SQLite can only alter tables by copying them
    )
    with context.begin_transaction():
        context.run_migrations()
engine.dispose()
