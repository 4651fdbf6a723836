"""Every table of Quarry in one metadata: what the migrations must produce (``tests/test_migrations``
compares the two). It gathers every domain's models, so it sits at the top, beside ``bootstrap``;
the migrations themselves import no domain code.
"""

from quarry.accuracy.models import Evaluation, ScoreRun  # noqa: F401
from quarry.calls.models import Call, CallCount, CallCountCache, DocumentPart, FunctionCall, JoinSource  # noqa: F401
from quarry.calls.search import is_search_object as is_call_search_object
from quarry.collections.models import Collection, CollectionItem, CollectionRequest  # noqa: F401
from quarry.collections.models import is_search_object as is_collection_search_object
from quarry.engine.models import Executor  # noqa: F401
from quarry.events.models import Event  # noqa: F401
from quarry.functions.models import Function, FunctionVersion  # noqa: F401
from quarry.storage.base import Base
from quarry.storage.idempotency import IdempotencyRecord  # noqa: F401
from quarry.storage.secrets import InstanceSecret  # noqa: F401
from quarry.storage.tags import ObjectTag  # noqa: F401
from quarry.subscriptions.models import Subscription, WebhookSecret  # noqa: F401
from quarry.tenancy.models import Account, ApiKey, Environment  # noqa: F401
from quarry.webhooks.models import Delivery, DeliveryAttempt  # noqa: F401
from quarry.workflows.models import Workflow, WorkflowNode, WorkflowVersion  # noqa: F401

metadata = Base.metadata


def made_by_migrations(name: str | None) -> bool:
    """Whether a schema object is made by a migration alone, not by the models (search indexes)."""
    return is_call_search_object(name) or is_collection_search_object(name)
