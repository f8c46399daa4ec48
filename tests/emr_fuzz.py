"""Requests generated from botocore's EMR model, for the fuzz test: a valid value for
any shape (seeded), and for every member of an operation's input the invalid values
EMR refuses (wrong types, out-of-range and over-long values, NULs, unpaired
surrogates, integers beyond 64 bits, non-finite numbers, deep nesting), each with
the path EMR's ValidationException names."""

import json
import random
from dataclasses import dataclass

from botocore.model import Shape

ROLE_ARN = "arn:aws:iam::123456789012:role/fuzz"
TEXT_POOL = ["x", "j-FUZZ00000000", "s3://fuzz-bucket/key.txt", "Spark", "emr-7.2.0",
             "m5.xlarge", "é\u00e9 \U0001F600", "ON_DEMAND", "a b\tc\nd"]
NESTING = 10_000  # deeper than any parser's stack: the server must refuse, not crash
DEEP = "[" * NESTING + "]" * NESTING  # raw JSON text


@dataclass
class Mutation:
    operation: str
    body: str  # raw JSON text
    path: str  # the member EMR's message must name ('' when the body as a whole is bad)
    what: str


def lower_first(name: str) -> str:
    return name[:1].lower() + name[1:]


# Ids of resources that exist on the fuzzed server (a cluster, its group, a studio…),
# put in by the test so that valid requests reach past "unknown id".
KNOWN_IDS: list[str] = []


def valid_value(shape: Shape, rng: random.Random, depth: int = 0, full: bool = False):
    """A value the model accepts; `full` fills every optional member (to depth 4)."""
    kind = shape.type_name
    if kind == "structure":
        value = {}
        for name, member in shape.members.items():
            wanted = name in shape.required_members or (depth < 4 and (full or rng.random() < 0.3))
            if wanted and not (shape.is_tagged_union and value):
                value[name] = valid_value(member, rng, depth + 1, full)
        return value
    if kind == "list":
        count = max(shape.metadata.get("min", 0), 0 if depth >= 4 else rng.choice([0, 1, 1, 2]))
        return [valid_value(shape.member, rng, depth + 1, full) for _ in range(count)]
    if kind == "map":
        key = _valid_string(shape.key, rng) if shape.key.enum else "k"
        return {} if depth >= 4 else {key: valid_value(shape.value, rng, depth + 1, full)}
    if kind == "string":
        return _valid_string(shape, rng)
    if kind in ("integer", "long"):
        low, high = shape.metadata.get("min", 0), shape.metadata.get("max", 1000)
        return rng.choice([low, high, max(low, min(high, 1))])
    if kind in ("double", "float"):
        return rng.choice([0.0, 1.5, 100.0])
    if kind == "boolean":
        return rng.choice([True, False])
    if kind == "timestamp":
        return rng.choice([0, 1_700_000_000, 253402300799])
    raise AssertionError(f"no generator for {kind}")


def _valid_string(shape: Shape, rng: random.Random) -> str:
    if shape.enum:
        return rng.choice(shape.enum)
    if shape.metadata.get("pattern", "").startswith("^arn:"):
        return ROLE_ARN
    low, high = shape.metadata.get("min", 0), shape.metadata.get("max", 10_000)
    pool = TEXT_POOL + ([""] if low == 0 else []) + ["y" * min(high, 300)]
    text = rng.choice(KNOWN_IDS if KNOWN_IDS and rng.random() < 0.5 else pool)
    if len(text) < low:
        text = text + "z" * (low - len(text))
    return text[:high]


def member_paths(shape: Shape, path: tuple = (), seen: tuple = ()):
    """(path of (member name | list index 0 | map key 'k'), shape) for every member
    reachable from `shape`, each recursive shape entered once."""
    kind = shape.type_name
    if kind == "structure":
        if shape.name in seen:
            return
        for name, member in shape.members.items():
            yield (*path, name), member
            yield from member_paths(member, (*path, name), (*seen, shape.name))
    elif kind == "list":
        yield (*path, 0), shape.member
        yield from member_paths(shape.member, (*path, 0), seen)
    elif kind == "map":
        yield (*path, "k"), shape.value
        yield from member_paths(shape.value, (*path, "k"), seen)


