"""Shipping a node's logs to the server, which keeps them under the cluster's LogUri
(or the data dir): each file gzipped whole, sent again only when it has grown."""

import gzip
import logging
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from elmr import node_protocol

log = logging.getLogger("elmr.agent.logs")


class LogShipper:
    def __init__(self, spec: node_protocol.NodeSpec):
        self.base_url = spec.server_url.rstrip("/") + node_protocol.LOGS_PATH
        self.identity = {"instance_id": spec.instance_id, "token": spec.agent_token}
        self.shipped_sizes: dict[Path, int] = {}

    def ship(self, path: Path, relative: str) -> bool:
        """Send `path` as `relative` + .gz, unless it has not changed since last time."""
        try:
            size = path.stat().st_size
        except OSError:
            return False
        if self.shipped_sizes.get(path) == size:
            return True
        try:
            data = path.read_bytes()
        except OSError:
            return False
        if not self.send(data, relative):
            return False
        self.shipped_sizes[path] = size
        return True

    def send(self, data: bytes, relative: str) -> bool:
        """POST `data` gzipped as `relative` + .gz."""
        query = urllib.parse.urlencode({**self.identity, "path": relative + ".gz"})
        request = urllib.request.Request(f"{self.base_url}?{query}", method="POST",
                                         data=gzip.compress(data, compresslevel=5),
                                         headers={"Content-Type": "application/gzip"})
        try:
            with urllib.request.urlopen(request, timeout=30):
                pass
        except (OSError, urllib.error.URLError) as error:
            log.warning("could not ship %s: %s", relative, error)
            return False
        return True

    def ship_dir(self, directory: Path, prefix: str) -> None:
        if not directory.is_dir():
            return
        for path in sorted(directory.rglob("*")):
            if path.is_file() and path.suffix != ".json":
                self.ship(path, f"{prefix}/{path.relative_to(directory)}")
