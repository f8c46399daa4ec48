"""Security configurations: CreateSecurityConfiguration, DescribeSecurityConfiguration,
ListSecurityConfigurations, DeleteSecurityConfiguration, and the rule RunJobFlow
follows (its SecurityConfiguration must name one that exists).

The document is EMR's JSON (encryption, Kerberos authentication, authorization,
instance metadata service), checked as EMR checks it: known sections and keys only,
the switches EMR requires, the settings each mode needs. elmr keeps it and shows it
on the cluster; its nodes neither encrypt nor run a KDC (they listen on loopback
addresses only)."""

import json

from sqlalchemy import select

from elmr.service import paging
from elmr.service.context import ServiceContext
from elmr.service.errors import InvalidRequestException, ValidationException
from elmr.store.models import Cluster, SecurityConfiguration
from elmr.store.states import CLUSTER_TERMINAL

PAGE_SIZE = 50
MAX_NAME_LENGTH = 256
MAX_DOCUMENT_BYTES = 10240  # the console's limit on a security configuration's JSON

# The document's shape: a key maps to a nested spec (an object of these keys), a
# tuple of allowed values, a type, or `object` (any JSON object, not looked into).
_S3_ENCRYPTION = {"EncryptionMode": ("SSE-S3", "SSE-KMS", "CSE-KMS", "CSE-Custom"),
                  "AwsKmsKey": str, "S3Object": str, "EncryptionKeyProviderClass": str,
                  "Overrides": list}
_LOCAL_DISK_ENCRYPTION = {"EncryptionKeyProviderType": ("AwsKms", "Custom"), "AwsKmsKey": str,
                          "S3Object": str, "EncryptionKeyProviderClass": str,
                          "EnableEbsEncryption": bool}
_DOCUMENT = {
    "EncryptionConfiguration": {
        "EnableInTransitEncryption": bool,
        "EnableAtRestEncryption": bool,
        "InTransitEncryptionConfiguration": {
            "TLSCertificateConfiguration": {
                "CertificateProviderType": ("PEM", "Custom"), "S3Object": str,
                "CertificateProviderClass": str},
        },
        "AtRestEncryptionConfiguration": {
            "S3EncryptionConfiguration": _S3_ENCRYPTION,
            "LocalDiskEncryptionConfiguration": _LOCAL_DISK_ENCRYPTION,
        },
    },
    "AuthenticationConfiguration": {
        "KerberosConfiguration": {
            "Provider": ("ClusterDedicatedKdc", "ExternalKdc"),
            "ClusterDedicatedKdcConfiguration": {"TicketLifetimeInHours": int,
                                                 "CrossRealmTrustConfiguration": object},
            "ExternalKdcConfiguration": object,
        },
    },
    "AuthorizationConfiguration": {
        "IAMConfiguration": {"EnableApplicationScopedIAMRole": bool,
                             "ApplicationScopedIAMRoleConfiguration": {"PropagateSourceIdentity": bool}},
        "EmrFsConfiguration": {"RoleMappings": list},
        "LakeFormationConfiguration": {"AuthorizedSessionTagValue": str},
    },
    "InstanceMetadataServiceConfiguration": {
        "MinimumInstanceMetadataServiceVersion": (1, 2),
        "HttpPutResponseHopLimit": int,
    },
}


def _invalid(message: str) -> InvalidRequestException:
    return InvalidRequestException(f"Invalid SecurityConfiguration: {message}")


def _check_against(spec: dict, value, where: str) -> None:
    if not isinstance(value, dict):
        raise _invalid(f"{where} must be a JSON object.")
    for key, item in value.items():
        if key not in spec:
            raise _invalid(f"{where} has no setting '{key}'; it takes {', '.join(spec)}.")
        _check_value(spec[key], item, f"{where}.{key}" if where != "the document" else key)


def _check_value(expected, item, where: str) -> None:
    if isinstance(expected, dict):
        _check_against(expected, item, where)
    elif isinstance(expected, tuple):
        if item not in expected or isinstance(item, bool):
            raise _invalid(f"{where} must be one of {', '.join(map(str, expected))}.")
    elif expected is object:
        if not isinstance(item, dict):
            raise _invalid(f"{where} must be a JSON object.")
    elif not isinstance(item, expected) or (expected is int and isinstance(item, bool)):
        kind = {bool: "true or false", int: "a whole number", str: "a string", list: "a list"}[expected]
        raise _invalid(f"{where} must be {kind}.")


def _require(section: dict, key: str, where: str) -> None:
    if key not in section:
        raise _invalid(f"{where}.{key} is required.")


def _check_encryption(encryption: dict) -> None:
    where = "EncryptionConfiguration"
    for switch in ("EnableInTransitEncryption", "EnableAtRestEncryption"):
        _require(encryption, switch, where)
    if encryption["EnableInTransitEncryption"]:
        _require(encryption, "InTransitEncryptionConfiguration", where)
        tls = encryption["InTransitEncryptionConfiguration"].get("TLSCertificateConfiguration")
        if not tls:
            raise _invalid(f"{where}.InTransitEncryptionConfiguration.TLSCertificateConfiguration is required.")
        _require(tls, "CertificateProviderType", "TLSCertificateConfiguration")
        _require(tls, "S3Object", "TLSCertificateConfiguration")
        if tls["CertificateProviderType"] == "Custom":
            _require(tls, "CertificateProviderClass", "TLSCertificateConfiguration")
    if encryption["EnableAtRestEncryption"]:
        _require(encryption, "AtRestEncryptionConfiguration", where)
        at_rest = encryption["AtRestEncryptionConfiguration"]
        if not at_rest:
            raise _invalid("AtRestEncryptionConfiguration needs S3EncryptionConfiguration or "
                           "LocalDiskEncryptionConfiguration.")
        if "S3EncryptionConfiguration" in at_rest:
            _check_key_source(at_rest["S3EncryptionConfiguration"], "EncryptionMode",
                              "S3EncryptionConfiguration", kms=("SSE-KMS", "CSE-KMS"), custom=("CSE-Custom",))
        if "LocalDiskEncryptionConfiguration" in at_rest:
            _check_key_source(at_rest["LocalDiskEncryptionConfiguration"], "EncryptionKeyProviderType",
                              "LocalDiskEncryptionConfiguration", kms=("AwsKms",), custom=("Custom",))


