"""EMR's JSON 1.1 protocol, driven by botocore's own service model
(botocore/data/emr/2009-03-31): decoding and validating a request's input, encoding
an answer, and the error body.

Decoding walks the input shape once and checks every constraint the model declares,
as EMR does on its side (a client may skip its own checks, or not be botocore):
required members, types, lengths, value ranges, enums and patterns; integers within
32 or 64 bits as the shape's type says, finite numbers, timestamps a calendar can
hold, and strings of XML characters only (EMR's own pattern for free text: no NUL,
no unpaired surrogate). Bodies nested deeper than any EMR request are refused before
the walk. Every problem is a ValidationException in EMR's words, naming the member
("Value … at 'instances.instanceCount' failed to satisfy constraint: …"); members the
model does not know are dropped, as AWS ignores a newer client's members.
"""

import json
import math
import re
from datetime import datetime, timezone
from functools import lru_cache

import botocore.session
from botocore.model import OperationModel, Shape

from elmr.service.errors import EmrError, InternalServerException, ValidationException

TARGET_PREFIX = "ElasticMapReduce."
CONTENT_TYPE = "application/x-amz-json-1.1"
# EMR's deepest request (Configurations inside Configurations) is a few levels deep;
# a body nested deeper than this is refused before anything walks it.
MAX_NESTING = 64
# What EMR says when it lists problems: at most this many, as AWS does.
MAX_REPORTED_PROBLEMS = 10
# The model's pattern for free text ("valid XML characters"), applied to every string.
XML_TEXT = "[\\u0020-\\uD7FF\\uE000-\\uFFFD\\uD800\\uDC00-\\uDBFF\\uDFFF\\r\\n\\t]*"
_XML_TEXT_PYTHON = re.compile("[\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff\r\n\t]*")
_INT_RANGES = {"integer": (-2**31, 2**31 - 1), "long": (-2**63, 2**63 - 1)}
# Epoch seconds a timestamp may have: years 1970 to 9999.
_LATEST_EPOCH_S = 253402300799


@lru_cache(maxsize=1)
def service_model():
    return botocore.session.get_session().get_service_model("emr")


def operation_model(name: str) -> OperationModel | None:
    model = service_model()
    return model.operation_model(name) if name in model.operation_names else None


def decode_input(operation: OperationModel, body: bytes) -> dict:
    """The request's parameters, validated, with timestamps as aware datetimes."""
    params = _parse_json(body)
    if not isinstance(params, dict):
        raise ValidationException("The request body must be a JSON object.")
    shape = operation.input_shape
    if shape is None:
        return {}
    problems: list[str] = []
    decoded = _decode(shape, params, "", problems, 0)  # paths are relative to the input
    if problems:
        shown = problems[:MAX_REPORTED_PROBLEMS]
        raise ValidationException(
            f"{len(problems)} validation error{'s' if len(problems) > 1 else ''} detected: "
            + "; ".join(shown)
        )
    return decoded


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not a JSON number")


def _parse_json(body: bytes):
    try:
        return json.loads(body or b"{}", parse_constant=_refuse_constant)
    except RecursionError:
        raise ValidationException(
            f"The request body is nested more than {MAX_NESTING} levels deep.") from None
    except ValueError:  # also invalid UTF-8 and integers of more digits than Python reads
        raise ValidationException("The request body is not valid JSON.") from None


def _member_path(path: str, member: str) -> str:
    name = member[:1].lower() + member[1:]
    return f"{path}.{name}" if path else name


def _shown(value) -> str:
    text = str(value)
    return text if len(text) <= 100 else text[:100] + "..."


def _decode(shape: Shape, value, path: str, problems: list, depth: int):
    """`value` checked against `shape`; returns it cleaned (unknown members dropped,
    timestamps parsed). Problems are appended, never raised, so all are reported."""
    if depth > MAX_NESTING:
        raise ValidationException(f"The request body is nested more than {MAX_NESTING} levels deep.")
    if value is None:
        return None  # JSON null: as if the member were absent (required ones are caught above)
    decoder = _DECODERS.get(shape.type_name)
    if decoder is None:  # blob, document: EMR's inputs have none; refuse rather than guess
        problems.append(f"Value at '{path}' failed to satisfy constraint: Member type "
                        f"{shape.type_name} is not accepted")
        return None
    return decoder(shape, value, path, problems, depth)


