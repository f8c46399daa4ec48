"""Spark's event logs, shipped by the master's agent to the server, which keeps them
under the cluster's LogUri and for its own history server (EMR's persistent
application UI, which outlives the cluster). Spark writes them to HDFS
(apps/spark.py's EVENT_LOG_DIR), one file per application or, rolling (Spark 4's
default), a directory eventlog_v2_<application>/ of event files and an appstatus
file; the agent reads them through WebHDFS and sends each again only when HDFS says
it changed."""

from elmr.agent.log_shipper import LogShipper
from elmr.apps import webhdfs
from elmr.apps.spark import EVENT_LOG_DIR


class EventLogShipper:
    def __init__(self, shipper: LogShipper, namenode_http: str):
        self.shipper = shipper
        self.namenode_http = namenode_http
        self.shipped: dict[str, tuple] = {}  # HDFS path -> (length, modificationTime) sent

    def ship_changed(self) -> None:
        for relative, status in self._files():
            path = f"{EVENT_LOG_DIR}/{relative}"
            version = (status.get("length"), status.get("modificationTime"))
            if self.shipped.get(path) == version:
                continue
            data = webhdfs.read(self.namenode_http, path)
            if data is not None and self.shipper.send(data, f"spark-events/{relative}"):
                self.shipped[path] = version

    def _files(self):
        """(path relative to the event log dir, FileStatus) of every log file, one
        directory level down (rolling logs); Hadoop's .crc files are not logs."""
        for entry in webhdfs.list_status(self.namenode_http, EVENT_LOG_DIR):
            name = entry.get("pathSuffix", "")
            if entry.get("type") == "DIRECTORY":
                for inner in webhdfs.list_status(self.namenode_http, f"{EVENT_LOG_DIR}/{name}"):
                    if inner.get("type") == "FILE" and not inner["pathSuffix"].endswith(".crc"):
                        yield f"{name}/{inner['pathSuffix']}", inner
            elif entry.get("type") == "FILE" and not name.endswith(".crc"):
                yield name, entry
