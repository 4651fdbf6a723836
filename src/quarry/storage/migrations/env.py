"""Alembic environment: runs on the connection handed over by ``Database.upgrade``.

Upgrades compare nothing, so no models are loaded here (``quarry.tables`` has them, for the tests
that compare the migrated schema with the models)."""

from alembic import context

connection = context.config.attributes["connection"]
context.configure(connection=connection, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
