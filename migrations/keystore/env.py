"""Alembic environment of the key store (a database of its own, see ovenai.keystore)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine, pool

from ovenai.keystore import KeyBase

config = context.config


def run_migrations() -> None:
    """Apply the key store's migrations on one connection."""
    url = str(config.attributes.get("database_url") or config.get_main_option("sqlalchemy.url"))
    engine = create_engine(url, poolclass=pool.NullPool)
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=KeyBase.metadata,
            version_table="alembic_version_keystore",
            render_as_batch=connection.dialect.name == "sqlite",
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


run_migrations()
