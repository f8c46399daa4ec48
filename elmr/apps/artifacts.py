"""The JVM artifacts elmr's nodes run (Hadoop's daemons and tools, S3A and the AWS SDK
modules it needs), pinned in `jvm/artifacts.lock`: one jar a line with its Maven
coordinate, sha256, size and use. `scripts/setup` runs `fetch`, which brings exactly
the locked jars from Maven Central into a local cache (a Maven-style tree), checking
each checksum; nothing is fetched later, so a machine that has run setup works offline.
Nodes ask `classpath(use)` for their jars; when the cache lacks one, `ArtifactsMissing`
names what is missing and the command that fetches it.

Uses: `hadoop` (daemons and clients: the Hadoop classpath), `s3a` (hadoop-aws and the
SDK: on Hadoop's classpath and added to Spark's, whose Hadoop client is PySpark's own
shaded one), `tool` (jars users name in steps: hadoop-streaming, MapReduce examples),
`hive` (Hive's CLI and metastore, after Hadoop's classpath; resolved from
jvm/hive-pom.xml apart from Hadoop's, without the jars Hadoop's closure already has).
"""

import argparse
import hashlib
import os
import sys
import tempfile
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

LOCK_FILE = Path(__file__).with_name("jvm") / "artifacts.lock"
MAVEN_CENTRAL = "https://repo1.maven.org/maven2"
USES = ("hadoop", "s3a", "tool", "hive")
FETCH_THREADS = 8
SETUP_HINT = "run scripts/setup (it fetches them from Maven Central once)"


class ArtifactsMissing(RuntimeError):
    """The cache lacks locked jars; the message names them and what fetches them."""


@dataclass(frozen=True)
class Artifact:
    group: str
    artifact: str
    version: str
    classifier: str
    sha256: str
    size: int
    use: str

    @property
    def coordinate(self) -> str:
        parts = [self.group, self.artifact, self.version] + ([self.classifier] if self.classifier else [])
        return ":".join(parts)

    @property
    def relative_path(self) -> str:
        """Where Maven keeps it: the same path under the cache and on Maven Central."""
        suffix = f"-{self.classifier}" if self.classifier else ""
        return (f"{self.group.replace('.', '/')}/{self.artifact}/{self.version}/"
                f"{self.artifact}-{self.version}{suffix}.jar")


def cache_dir() -> Path:
    """ELMR_ARTIFACT_CACHE, else the user's cache directory (shared by worktrees)."""
    configured = os.environ.get("ELMR_ARTIFACT_CACHE")
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "elmr" / "maven"


def locked(lock_file: Path | None = None) -> list[Artifact]:
    artifacts = []
    for line in (lock_file or LOCK_FILE).read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        coordinate, sha256, size, use = line.split("\t")
        group, artifact, version, *classifier = coordinate.split(":")
        artifacts.append(Artifact(group, artifact, version, classifier[0] if classifier else "",
                                  sha256, int(size), use))
    return artifacts


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _present(artifact: Artifact, root: Path) -> bool:
    """Present with the locked size (a full checksum is taken when it is fetched)."""
    path = root / artifact.relative_path
    return path.is_file() and path.stat().st_size == artifact.size


def missing(root: Path | None = None, uses: tuple = USES) -> list[Artifact]:
    root = root or cache_dir()
    return [a for a in locked() if a.use in uses and not _present(a, root)]


def _download(artifact: Artifact, root: Path, repository: str) -> None:
    target = root / artifact.relative_path
    target.parent.mkdir(parents=True, exist_ok=True)
    url = f"{repository}/{artifact.relative_path}"
    handle, partial = tempfile.mkstemp(dir=target.parent, prefix=".part-")
    try:
        with os.fdopen(handle, "wb") as output, urllib.request.urlopen(url, timeout=120) as answer:
            while block := answer.read(1 << 20):
                output.write(block)
        found = _sha256(Path(partial))
        if found != artifact.sha256:
            raise ArtifactsMissing(f"{url} has sha256 {found}, but the lock file pins "
                                   f"{artifact.sha256}; not using it")
        os.replace(partial, target)
    finally:
        if os.path.exists(partial):
            os.unlink(partial)


def fetch(root: Path | None = None, repository: str = MAVEN_CENTRAL, log=print) -> int:
    """Fetch every locked jar the cache lacks; returns how many were fetched."""
    root = root or cache_dir()
    wanted = missing(root)
    if not wanted:
        return 0
    megabytes = sum(a.size for a in wanted) / 1e6
    log(f"Fetching {len(wanted)} JVM artifacts ({megabytes:.0f} MB) into {root}...")
    with ThreadPoolExecutor(FETCH_THREADS) as pool:
        for future in [pool.submit(_download, a, root, repository) for a in wanted]:
            future.result()
    return len(wanted)


