"""Every table of Quarry, gathered so that Alembic sees one metadata."""

from quarry.calls.models import Call, CallCount, CallCountCache, FunctionCall  # noqa: F401
from quarry.collections.models import Collection, CollectionItem, CollectionRequest  # noqa: F401
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
