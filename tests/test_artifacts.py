"""The JVM artifact lock: what scripts/setup fetches, how a corrupt download is refused,
and what a node is told when the cache lacks a jar. No network: a directory laid out
as a Maven repository stands in for Maven Central through file:// URLs."""

import hashlib
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from elmr.apps import artifacts


def test_every_artifact_is_pinned_once_with_a_checksum():
    locked = artifacts.locked()
    names = Counter((a.group, a.artifact, a.classifier) for a in locked)
    assert [name for name, count in names.items() if count > 1] == []
    assert all(len(a.sha256) == 64 and a.size > 0 for a in locked)
    versions = {a.artifact: a.version for a in locked if a.group == "org.apache.hadoop"}
    # Hadoop as PySpark's bundled client; the two tools Maven Central lacks at 3.5.0 at 3.4.2.
    assert versions["hadoop-hdfs"] == versions["hadoop-aws"] == versions["hadoop-common"] == "3.5.0"
    assert versions["hadoop-streaming"] == "3.4.2"
    assert {a.use for a in locked} == set(artifacts.USES)
    assert not any(a.artifact == "bundle" for a in locked), "the 686 MB SDK bundle is excluded"
    hive = {a.artifact: a.version for a in locked if a.use == "hive" and a.group == "org.apache.hive"}
    assert hive["hive-exec"] == hive["hive-cli"] == hive["hive-standalone-metastore-server"] == "4.0.1"
    # Log4j's 1.2 bridge beside Hadoop's reload4j stops a MapReduce task from starting.
    assert not any(a.artifact == "log4j-1.2-api" for a in locked)


def test_the_lock_takes_hives_jars_that_hadoop_does_not_already_hold(tmp_path):
    def listing(name: str, rows: list[str]) -> Path:
        jars = []
        for coordinate in rows:
            group, artifact, packaging, version = coordinate.split(":")
            jar = tmp_path / f"{artifact}-{version}.{packaging}"
            jar.write_bytes(coordinate.encode())
            jars.append(f"   {coordinate}:compile:{jar} -- module {artifact}")
        path = tmp_path / name
        path.write_text("The following files have been resolved:\n" + "\n".join(jars) + "\n")
        return path

    hadoop = listing("hadoop.txt", ["org.apache.hadoop:hadoop-common:jar:3.5.0", "com.google.guava:guava:jar:33.4.8"])
    hive = listing("hive.txt", ["org.apache.hive:hive-exec:jar:4.0.1", "com.google.guava:guava:jar:22.0",
                                "org.apache.curator:apache-curator:pom:5.2.0"])
    lock = tmp_path / "artifacts.lock"
    assert artifacts.write_lock(hadoop, hive, lock) == 3
    rows = {line.split("\t")[0]: line.split("\t")[3] for line in lock.read_text().splitlines()
            if not line.startswith("#")}
    assert rows == {"org.apache.hadoop:hadoop-common:3.5.0": "hadoop", "com.google.guava:guava:33.4.8": "hadoop",
                    "org.apache.hive:hive-exec:4.0.1": "hive"}


def _one_jar_lock(tmp_path: Path, body: bytes, pinned_body: bytes) -> tuple[Path, Path]:
    """A lock naming one jar pinned to `pinned_body`'s checksum, and a repository serving `body`."""
    repository = tmp_path / "repository"
    jar = repository / "org/example/tiny/1.0/tiny-1.0.jar"
    jar.parent.mkdir(parents=True)
    jar.write_bytes(body)
    lock = tmp_path / "artifacts.lock"
    lock.write_text(f"# test\norg.example:tiny:1.0\t{hashlib.sha256(pinned_body).hexdigest()}"
                    f"\t{len(pinned_body)}\thadoop\n")
    return lock, repository


def test_fetch_checks_the_checksum_and_keeps_nothing_that_differs(tmp_path, monkeypatch):
    lock, repository = _one_jar_lock(tmp_path, b"tampered", b"original")
    monkeypatch.setattr(artifacts, "LOCK_FILE", lock)
    cache = tmp_path / "cache"
    with pytest.raises(artifacts.ArtifactsMissing, match="sha256"):
        artifacts.fetch(cache, repository.as_uri(), log=lambda _: None)
    assert not list(cache.rglob("*.jar")) and not list(cache.rglob(".part-*"))
    (repository / "org/example/tiny/1.0/tiny-1.0.jar").write_bytes(b"original")
    assert artifacts.fetch(cache, repository.as_uri(), log=lambda _: None) == 1
    assert artifacts.classpath("hadoop", root=cache) == [str(cache / "org/example/tiny/1.0/tiny-1.0.jar")]
    assert artifacts.fetch(cache, repository.as_uri(), log=lambda _: None) == 0  # offline from now on


def test_a_missing_cache_gets_an_error_naming_the_jars_and_the_fix(tmp_path):
    with pytest.raises(artifacts.ArtifactsMissing) as missing:
        artifacts.classpath("hadoop", root=tmp_path)
    assert "org.apache.hadoop:hadoop-hdfs:3.5.0" in str(missing.value) or "more" in str(missing.value)
    assert "scripts/setup" in str(missing.value)
    checked = subprocess.run([sys.executable, "-m", "elmr.apps.artifacts", "check"], capture_output=True,
                             text=True, env={"ELMR_ARTIFACT_CACHE": str(tmp_path), "PATH": "/usr/bin:/bin"})
    assert checked.returncode == 1 and "scripts/setup" in checked.stderr


def test_setup_has_fetched_everything_the_nodes_need():
    present = artifacts.classpath(*artifacts.USES)
    assert all(Path(path).is_file() for path in present)
    assert shutil.which("java"), "Hadoop's daemons need a Java runtime"