def _check_key_source(section: dict, mode_key: str, where: str, kms: tuple, custom: tuple) -> None:
    """KMS modes need the key's ARN; custom providers the JAR (S3Object) and its class."""
    _require(section, mode_key, where)
    if section[mode_key] in kms:
        _require(section, "AwsKmsKey", where)
    if section[mode_key] in custom:
        _require(section, "S3Object", where)
        _require(section, "EncryptionKeyProviderClass", where)


def _check_document(text: str) -> None:
    if len(text.encode()) > MAX_DOCUMENT_BYTES:
        raise _invalid(f"the document is longer than {MAX_DOCUMENT_BYTES} bytes.")
    try:
        document = json.loads(text)
    except (ValueError, RecursionError):
        raise _invalid("the document is not valid JSON.") from None
    _check_against(_DOCUMENT, document, "the document")
    if not document:
        raise _invalid(f"the document must have at least one of {', '.join(_DOCUMENT)}.")
    if "EncryptionConfiguration" in document:
        _check_encryption(document["EncryptionConfiguration"])
    kerberos = document.get("AuthenticationConfiguration", {}).get("KerberosConfiguration")
    if kerberos is not None:
        _require(kerberos, "Provider", "KerberosConfiguration")
    metadata_service = document.get("InstanceMetadataServiceConfiguration", {})
    if not 1 <= metadata_service.get("HttpPutResponseHopLimit", 1) <= 64:
        raise _invalid("InstanceMetadataServiceConfiguration.HttpPutResponseHopLimit must be between 1 and 64.")


def _check_name(name: str) -> None:
    if not name.strip() or len(name) > MAX_NAME_LENGTH:
        raise InvalidRequestException(
            f"A security configuration's name must be 1 to {MAX_NAME_LENGTH} characters, not blank.")


def create_security_configuration(ctx: ServiceContext, params: dict) -> dict:
    name, document = params["Name"], params["SecurityConfiguration"]
    _check_name(name)
    _check_document(document)
    now = ctx.clock()
    with ctx.store.transaction() as session:
        if session.get(SecurityConfiguration, name) is not None:
            raise InvalidRequestException(f"SecurityConfiguration with name '{name}' already exists.")
        session.add(SecurityConfiguration(name=name, document=document, created_at=now))
    return {"Name": name, "CreationDateTime": now}


def _named(session, name: str) -> SecurityConfiguration:
    found = session.get(SecurityConfiguration, name)
    if found is None:
        raise InvalidRequestException(f"Security configuration with name '{name}' does not exist.")
    return found


def describe_security_configuration(ctx: ServiceContext, params: dict) -> dict:
    with ctx.store.read() as session:
        found = _named(session, params["Name"])
        return {"Name": found.name, "SecurityConfiguration": found.document,
                "CreationDateTime": found.created_at}


def list_security_configurations(ctx: ServiceContext, params: dict) -> dict:
    """Newest first, as EMR lists them."""
    with ctx.store.read() as session:
        rows = session.scalars(select(SecurityConfiguration).order_by(
            SecurityConfiguration.created_at.desc(), SecurityConfiguration.name)).all()
        summaries = [{"Name": row.name, "CreationDateTime": row.created_at} for row in rows]
    page, marker = paging.offset_page(summaries, params.get("Marker"), PAGE_SIZE)
    return {"SecurityConfigurations": page, **({"Marker": marker} if marker else {})}


def delete_security_configuration(ctx: ServiceContext, params: dict) -> dict:
    """A configuration a live cluster was started with stays until that cluster ends."""
    with ctx.store.transaction() as session:
        found = _named(session, params["Name"])
        users = [cluster.id for cluster in session.scalars(
            select(Cluster).where(Cluster.state.not_in(CLUSTER_TERMINAL)))
            if cluster.request_extras.get("SecurityConfiguration") == found.name]
        if users:
            raise InvalidRequestException(
                f"Security configuration '{found.name}' is in use by cluster(s) {', '.join(users)}.")
        session.delete(found)
    return {}


def check_exists(session, name: str) -> None:
    """RunJobFlow's SecurityConfiguration must name a configuration that exists
    (RunJobFlow's errors are ValidationExceptions)."""
    if session.get(SecurityConfiguration, name) is None:
        raise ValidationException(f"Security configuration '{name}' does not exist.")


def document(session, name: str) -> dict:
    found = session.get(SecurityConfiguration, name)
    return json.loads(found.document) if found is not None else {}


def runtime_roles_enabled(session, cluster) -> bool:
    """Whether the cluster's security configuration turns on runtime roles (EMR's
    EnableApplicationScopedIAMRole)."""
    name = cluster.request_extras.get("SecurityConfiguration")
    iam = document(session, name).get("AuthorizationConfiguration", {}).get("IAMConfiguration", {}) if name else {}
    return bool(iam.get("EnableApplicationScopedIAMRole"))
