"""The server's root credentials: from ELMR_ACCESS_KEY_ID / ELMR_SECRET_ACCESS_KEY
when set, otherwise generated once and kept in DATA_DIR/credentials, in the AWS CLI's
profile format so `AWS_SHARED_CREDENTIALS_FILE=DATA_DIR/credentials` works as is.

A running server also keeps the key it accepts in DATA_DIR/server-credentials (mode
0600, same format, removed when it stops), so `elmr env` prints that key whichever
way the server got it."""

import configparser
import os
import secrets
import string
from dataclasses import dataclass
from pathlib import Path

CREDENTIALS_FILE = "credentials"
SERVER_CREDENTIALS_FILE = "server-credentials"
PROFILE = "default"


@dataclass(frozen=True)
class RootCredentials:
    access_key_id: str
    secret_access_key: str

    def secret_for(self, access_key_id: str) -> str | None:
        return self.secret_access_key if access_key_id == self.access_key_id else None


def _generate() -> RootCredentials:
    key_id = "AKIA" + "".join(secrets.choice(string.ascii_uppercase + "234567") for _ in range(16))
    return RootCredentials(key_id, secrets.token_urlsafe(30)[:40])


def _read(path: Path) -> RootCredentials | None:
    parser = configparser.ConfigParser()
    if not parser.read(path) or not parser.has_section(PROFILE):
        return None
    section = parser[PROFILE]
    return RootCredentials(section["aws_access_key_id"], section["aws_secret_access_key"])


def _write(path: Path, credentials: RootCredentials) -> None:
    parser = configparser.ConfigParser()
    parser[PROFILE] = {
        "aws_access_key_id": credentials.access_key_id,
        "aws_secret_access_key": credentials.secret_access_key,
    }
    path.touch(mode=0o600)
    with path.open("w") as handle:
        parser.write(handle)


def load_or_create(data_dir: Path) -> RootCredentials:
    from_env = os.environ.get("ELMR_ACCESS_KEY_ID"), os.environ.get("ELMR_SECRET_ACCESS_KEY")
    if all(from_env):
        return RootCredentials(*from_env)
    path = Path(data_dir) / CREDENTIALS_FILE
    existing = _read(path) if path.exists() else None
    if existing:
        return existing
    created = _generate()
    _write(path, created)
    return created


def write_server_credentials(data_dir: Path, credentials: RootCredentials) -> Path:
    path = Path(data_dir) / SERVER_CREDENTIALS_FILE
    path.unlink(missing_ok=True)
    _write(path, credentials)
    return path


def read_server_credentials(data_dir: Path) -> RootCredentials | None:
    path = Path(data_dir) / SERVER_CREDENTIALS_FILE
    return _read(path) if path.exists() else None