def aws_path(path: tuple) -> str:
    """The member as EMR's messages name it: instances.instanceGroups.1.member.market."""
    parts = []
    for step in path:
        if isinstance(step, int):
            parts.append(f"{step + 1}.member")
        elif parts and parts[-1] == "<map>":
            parts[-1] = step
        else:
            parts.append(lower_first(step))
    return ".".join(parts)


def place(shape: Shape, rng: random.Random, path: tuple, marker: str):
    """A valid value of `shape` whose member at `path` holds the string `marker`
    (replaced by the raw JSON of the bad value afterwards)."""
    if not path:
        return marker
    step, rest = path[0], path[1:]
    if shape.type_name == "structure":
        value = {} if shape.is_tagged_union else valid_value(shape, rng)
        value[step] = place(shape.members[step], rng, rest, marker)
        return value
    if shape.type_name == "list":
        return [place(shape.member, rng, rest, marker)]
    return {"k": place(shape.value, rng, rest, marker)}


def bad_values(shape: Shape) -> list[tuple[str, str]]:
    """(raw JSON, what) values that `shape` refuses."""
    kind = shape.type_name
    wrong_type = {"structure": "[]", "list": "{}", "map": "[1]", "string": "12",
                  "integer": '"12"', "long": "1.5", "double": '"x"', "float": "true",
                  "boolean": '"true"', "timestamp": "[]"}[kind]
    values = [(wrong_type, "wrong type"), (DEEP, "deep nesting")]
    meta = shape.metadata
    if kind == "string":
        values += [(json.dumps("nul\x00byte"), "NUL byte"), ('"lone \\ud800 surrogate"', "lone surrogate"),
                   ('"\\udfff"', "lone low surrogate")]
        if "max" in meta:
            values.append((json.dumps("o" * (meta["max"] + 1)), "over-long"))
        if meta.get("min", 0) > 0:
            values.append(('""', "too short"))
        if shape.enum:
            values.append(('"NOT_AN_ENUM_VALUE"', "not in enum"))
        if "pattern" in meta and meta["pattern"].startswith("^"):
            values.append(('"no match"', "pattern"))
    elif kind in ("integer", "long"):
        values += [(str(2 ** 64), "beyond 64 bits"), (str(-(2 ** 70)), "far below 64 bits"), ("true", "boolean")]
        if kind == "integer":
            values.append((str(2 ** 31), "beyond 32 bits"))
        if "min" in meta:
            values.append((str(meta["min"] - 1), "below minimum"))
        if "max" in meta:
            values.append((str(meta["max"] + 1), "above maximum"))
    elif kind in ("double", "float"):
        values += [("NaN", "NaN"), ("Infinity", "infinite"), ("1e999", "overflowing")]
        if "min" in meta:
            values.append((str(meta["min"] - 1), "below minimum"))
    elif kind == "timestamp":
        values += [("1e20", "far future"), ("-1e20", "far past"), ('"not a date"', "not a date"),
                   ("NaN", "NaN")]
    elif kind == "list" and "max" in meta:
        values.append((json.dumps(["x"] * (meta["max"] + 1)), "too many members"))
    return values


def mutations(operation, rng: random.Random, per_member: int = 3) -> list[Mutation]:
    """Up to `per_member` invalid values for every member of the operation's input
    (chosen by `rng`; NUL and surrogates always among a string's), plus one bad key
    for every map."""
    shape = operation.input_shape
    found = []
    for path, member in member_paths(shape):
        candidates = bad_values(member)
        if member.type_name == "string":
            keep = [c for c in candidates if c[1] in ("NUL byte", "lone surrogate")]
            rest = [c for c in candidates if c not in keep]
            chosen = keep + rng.sample(rest, min(len(rest), max(0, per_member - 1)))
        else:
            chosen = rng.sample(candidates, min(len(candidates), per_member))
        for raw, what in chosen:
            marker = "\u2603MARK\u2603"
            request = place(shape, rng, path, marker)
            body = json.dumps(request).replace(json.dumps(marker), raw)
            found.append(Mutation(operation.name, body, aws_path(path), what))
        if member.type_name == "map":
            marker = "\u2603MARK\u2603"
            request = place(shape, rng, path, marker)
            body = json.dumps(request).replace(json.dumps(marker), '{"bad\\u0000key": "v"}')
            found.append(Mutation(operation.name, body, aws_path(path), "NUL in a map key"))
    return found