def classpath(*uses: str, root: Path | None = None) -> list[str]:
    """The cached jars of these uses, in the lock's order; ArtifactsMissing if any is absent."""
    root = root or cache_dir()
    chosen = [a for a in locked() if a.use in uses]
    absent = [a for a in chosen if not _present(a, root)]
    if absent:
        names = ", ".join(a.coordinate for a in absent[:5])
        more = f" and {len(absent) - 5} more" if len(absent) > 5 else ""
        raise ArtifactsMissing(f"{len(absent)} JVM artifact(s) elmr needs are not in {root}: "
                               f"{names}{more}; {SETUP_HINT}")
    return [str(root / a.relative_path) for a in chosen]


def jar(artifact_id: str, root: Path | None = None) -> str:
    """The cached path of one locked jar, by artifact id (e.g. hadoop-streaming)."""
    root = root or cache_dir()
    for artifact in locked():
        if artifact.artifact == artifact_id and not artifact.classifier:
            if not _present(artifact, root):
                raise ArtifactsMissing(f"{artifact.coordinate} is not in {root}; {SETUP_HINT}")
            return str(root / artifact.relative_path)
    raise KeyError(f"{artifact_id} is not in {LOCK_FILE}")


def _use_of(group: str, artifact: str) -> str:
    if artifact in ("hadoop-streaming", "hadoop-mapreduce-examples"):
        return "tool"
    if artifact == "hadoop-aws" or group.startswith("software.amazon.") or group == "org.reactivestreams":
        return "s3a"
    return "hadoop"


def _maven_rows(maven_list: Path) -> list[tuple[str, str, str, Path]]:
    """(group, artifact, pinned coordinate, jar) per line of `mvn dependency:list
    -DoutputAbsoluteArtifactFilename=true`'s output
    (group:artifact:jar[:classifier]:version:scope:/path/to.jar)."""
    rows = []
    for line in maven_list.read_text().splitlines():
        line = line.strip().split(" -- ")[0]
        if ":/" not in line:
            continue
        coordinate, path = line.split(":/", 1)
        fields = coordinate.split(":")
        group, artifact, packaging = fields[:3]
        if packaging == "pom":  # a parent or BOM listed as a dependency: no jar to fetch
            continue
        classifier = fields[3] if len(fields) == 6 else ""
        version = fields[-2]
        pinned = ":".join([group, artifact, version] + ([classifier] if classifier else []))
        rows.append((group, artifact, pinned, Path("/" + path)))
    return rows


def write_lock(maven_list: Path, hive_list: Path | None = None, lock_file: Path = LOCK_FILE) -> int:
    """The lock from Hadoop's resolved closure and, apart, Hive's: a Hive jar whose
    group:artifact Hadoop's closure holds is left out (Hadoop's comes first on the
    classpath, so Hive's copy would never be loaded)."""
    hadoop_rows = _maven_rows(maven_list)
    held = {(group, artifact) for group, artifact, _, _ in hadoop_rows}
    hive_rows = [row for row in (_maven_rows(hive_list) if hive_list else []) if row[:2] not in held]
    used = [(row, _use_of(*row[:2])) for row in hadoop_rows] + [(row, "hive") for row in hive_rows]
    lines = [f"{pinned}\t{_sha256(jar_path)}\t{jar_path.stat().st_size}\t{use}"
             for (_, _, pinned, jar_path), use in used]
    header = ("# elmr's JVM artifacts, written by scripts/lock-jvm-artifacts from jvm/pom.xml and\n"
              "# jvm/hive-pom.xml: do not edit.\n"
              "# coordinate (group:artifact:version[:classifier])\tsha256\tbytes\tuse (hadoop | s3a | tool | hive)\n")
    lock_file.write_text(header + "\n".join(sorted(lines)) + "\n")
    return len(lines)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m elmr.apps.artifacts")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("fetch", help="fetch the locked jars the cache lacks, checking checksums")
    commands.add_parser("check", help="exit 1 naming what the cache lacks")
    lock = commands.add_parser("lock", help="write the lock from mvn dependency:list outputs")
    lock.add_argument("maven_list", type=Path, help="jvm/pom.xml's closure (Hadoop)")
    lock.add_argument("--hive", type=Path, help="jvm/hive-pom.xml's closure")
    args = parser.parse_args(argv)
    try:
        if args.command == "fetch":
            fetched = fetch()
            print(f"JVM artifacts: {len(locked())} locked, {fetched} fetched, cache {cache_dir()}")
        elif args.command == "check":
            classpath(*USES)
            print(f"JVM artifacts: all {len(locked())} present in {cache_dir()}")
        else:
            print(f"locked {write_lock(args.maven_list, args.hive)} jars in {LOCK_FILE}")
    except (ArtifactsMissing, OSError) as failure:
        print(f"elmr: {failure}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
