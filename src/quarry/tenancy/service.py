"""Accounts, environments and API keys.

A Quarry installation has one ``default`` account with the ``production`` and ``sandbox``
environments; more accounts exist only where an operator (or the test suite) makes them.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import string
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from quarry.ids import new_id
from quarry.storage.base import utcnow
from quarry.tenancy.models import Account, ApiKey, Environment

DEFAULT_ACCOUNT = "default"
DEFAULT_ENVIRONMENTS = ("production", "sandbox")
ENV_KEY_NAME = "QUARRY_API_KEY"
_KEY_ALPHABET = string.ascii_letters + string.digits


@dataclass(frozen=True)
class Principal:
    """Who is calling: the environment an API key belongs to."""

    account_id: str
    environment_id: str
    environment_name: str
    api_key_name: str


class TenancyError(ValueError):
    """A named account or environment does not exist, or already does."""


def hash_key(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create_account(session: Session, name: str) -> Account:
    account = Account(id=new_id("acct"), name=name)
    session.add(account)
    session.flush()
    for env_name in DEFAULT_ENVIRONMENTS:
        session.add(Environment(id=new_id("env"), account_id=account.id, name=env_name))
    session.flush()
    return account


def ensure_default_account(session: Session) -> Account:
    """Create the default account on first use; safe when several processes start at once."""
    existing = session.scalar(sa.select(Account).where(Account.name == DEFAULT_ACCOUNT))
    if existing:
        return existing
    try:
        with session.begin_nested():
            return create_account(session, DEFAULT_ACCOUNT)
    except IntegrityError:
        return session.scalars(sa.select(Account).where(Account.name == DEFAULT_ACCOUNT)).one()


def find_environment(session: Session, account_id: str, name: str) -> Environment | None:
    return session.scalar(sa.select(Environment).where(Environment.account_id == account_id, Environment.name == name))


def acting_in(session: Session, environment_id: str, name: str) -> Principal:
    """A principal of this environment that holds no API key: what Quarry does on behalf of
    someone it did not authenticate (a mail received), recorded under ``name``."""
    environment = session.get_one(Environment, environment_id)
    return Principal(environment.account_id, environment.id, environment.name, name)


def list_environments(session: Session, account_id: str) -> list[Environment]:
    return list(
        session.scalars(
            sa.select(Environment).where(Environment.account_id == account_id).order_by(Environment.created_at)
        )
    )


def create_environment(session: Session, account_id: str, name: str) -> Environment:
    if find_environment(session, account_id, name):
        raise TenancyError(f"environment {name!r} already exists")
    environment = Environment(id=new_id("env"), account_id=account_id, name=name)
    session.add(environment)
    session.flush()
    return environment


def create_api_key(session: Session, account_id: str, environment_name: str, name: str) -> tuple[ApiKey, str]:
    """Create a key; the secret is returned once and only its hash is stored."""
    environment = find_environment(session, account_id, environment_name)
    if environment is None:
        raise TenancyError(f"no environment named {environment_name!r}")
    secret = "qk_" + "".join(secrets.choice(_KEY_ALPHABET) for _ in range(40))
    key = ApiKey(
        id=new_id("key"), environment_id=environment.id, name=name, key_hash=hash_key(secret), key_prefix=secret[:10]
    )
    session.add(key)
    session.flush()
    return key, secret


def list_api_keys(session: Session, account_id: str) -> list[tuple[ApiKey, Environment]]:
    rows = session.execute(
        sa.select(ApiKey, Environment)
        .join(Environment, ApiKey.environment_id == Environment.id)
        .where(Environment.account_id == account_id)
        .order_by(ApiKey.created_at)
    )
    return [(key, env) for key, env in rows]


def revoke_api_key(session: Session, account_id: str, key_id: str) -> ApiKey:
    key = session.scalar(
        sa.select(ApiKey)
        .join(Environment, ApiKey.environment_id == Environment.id)
        .where(Environment.account_id == account_id, ApiKey.id == key_id)
    )
    if key is None:
        raise TenancyError(f"no API key with ID {key_id!r}")
    key.revoked_at = key.revoked_at or utcnow()
    return key


def has_active_key(session: Session, account_id: str) -> bool:
    return bool(
        session.scalar(
            sa.select(sa.func.count())
            .select_from(ApiKey)
            .join(Environment, ApiKey.environment_id == Environment.id)
            .where(Environment.account_id == account_id, ApiKey.revoked_at.is_(None))
        )
    )


# Every request authenticates: both look-ups are built once, executed with the key's values only.
_ENVIRONMENT_COLUMNS = (Environment.account_id, Environment.id, Environment.name)
_BY_KEY_HASH = (
    sa.select(*_ENVIRONMENT_COLUMNS, ApiKey.name)
    .join(Environment, ApiKey.environment_id == Environment.id)
    .where(ApiKey.key_hash == sa.bindparam("key_hash"), ApiKey.revoked_at.is_(None))
)
_DEFAULT_PRODUCTION = (
    sa.select(*_ENVIRONMENT_COLUMNS, sa.literal(ENV_KEY_NAME))
    .join(Account, Environment.account_id == Account.id)
    .where(Account.name == DEFAULT_ACCOUNT, Environment.name == "production")
)


def authenticate(session: Session, secret: str, env_key: str | None = None) -> Principal | None:
    """Resolve an API key secret to its environment, or ``None`` when it is unknown or revoked.

    ``env_key`` is the ``QUARRY_API_KEY`` setting: a key of the default account's production
    environment that lives in configuration instead of the database.
    """
    connection = session.connection()
    if env_key and hmac.compare_digest(secret.encode(), env_key.encode()):
        row = connection.execute(_DEFAULT_PRODUCTION).first()
    else:
        row = connection.execute(_BY_KEY_HASH, {"key_hash": hash_key(secret)}).first()
    return None if row is None else Principal(*row)
