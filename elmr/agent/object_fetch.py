"""Fetching s3:// scripts to the node, as EMR copies bootstrap and script-runner
scripts before it runs them: GET from the server's object endpoint with the node's
token, written next to where the script will run."""

import json
import shutil
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path, PurePosixPath

from elmr import node_protocol

FETCH_TIMEOUT_S = 60.0


class FetchFailed(RuntimeError):
    pass


def is_object_uri(path: str) -> bool:
    return urllib.parse.urlparse(path).scheme in node_protocol.OBJECT_STORE_SCHEMES


def fetch(spec: node_protocol.NodeSpec, uri: str, target_dir: Path) -> Path:
    """The object at `uri` as a file in `target_dir`, named as the key's last part."""
    name = PurePosixPath(urllib.parse.urlparse(uri).path).name
    if not name or name in (".", ".."):
        raise FetchFailed(f"{uri} does not name an object")
    query = urllib.parse.urlencode({"instance_id": spec.instance_id, "token": spec.agent_token, "uri": uri})
    url = f"{spec.server_url.rstrip('/')}{node_protocol.OBJECT_PATH}?{query}"
    target = target_dir / name
    try:
        with urllib.request.urlopen(url, timeout=FETCH_TIMEOUT_S) as answer, open(target, "wb") as out:
            shutil.copyfileobj(answer, out)
    except urllib.error.HTTPError as error:
        raise FetchFailed(f"could not fetch {uri}: {_server_message(error)}") from None
    except OSError as error:
        raise FetchFailed(f"could not fetch {uri}: {error}") from None
    return target


def _server_message(error: urllib.error.HTTPError) -> str:
    try:
        return json.loads(error.read()).get("message") or str(error)
    except (OSError, ValueError):
        return str(error)