def _structure(shape: Shape, value, path: str, problems: list, depth: int):
    if not isinstance(value, dict):
        problems.append(f"Value at '{path}' failed to satisfy constraint: Member must be an object")
        return None
    decoded = {}
    for name in shape.required_members:
        if value.get(name) is None:
            problems.append(f"Value null at '{_member_path(path, name)}' "
                            "failed to satisfy constraint: Member must not be null")
    for name, item in value.items():
        if name in shape.members and item is not None:
            decoded[name] = _decode(shape.members[name], item, _member_path(path, name),
                                    problems, depth + 1)
    if shape.is_tagged_union and len(decoded) != 1:
        problems.append(f"Value at '{path}' failed to satisfy constraint: Member must have "
                        f"exactly one of {', '.join(shape.members)}")
    return decoded


def _list(shape: Shape, value, path: str, problems: list, depth: int):
    if not isinstance(value, list):
        problems.append(f"Value at '{path}' failed to satisfy constraint: Member must be a list")
        return None
    _check_length(shape, len(value), path, problems)
    return [_decode(shape.member, item, f"{path}.{index}.member", problems, depth + 1)
            for index, item in enumerate(value, start=1)]


def _map(shape: Shape, value, path: str, problems: list, depth: int):
    if not isinstance(value, dict):
        problems.append(f"Value at '{path}' failed to satisfy constraint: Member must be a map")
        return None
    _check_length(shape, len(value), path, problems)
    decoded = {}
    for key, item in value.items():
        _string(shape.key, key, f"{path}.key", problems, depth + 1)
        decoded[key] = _decode(shape.value, item, f"{path}.{_shown(key)}", problems, depth + 1)
    return decoded


def _string(shape: Shape, value, path: str, problems: list, depth: int):
    if not isinstance(value, str):
        problems.append(f"Value at '{path}' failed to satisfy constraint: Member must be a string")
        return None
    if not _XML_TEXT_PYTHON.fullmatch(value):
        problems.append(f"Value at '{path}' failed to satisfy constraint: Member must satisfy "
                        f"regular expression pattern: {XML_TEXT}")
        return value
    if shape.enum and value not in shape.enum:
        problems.append(f"Value '{_shown(value)}' at '{path}' failed to satisfy constraint: "
                        f"Member must satisfy enum value set: [{', '.join(shape.enum)}]")
    _check_length(shape, len(value), path, problems)
    pattern = shape.metadata.get("pattern")
    if pattern and not _python_pattern(pattern).fullmatch(value):
        problems.append(f"Value at '{path}' failed to satisfy constraint: Member must satisfy "
                        f"regular expression pattern: {pattern}")
    return value


def _check_length(shape: Shape, length: int, path: str, problems: list) -> None:
    metadata = shape.metadata
    if "min" in metadata and length < metadata["min"]:
        problems.append(f"Value at '{path}' failed to satisfy constraint: "
                        f"Member must have length greater than or equal to {metadata['min']}")
    if "max" in metadata and length > metadata["max"]:
        problems.append(f"Value at '{path}' failed to satisfy constraint: "
                        f"Member must have length less than or equal to {metadata['max']}")


def _integer(shape: Shape, value, path: str, problems: list, depth: int):
    if isinstance(value, bool) or not isinstance(value, int):
        problems.append(f"Value '{_shown(value)}' at '{path}' failed to satisfy constraint: "
                        f"Member must be an integer")
        return None
    lowest, highest = _INT_RANGES[shape.type_name]
    lowest, highest = max(lowest, shape.metadata.get("min", lowest)), min(highest, shape.metadata.get("max", highest))
    _check_range(value, lowest, highest, path, problems)
    return value


