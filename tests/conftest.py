"""Test fixtures: a real Quarry server over real TCP, once per database backend.

Every test gets a fresh account (``tenant``) with its own API keys, so tests never see each
other's objects and tenancy is exercised all the time. Storage tests run on SQLite and on
PostgreSQL; PostgreSQL must be reachable (``QUARRY_TEST_POSTGRES_URL``) unless
``QUARRY_TEST_BACKENDS=sqlite`` says otherwise.
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import bem
import httpx
import pytest
import uvicorn

from quarry.app import create_app
from quarry.bootstrap import Process, bootstrap, open_database
from quarry.config import Settings
from quarry.engine.engine import Engine, Role
from quarry.storage.db import Database
from quarry.tenancy.service import create_account, create_api_key
from tests.harness.databases import PostgresUnavailable, drop_postgres_database, postgres_database
from tests.harness.fake_model import FakeOpenAI, ReadingModel
from tests.harness.ports import free_port

pytest_plugins = ["tests.s3"]  # the `s3_server` fixture: a moto S3 server process, started only when a test asks

BACKENDS = [b.strip() for b in os.environ.get("QUARRY_TEST_BACKENDS", "sqlite,postgresql").split(",") if b.strip()]


READ_BY_THE_MODEL = {"invoiceNumber": r"(?i)invoice (?:number|no)[.:]?\s*(\S+)"}
"""What the test server's model (a function with ``"provider": "openai"``) reads in a document."""


@dataclass
class Server:
    backend: str
    base_url: str
    db: Database
    settings: Settings
    engine: Engine
    process: Process  # what listeners beside the API take (the SMTP listener of tests/test_smtp.py)


@dataclass
class Tenant:
    """One account: a client per environment, each sending its own API key."""

    account_id: str
    production: httpx.Client
    sandbox: httpx.Client
    keys: dict[str, str]


@pytest.fixture(scope="session", params=BACKENDS)
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    backend = request.param
    data_dir: Path = tmp_path_factory.mktemp(f"quarry-{backend}")
    pg_name = f"quarry_test_{os.getpid()}"  # one per test process: concurrent runs never share
    if backend == "postgresql":
        try:
            url = postgres_database(pg_name)
        except PostgresUnavailable as exc:
            pytest.fail(str(exc), pytrace=False)
    else:
        url = f"sqlite:///{data_dir / 'quarry.db'}"
    model = ReadingModel(READ_BY_THE_MODEL)
    settings = Settings(data_dir=data_dir, database_url=url, llm_base_url=model.url, llm_model="reading-model")
    db = open_database(settings)
    port = free_port()
    process = bootstrap(settings, Role.ALL, db)
    config = uvicorn.Config(create_app(process), host="127.0.0.1", port=port, log_level="warning")
    uv = uvicorn.Server(config)
    thread = threading.Thread(target=uv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not uv.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("the test server did not start")
        time.sleep(0.02)
    yield Server(backend, f"http://127.0.0.1:{port}", db, settings, process.engine, process)
    uv.should_exit = True
    thread.join(timeout=10)
    model.close()
    db.dispose()
    if backend == "postgresql":
        drop_postgres_database(pg_name)


def make_tenant(server: Server) -> Tenant:
    with server.db.write() as session:
        account = create_account(session, f"test-{uuid.uuid4().hex}")
        keys = {env: create_api_key(session, account.id, env, f"{env}-key")[1] for env in ("production", "sandbox")}
    clients = {
        env: httpx.Client(base_url=server.base_url, headers={"x-api-key": key}, timeout=30) for env, key in keys.items()
    }
    return Tenant(account.id, clients["production"], clients["sandbox"], keys)


@pytest.fixture
def tenant(server: Server) -> Iterator[Tenant]:
    t = make_tenant(server)
    yield t
    t.production.close()
    t.sandbox.close()


@pytest.fixture
def api(tenant: Tenant) -> httpx.Client:
    """A client of a fresh account's production environment."""
    return tenant.production


@pytest.fixture
def sdk(server: Server, tenant: Tenant) -> Iterator[bem.Bem]:
    """The official bem SDK, unchanged and strict, pointed at Quarry with the tenant's production key."""
    with bem.Bem(
        api_key=tenant.keys["production"], base_url=server.base_url, _strict_response_validation=True, max_retries=0
    ) as client:
        yield client


@pytest.fixture
def anonymous(server: Server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.base_url, timeout=30) as client:
        yield client


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    """A scripted OpenAI-compatible endpoint of its own per test (the provider remembers, per base
    URL, an endpoint that refused strict schemas or logprobs: a fresh URL keeps tests apart)."""
    server = FakeOpenAI()
    yield server
    server.close()
