"""Alembic environment: runs migrations with the sync driver for the configured URL."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine, pool

from ovenai.models import Base

config = context.config
target_metadata = Base.metadata


def run_migrations() -> None:
    """Apply migrations on one connection (SQLite gets batch mode for ALTERs)."""
    url = str(config.attributes.get("database_url") or config.get_main_option("sqlalchemy.url"))
    engine = create_engine(url, poolclass=pool.NullPool)
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


run_migrations()
