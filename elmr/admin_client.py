"""Calling elmr's own JSON API (elmr/admin_protocol.py) from the command line: the
server's URL and region from the data dir's server.json (or --endpoint-url), its root
key as `elmr env` finds it (ELMR_ACCESS_KEY_ID / ELMR_SECRET_ACCESS_KEY, else the data
dir's credentials file), each request signed with SigV4 as boto3 signs EMR's."""

import json
import os
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, urlencode

from elmr import credentials
from elmr.admin_protocol import SIGNING_SERVICE

TIMEOUT_S = 60
DEFAULT_DATA_DIR = Path(os.environ.get("ELMR_DATA_DIR", ".elmr"))  # as the other commands


class AdminError(Exception):
    """The server refused the request: EMR's error code and message."""

    def __init__(self, code: str, message: str):
        super().__init__(f"{code}: {message}")
        self.code, self.message = code, message


@dataclass(frozen=True)
class AdminClient:
    url: str
    region: str
    keys: credentials.RootCredentials

    @classmethod
    def for_data_dir(cls, data_dir: Path, endpoint_url: str | None = None) -> "AdminClient":
        info = _server_info(Path(data_dir))
        url = endpoint_url or info.get("url")
        if url is None:
            raise AdminError("NoServer", f"no server has run on {data_dir}; pass --data-dir or --endpoint-url")
        return cls(url.rstrip("/"), info.get("region", "us-east-1"), _root_keys(Path(data_dir)))

    def get(self, path: str, query: list[tuple[str, str]] = ()) -> dict:
        return self._send("GET", path + ("?" + urlencode(query, quote_via=quote) if query else ""), None)

    def post(self, path: str, fields: dict) -> dict:
        return self._send("POST", path, json.dumps(fields).encode())

    def _send(self, method: str, path_and_query: str, body: bytes | None) -> dict:
        from botocore.auth import SigV4Auth
        from botocore.awsrequest import AWSRequest
        from botocore.credentials import Credentials

        headers = {"Content-Type": "application/json"} if body is not None else {}
        request = AWSRequest(method=method, url=self.url + path_and_query, data=body, headers=headers)
        keys = Credentials(self.keys.access_key_id, self.keys.secret_access_key)
        SigV4Auth(keys, SIGNING_SERVICE, self.region).add_auth(request)
        prepared = request.prepare()
        sending = urllib.request.Request(prepared.url, data=prepared.body, method=method,
                                         headers=dict(prepared.headers.items()))
        try:
            with urllib.request.urlopen(sending, timeout=TIMEOUT_S) as answer:
                return json.loads(answer.read())
        except urllib.error.HTTPError as refused:
            raise _error_of(refused) from None
        except urllib.error.URLError as unreachable:
            raise AdminError("Unreachable", f"cannot reach the elmr server at {self.url}: "
                                            f"{unreachable.reason}") from None


def _server_info(data_dir: Path) -> dict:
    """What the server wrote of itself in the data dir (elmr/server.py's server.json;
    read here without importing the server, which takes seconds)."""
    path = data_dir / "server.json"
    return json.loads(path.read_text()) if path.exists() else {}


def _root_keys(data_dir: Path) -> credentials.RootCredentials:
    """The server's root key, read only: a client never makes one up."""
    from_env = os.environ.get("ELMR_ACCESS_KEY_ID") and os.environ.get("ELMR_SECRET_ACCESS_KEY")
    if not from_env and not (data_dir / credentials.CREDENTIALS_FILE).exists():
        raise AdminError("NoCredentials", f"no root key in {data_dir}: pass the server's --data-dir, or set "
                                          "ELMR_ACCESS_KEY_ID and ELMR_SECRET_ACCESS_KEY")
    return credentials.load_or_create(data_dir)


def _error_of(refused: urllib.error.HTTPError) -> AdminError:
    text = refused.read().decode(errors="replace")
    try:
        error = json.loads(text)
        return AdminError(error.get("__type", str(refused.code)), error.get("message", text))
    except ValueError:
        return AdminError(str(refused.code), text)
