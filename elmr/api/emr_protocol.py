"""EMR's JSON 1.1 protocol, driven by botocore's own service model
(botocore/data/emr/2009-03-31): decoding and validating a request's input, encoding
an answer, and the error body.

Validation runs botocore's ParamValidator (required members, types, minimums) and
then the server-side checks AWS makes that the client skips (enums, maximum lengths
and values), so a bad input always gets a ValidationException naming the field.
"""

import json
from datetime import datetime, timezone
from functools import lru_cache

import botocore.session
from botocore.model import OperationModel, Shape
from botocore.utils import parse_to_aware_datetime
from botocore.validate import ParamValidator

from elmr.service.errors import EmrError, InternalServerException, ValidationException

TARGET_PREFIX = "ElasticMapReduce."
CONTENT_TYPE = "application/x-amz-json-1.1"


@lru_cache(maxsize=1)
def service_model():
    return botocore.session.get_session().get_service_model("emr")


def operation_model(name: str) -> OperationModel | None:
    model = service_model()
    return model.operation_model(name) if name in model.operation_names else None


def decode_input(operation: OperationModel, body: bytes) -> dict:
    """The request's parameters, validated, with timestamps as aware datetimes."""
    try:
        params = json.loads(body or b"{}")
    except ValueError:
        raise ValidationException("The request body is not valid JSON.") from None
    if not isinstance(params, dict):
        raise ValidationException("The request body must be a JSON object.")
    shape = operation.input_shape
    if shape is None:
        return {}
    params = _drop_unknown_members(shape, params)
    _check_with_botocore(shape, params)
    problems = []
    _check_server_side(shape, params, _lower_first(shape.name), problems)
    if problems:
        raise ValidationException(
            f"{len(problems)} validation error{'s' if len(problems) > 1 else ''} detected: "
            + "; ".join(problems)
        )
    return _parse_timestamps(shape, params)


def _drop_unknown_members(shape: Shape, value):
    """AWS ignores members it does not know (a newer client's), and so do we."""
    if shape.type_name == "structure" and isinstance(value, dict):
        return {
            key: _drop_unknown_members(shape.members[key], item)
            for key, item in value.items() if key in shape.members
        }
    if shape.type_name == "list" and isinstance(value, list):
        return [_drop_unknown_members(shape.member, item) for item in value]
    if shape.type_name == "map" and isinstance(value, dict):
        return {key: _drop_unknown_members(shape.value, item) for key, item in value.items()}
    return value


def _check_with_botocore(shape: Shape, params: dict) -> None:
    report = ParamValidator().validate(params, shape)
    if report.has_errors():
        lines = report.generate_report().splitlines()
        raise ValidationException("; ".join(line.strip() for line in lines if line.strip()))


def _lower_first(name: str) -> str:
    return name[:1].lower() + name[1:]


def _check_server_side(shape: Shape, value, path: str, problems: list) -> None:
    if value is None:
        return
    kind = shape.type_name
    if kind == "structure":
        for key, item in value.items():
            _check_server_side(shape.members[key], item, f"{path}.{_lower_first(key)}", problems)
    elif kind == "list":
        if "max" in shape.metadata and len(value) > shape.metadata["max"]:
            problems.append(f"Value at '{path}' failed to satisfy constraint: "
                            f"Member must have length less than or equal to {shape.metadata['max']}")
        for index, item in enumerate(value, start=1):
            _check_server_side(shape.member, item, f"{path}.{index}.member", problems)
    elif kind == "map":
        for key, item in value.items():
            _check_server_side(shape.value, item, f"{path}.{key}", problems)
    elif kind == "string":
        if shape.enum and value not in shape.enum:
            problems.append(f"Value '{value}' at '{path}' failed to satisfy constraint: "
                            f"Member must satisfy enum value set: [{', '.join(shape.enum)}]")
        if "max" in shape.metadata and len(value) > shape.metadata["max"]:
            problems.append(f"Value at '{path}' failed to satisfy constraint: "
                            f"Member must have length less than or equal to {shape.metadata['max']}")
    elif kind in ("integer", "long", "double", "float"):
        if "max" in shape.metadata and value > shape.metadata["max"]:
            problems.append(f"Value '{value}' at '{path}' failed to satisfy constraint: "
                            f"Member must have value less than or equal to {shape.metadata['max']}")


def _parse_timestamps(shape: Shape, value):
    kind = shape.type_name
    if kind == "structure":
        return {key: _parse_timestamps(shape.members[key], item) for key, item in value.items()}
    if kind == "list":
        return [_parse_timestamps(shape.member, item) for item in value]
    if kind == "map":
        return {key: _parse_timestamps(shape.value, item) for key, item in value.items()}
    if kind == "timestamp":
        return parse_to_aware_datetime(value)
    return value


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
