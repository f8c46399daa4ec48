"""`s3-dist-cp` on an elmr node: EMR's copy tool with EMR's flags, built on Hadoop's
own tools. A plain copy (with --srcPattern) is Hadoop's DistCp, a MapReduce job on the
cluster's YARN, keeping the source's relative paths: files the pattern leaves out are
given to DistCp as exclusion filters. --groupBy and --outputCodec concatenate or
compress through Hadoop's file system shell (`hadoop fs -cat | … | hadoop fs -put`).

Flags: --src, --dest, --srcPattern, --groupBy, --targetSize (MiB), --outputCodec
(gzip|gz|none|keep), --deleteOnSuccess. Any other flag EMR's tool has is refused with a
message naming it, never ignored.
"""

import argparse
import gzip
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

CODECS = {"gzip": ".gz", "gz": ".gz", "none": "", "keep": ""}


class UsageError(ValueError):
    pass


@dataclass(frozen=True)
class SourceFile:
    path: str  # full URI, as `hadoop fs -ls -R` prints it
    size: int


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="s3-dist-cp", allow_abbrev=False)
    parser.add_argument("--src", required=True)
    parser.add_argument("--dest", required=True)
    parser.add_argument("--srcPattern")
    parser.add_argument("--groupBy")
    parser.add_argument("--targetSize", type=int, help="MiB per output file of a group")
    parser.add_argument("--outputCodec", default="keep", type=str.lower)
    parser.add_argument("--deleteOnSuccess", action="store_true")
    args, unknown = parser.parse_known_args(argv)  # --src=X and --src X alike
    if unknown:
        raise UsageError(f"s3-dist-cp: elmr does not support {' '.join(unknown)} "
                         f"(supported: --src --dest --srcPattern --groupBy --targetSize --outputCodec "
                         f"--deleteOnSuccess)")
    if args.outputCodec not in CODECS:
        raise UsageError(f"s3-dist-cp: unknown --outputCodec {args.outputCodec} (gzip, gz, none or keep)")
    if args.groupBy and re.compile(args.groupBy).groups == 0:
        raise UsageError("s3-dist-cp: --groupBy needs a regular expression with a capture group")
    return args


def _hadoop(*args: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(["hadoop", *args], check=True, **kwargs)


def list_files(src: str) -> list[SourceFile]:
    listing = _hadoop("fs", "-ls", "-R", src, capture_output=True, text=True).stdout
    files = []
    for line in listing.splitlines():
        fields = line.split(None, 7)
        if len(fields) == 8 and fields[0].startswith("-"):
            files.append(SourceFile(fields[7], int(fields[4])))
    return files


def _relative(path: str, src: str) -> str:
    return path[len(src.rstrip("/")) + 1:] if path.startswith(src.rstrip("/") + "/") else path.rsplit("/", 1)[-1]


def groups_of(files: list[SourceFile], group_by: str, target_mib: int | None) -> dict[str, list[SourceFile]]:
    """Files whose path matches --groupBy, by the text of its capture groups; with
    --targetSize a group is cut into parts of about that size (named KEY, KEY-1…)."""
    pattern = re.compile(group_by)
    grouped: dict[str, list[SourceFile]] = {}
    for source in sorted(files, key=lambda f: f.path):
        match = pattern.fullmatch(source.path) or pattern.search(source.path)
        if match:
            grouped.setdefault("".join(g or "" for g in match.groups()), []).append(source)
    if not target_mib:
        return grouped
    limit, parts = target_mib * 1024 * 1024, {}
    for key, members in grouped.items():
        chunk, size, number = [], 0, 0
        for source in members:
            if chunk and size + source.size > limit:
                parts[key if number == 0 else f"{key}-{number}"] = chunk
                chunk, size, number = [], 0, number + 1
            chunk.append(source)
            size += source.size
        parts[key if number == 0 else f"{key}-{number}"] = chunk
    return parts


def _write_concatenated(sources: list[SourceFile], target: str, codec: str) -> None:
    """`hadoop fs -cat` of the sources into `hadoop fs -put -f - TARGET`, gzipped
    on the way when the codec asks for it."""
    cat = subprocess.Popen(["hadoop", "fs", "-cat", *[s.path for s in sources]], stdout=subprocess.PIPE)
    put = subprocess.Popen(["hadoop", "fs", "-put", "-f", "-", target], stdin=subprocess.PIPE)
    compressor = gzip.GzipFile(fileobj=put.stdin, mode="wb") if CODECS[codec] else put.stdin
    while block := cat.stdout.read(1 << 20):
        compressor.write(block)
    if compressor is not put.stdin:
        compressor.close()
    put.stdin.close()
    if cat.wait() != 0 or put.wait() != 0:
        raise subprocess.CalledProcessError(cat.returncode or put.returncode, f"copy to {target}")


def copy(args: argparse.Namespace) -> list[SourceFile]:
    """Copy what the flags select; returns the source files copied."""
    files = list_files(args.src)
    chosen = [f for f in files if not args.srcPattern or re.fullmatch(args.srcPattern, f.path)]
    dest = args.dest.rstrip("/")
    if args.groupBy:
        groups = groups_of(chosen, args.groupBy, args.targetSize)
        for key, members in groups.items():
            _write_concatenated(members, f"{dest}/{key}{CODECS[args.outputCodec]}", args.outputCodec)
        return [source for members in groups.values() for source in members]
    if CODECS[args.outputCodec]:
        for source in chosen:
            _write_concatenated([source], f"{dest}/{_relative(source.path, args.src)}.gz", args.outputCodec)
        return chosen
    _distcp(args.src, dest, [f for f in files if f not in chosen])
    return chosen


def _distcp(src: str, dest: str, left_out: list[SourceFile]) -> None:
    """Hadoop's DistCp of SRC's contents into DEST; `left_out` files excluded by
    exact-path filters (DistCp's filters exclude what matches)."""
    with tempfile.NamedTemporaryFile("w", suffix=".filters", delete=False) as filters:
        filters.write("".join(f"{re.escape(source.path)}\n" for source in left_out))
    try:
        _hadoop("distcp", "-update", "-filters", filters.name, src, dest)
    finally:
        Path(filters.name).unlink()


def main(argv: list[str]) -> int:
    try:
        args = parse_args(argv)
        copied = copy(args)
        if args.deleteOnSuccess and copied:
            _hadoop("fs", "-rm", "-skipTrash", *[source.path for source in copied])
    except UsageError as usage:
        print(usage, file=sys.stderr)
        return 2
    except subprocess.CalledProcessError as failure:
        print(f"s3-dist-cp: {failure}", file=sys.stderr)
        return 1
    print(f"s3-dist-cp: copied {len(copied)} file(s) from {args.src} to {args.dest}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
