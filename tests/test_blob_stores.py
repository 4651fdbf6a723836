"""Blob stores against real servers: S3 through a moto server process over HTTP, local files on disk."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from botocore.exceptions import ClientError

from quarry.config import Settings
from quarry.storage.blobs import BlobStoreUnavailable, open_blob_store
from quarry.storage.blobs.local import LocalBlobStore
from quarry.storage.blobs.s3 import S3BlobStore
from quarry.storage.blobs.urls import FileLinks, FileUrlSigner
from tests.harness.ports import free_port
from tests.s3 import S3Server, presigned_url_valid

PAYLOAD = b"%PDF-1.7\x00\x00\xff\xfe" + bytes(range(256)) * 4 + b"\x00"


@pytest.fixture
def aws_env(s3_server: S3Server, monkeypatch: pytest.MonkeyPatch) -> S3Server:
    """The process environment an operator would set, and nothing from this machine's own AWS setup."""
    for name in ("AWS_PROFILE", "AWS_REGION", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    for name, value in s3_server.env.items():
        monkeypatch.setenv(name, value)
    return s3_server


@pytest.fixture
def bucket(aws_env: S3Server) -> str:
    return aws_env.create_bucket()


def stored_keys(server: S3Server, bucket: str) -> list[str]:
    return [item["Key"] for item in server.client().list_objects_v2(Bucket=bucket).get("Contents", [])]


def settings(tmp_path: Path, blob_url: str | None) -> Settings:
    env = {"QUARRY_DATA_DIR": str(tmp_path)} | ({"QUARRY_BLOB_URL": blob_url} if blob_url else {})
    return Settings.from_env(env)


def test_s3_round_trip_keeps_every_byte(bucket: str) -> None:
    store = S3BlobStore(bucket, "blobs")
    store.put("env_1/input/file.pdf", PAYLOAD)
    assert store.get("env_1/input/file.pdf") == PAYLOAD
    store.put("env_1/input/file.pdf", b"")
    assert store.get("env_1/input/file.pdf") == b""


def test_s3_missing_key_is_key_error(bucket: str) -> None:
    store = S3BlobStore(bucket, "blobs")
    with pytest.raises(KeyError):
        store.get("env_1/never/stored.pdf")
    with pytest.raises(KeyError):
        store.get("env_1/../escape")


def test_s3_other_errors_propagate(aws_env: S3Server, bucket: str) -> None:
    store = S3BlobStore(bucket, "")
    aws_env.client().delete_bucket(Bucket=bucket)
    with pytest.raises(ClientError) as error:
        store.get("env_1/file.pdf")
    assert error.value.response["Error"]["Code"] == "NoSuchBucket"


@pytest.mark.parametrize(
    ("prefix", "stored"),
    [("", "env_1/a.bin"), ("quarry", "quarry/env_1/a.bin"), ("/tenants//quarry/", "tenants/quarry/env_1/a.bin")],
)
def test_s3_keys_live_under_the_prefix(aws_env: S3Server, bucket: str, prefix: str, stored: str) -> None:
    S3BlobStore(bucket, prefix).put("env_1/a.bin", PAYLOAD)
    assert stored_keys(aws_env, bucket) == [stored]
    assert aws_env.client().get_object(Bucket=bucket, Key=stored)["Body"].read() == PAYLOAD


def test_s3_presigned_url_serves_the_bytes_until_it_expires(aws_env: S3Server, bucket: str) -> None:
    store = S3BlobStore(bucket, "blobs")
    store.put("env_1/out.json", PAYLOAD)
    url = store.presigned_url("env_1/out.json", 60)

    assert url.startswith(f"{aws_env.url}/{bucket}/blobs/env_1/out.json?")
    assert httpx.get(url).content == PAYLOAD  # no credentials: the URL alone grants access
    query = parse_qs(urlsplit(url).query)
    assert query["X-Amz-Expires"] == ["60"]
    assert presigned_url_valid(url)
    # moto enforces neither expiry nor signatures, so these are checked as S3 checks them (SigV4):
    assert not presigned_url_valid(url, now=time.time() + 61)
    assert not presigned_url_valid(url.replace("out.json", "other.json"))
    assert not presigned_url_valid(url.replace("X-Amz-Expires=60", "X-Amz-Expires=6000"))
    assert not presigned_url_valid(url, secret_key="not-the-secret")

    assert httpx.get(store.presigned_url("env_1/absent.json", 60)).status_code == 404
    with pytest.raises(ValueError):
        store.presigned_url("env_1/out.json", 0)


def test_s3_missing_bucket_fails_at_construction(aws_env: S3Server) -> None:
    with pytest.raises(BlobStoreUnavailable, match=rf"'no-such-bucket' at {aws_env.url}.*does not exist"):
        S3BlobStore("no-such-bucket", "blobs")


def test_s3_unreachable_endpoint_fails_at_construction(aws_env: S3Server, monkeypatch: pytest.MonkeyPatch) -> None:
    closed = f"http://127.0.0.1:{free_port()}"
    monkeypatch.setenv("AWS_ENDPOINT_URL", closed)
    with pytest.raises(BlobStoreUnavailable, match=rf"'quarry' at {closed} is not reachable"):
        open_blob_store(settings(Path("/nonexistent"), "s3://quarry/blobs"))


def test_factory_opens_s3_with_and_without_prefix(aws_env: S3Server, bucket: str, tmp_path: Path) -> None:
    bare = open_blob_store(settings(tmp_path, f"s3://{bucket}"))
    prefixed = open_blob_store(settings(tmp_path, f"s3://{bucket}/deploy/blobs/"))
    assert isinstance(bare, S3BlobStore) and (bare.bucket, bare.prefix) == (bucket, "")
    assert isinstance(prefixed, S3BlobStore) and (prefixed.bucket, prefixed.prefix) == (bucket, "deploy/blobs")
    bare.put("env_1/a.bin", b"1")
    prefixed.put("env_1/a.bin", b"2")
    assert sorted(stored_keys(aws_env, bucket)) == ["deploy/blobs/env_1/a.bin", "env_1/a.bin"]
    assert not (tmp_path / "blobs").exists()


def test_factory_opens_local_stores(tmp_path: Path) -> None:
    default = open_blob_store(settings(tmp_path, None))
    assert isinstance(default, LocalBlobStore) and default.root == tmp_path / "blobs"
    elsewhere = open_blob_store(settings(tmp_path, f"file://{tmp_path}/other%20place"))
    assert isinstance(elsewhere, LocalBlobStore) and elsewhere.root == tmp_path / "other place"
    elsewhere.put("env_1/a.bin", PAYLOAD)
    assert (tmp_path / "other place" / "env_1" / "a.bin").read_bytes() == PAYLOAD


@pytest.mark.parametrize("url", ["ftp://x", "s3://", "s3:///prefix", "file://relative/path", "/abs/path", "gs://b"])
def test_factory_rejects_other_urls(tmp_path: Path, url: str) -> None:
    with pytest.raises(ValueError, match="QUARRY_BLOB_URL"):
        open_blob_store(settings(tmp_path, url))


def test_factory_loads_boto3_only_for_s3(tmp_path: Path) -> None:
    script = (
        "import sys; from pathlib import Path; from quarry.config import Settings; "
        "from quarry.storage.blobs import open_blob_store; "
        f"open_blob_store(Settings.from_env({{'QUARRY_DATA_DIR': {str(tmp_path)!r}}})); "
        "assert 'boto3' not in sys.modules, 'boto3 imported'"
    )
    subprocess.run([sys.executable, "-c", script], check=True)


def test_file_links_prefer_the_stores_own_url(aws_env: S3Server, bucket: str, tmp_path: Path) -> None:
    signer = FileUrlSigner("secret", ttl_seconds=120)
    local = LocalBlobStore(tmp_path)
    assert local.presigned_url("env_1/a.bin", 120) is None

    local_links = FileLinks(signer, local)
    assert local_links.signer is signer
    url = urlsplit(local_links.url("http://quarry.test/", "env_1/a.bin"))
    assert (url.scheme, url.netloc, url.path) == ("http", "quarry.test", "/v2/files/env_1/a.bin")
    query = parse_qs(url.query)
    assert signer.valid("env_1/a.bin", int(query["expires"][0]), query["signature"][0])

    store = S3BlobStore(bucket, "blobs")
    store.put("env_1/a.bin", PAYLOAD)
    s3_url = FileLinks(signer, store).url("http://quarry.test/", "env_1/a.bin")
    assert s3_url.startswith(f"{aws_env.url}/{bucket}/blobs/env_1/a.bin?") and "X-Amz-Expires=120" in s3_url
    assert httpx.get(s3_url).content == PAYLOAD


@pytest.mark.parametrize("kind", ["local", "s3"])
def test_a_calls_files_are_deleted_together(kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    """Retention deletes a call's files by its prefix; another call's, even one whose ID starts
    the same, stay."""
    store = LocalBlobStore(tmp_path / "blobs") if kind == "local" else S3BlobStore(request.getfixturevalue("bucket"))
    for key in ("env_1/call_a/0.pdf", "env_1/call_a/fc_1/0.json", "env_1/call_ab/0.pdf", "env_2/call_a/0.pdf"):
        store.put(key, PAYLOAD)
    store.delete_under("env_1/call_a")
    store.delete_under("env_1/call_none")  # nothing there: no error
    for key in ("env_1/call_a/0.pdf", "env_1/call_a/fc_1/0.json"):
        with pytest.raises(KeyError):
            store.get(key)
    assert store.get("env_1/call_ab/0.pdf") == store.get("env_2/call_a/0.pdf") == PAYLOAD