def _double(shape: Shape, value, path: str, problems: list, depth: int):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        problems.append(f"Value '{_shown(value)}' at '{path}' failed to satisfy constraint: "
                        f"Member must be a finite number")
        return None
    value = float(value)
    _check_range(value, shape.metadata.get("min", -math.inf), shape.metadata.get("max", math.inf),
                 path, problems)
    return value


def _check_range(value, lowest, highest, path: str, problems: list) -> None:
    if value < lowest:
        problems.append(f"Value '{_shown(value)}' at '{path}' failed to satisfy constraint: "
                        f"Member must have value greater than or equal to {lowest}")
    elif value > highest:
        problems.append(f"Value '{_shown(value)}' at '{path}' failed to satisfy constraint: "
                        f"Member must have value less than or equal to {highest}")


def _boolean(shape: Shape, value, path: str, problems: list, depth: int):
    if not isinstance(value, bool):
        problems.append(f"Value '{_shown(value)}' at '{path}' failed to satisfy constraint: "
                        f"Member must be a boolean")
        return None
    return value


def _timestamp(shape: Shape, value, path: str, problems: list, depth: int):
    """EMR's JSON carries epoch seconds; ISO 8601 text is accepted as botocore sends
    it when told to. Either must name an instant between 1970 and 9999."""
    moment = None
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
        if 0 <= value <= _LATEST_EPOCH_S:
            moment = datetime.fromtimestamp(value, timezone.utc)
    elif isinstance(value, str) and _XML_TEXT_PYTHON.fullmatch(value) and len(value) <= 64:
        moment = _iso_instant(value)
    if moment is None:
        problems.append(f"Value '{_shown(value) if isinstance(value, (int, float)) else ''}' "
                        f"at '{path}' failed to satisfy constraint: Member must be a timestamp "
                        "between 1970-01-01 and 9999-12-31")
    return moment


def _iso_instant(text: str) -> datetime | None:
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment if moment.year >= 1970 else None


_DECODERS = {
    "structure": _structure,
    "list": _list,
    "map": _map,
    "string": _string,
    "integer": _integer,
    "long": _integer,
    "double": _double,
    "float": _double,
    "boolean": _boolean,
    "timestamp": _timestamp,
}


@lru_cache(maxsize=None)
def _python_pattern(java_pattern: str) -> re.Pattern:
    """A model pattern (Java regex syntax) as Python's: Java spells a supplementary
    character as its two UTF-16 surrogates, Python as one code point; Java's \\w and
    \\d are ASCII."""
    translated = java_pattern
    for pair_range in ("\\uD800\\uDC00-\\uDBFF\\uDFFF", "\\uD800\\uDBFF-\\uDC00\\uDFFF"):
        translated = translated.replace(pair_range, "\\U00010000-\\U0010FFFF")
    return re.compile(translated, re.ASCII)


def encode_output(operation: OperationModel, answer: dict) -> bytes:
    shape = operation.output_shape
    return json.dumps(_serialise(shape, answer, shape.name) if shape else {}).encode()


def _serialise(shape: Shape, value, path: str):
    """Walk the answer along the output shape. A member the model does not have is
    a bug in elmr, reported as such rather than sent to a client that would drop it."""
    kind = shape.type_name
    if kind == "structure":
        unknown = set(value) - set(shape.members)
        if unknown:
            raise InternalServerException(f"answer member(s) {sorted(unknown)} not in {path}")
        return {
            key: _serialise(shape.members[key], item, f"{path}.{key}")
            for key, item in value.items() if item is not None
        }
    if kind == "list":
        return [_serialise(shape.member, item, f"{path}[]") for item in value]
    if kind == "map":
        return {key: _serialise(shape.value, item, f"{path}.{key}") for key, item in value.items()}
    if kind == "timestamp":
        return _epoch_seconds(value)
    return value


def _epoch_seconds(moment: datetime) -> float:
    return round(moment.astimezone(timezone.utc).timestamp(), 3)


def encode_error(error: EmrError) -> bytes:
    return json.dumps({"__type": error.code, "message": error.message}).encode()
