"""Alembic environment: runs on the connection handed over by ``Database.upgrade``."""

from alembic import context

from quarry.calls.search import is_search_object
from quarry.collections.models import is_search_object as is_collection_search_object
from quarry.storage.models import metadata


def include_name(name, type_, parent_names):  # type: ignore[no-untyped-def]
    return not is_search_object(name) and not is_collection_search_object(name)


connection = context.config.attributes["connection"]
context.configure(
    connection=connection, target_metadata=metadata, render_as_batch=True, compare_type=True, include_name=include_name
)
with context.begin_transaction():
    context.run_migrations()
