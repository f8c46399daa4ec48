"""Ids shaped like EMR's: j-/ig-/if-/ci-/s- followed by 13 upper-case letters and digits,
and EC2-style i- followed by 17 hex digits. Random, so two servers sharing one
PostgreSQL never hand out the same id."""

import secrets
import string

_ALPHABET = string.ascii_uppercase + string.digits


def _emr_suffix(length: int = 13) -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(length))


def cluster_id() -> str:
    return "j-" + _emr_suffix()


def instance_group_id() -> str:
    return "ig-" + _emr_suffix()


def instance_fleet_id() -> str:
    return "if-" + _emr_suffix()


def instance_id() -> str:
    return "ci-" + _emr_suffix()


def step_id() -> str:
    return "s-" + _emr_suffix()


def ec2_instance_id() -> str:
    return "i-" + secrets.token_hex(9)[:17]


def agent_token() -> str:
    return secrets.token_urlsafe(32)


def _long_suffix() -> str:
    """EMR's newer resources (studios, notebook executions, app UIs) carry 25."""
    return _emr_suffix(25)


def studio_id() -> str:
    return "es-" + _long_suffix()


def notebook_execution_id() -> str:
    return "ex-" + _long_suffix()


def persistent_app_ui_id() -> str:
    return "p-" + _long_suffix()


def temporary_access_key_id() -> str:
    """Shaped like AWS's temporary keys (ASIA…), which SDKs pair with a session token."""
    return "ASIA" + "".join(secrets.choice(string.ascii_uppercase + "234567") for _ in range(16))


def secret_access_key() -> str:
    return secrets.token_urlsafe(30)[:40]
