"""EMR Studio: CreateStudio, DescribeStudio, ListStudios, UpdateStudio, DeleteStudio,
and the studio session mappings (who may use a studio, with which session policy):
Create/Get/Update/Delete/ListStudioSessionMappings.

Studios are records with EMR's rules (authentication mode and the settings each
mode takes, up to five subnets, an s3:// default location); elmr serves no Studio
workspace UI, so a studio has no Url."""

from sqlalchemy import select

from elmr import ids
from elmr.service import paging
from elmr.service.context import ServiceContext
from elmr.service.errors import InvalidRequestException
from elmr.store.models import Studio, StudioSessionMapping

PAGE_SIZE = 50
MAX_SUBNETS = 5
# CreateStudio's members kept verbatim for DescribeStudio (Name and AuthMode have columns).
_ATTRIBUTES = ("Description", "VpcId", "SubnetIds", "ServiceRole", "UserRole",
               "WorkspaceSecurityGroupId", "EngineSecurityGroupId", "DefaultS3Location",
               "IdpAuthUrl", "IdpRelayStateParameterName", "TrustedIdentityPropagationEnabled",
               "IdcUserAssignment", "IdcInstanceArn", "EncryptionKeyArn")
_SSO_ONLY = ("UserRole", "TrustedIdentityPropagationEnabled", "IdcUserAssignment", "IdcInstanceArn")
_IAM_ONLY = ("IdpAuthUrl", "IdpRelayStateParameterName")


def _check_subnets(subnet_ids: list) -> None:
    if not 1 <= len(subnet_ids) <= MAX_SUBNETS:
        raise InvalidRequestException(f"A studio needs 1 to {MAX_SUBNETS} subnets, not {len(subnet_ids)}.")


def _check_s3_location(location: str) -> None:
    if not location.startswith("s3://") or len(location) <= len("s3://"):
        raise InvalidRequestException(f"DefaultS3Location '{location}' is not an s3:// location.")


def _check_auth_mode(params: dict) -> None:
    """UserRole and the IAM Identity Center settings belong to SSO studios, the
    identity provider's URL to IAM (federated) ones."""
    mode = params["AuthMode"]
    if mode == "SSO" and not params.get("UserRole"):
        raise InvalidRequestException("UserRole is required for a studio with AuthMode SSO.")
    wrong = [key for key in (_IAM_ONLY if mode == "SSO" else _SSO_ONLY) if params.get(key) is not None]
    if wrong:
        raise InvalidRequestException(f"{', '.join(wrong)} cannot be used with AuthMode {mode}.")


def create_studio(ctx: ServiceContext, params: dict) -> dict:
    _check_auth_mode(params)
    _check_subnets(params["SubnetIds"])
    _check_s3_location(params["DefaultS3Location"])
    if not params["Name"].strip():
        raise InvalidRequestException("A studio's Name must not be blank.")
    studio = Studio(id=ids.studio_id(), name=params["Name"], created_at=ctx.clock(),
                    auth_mode=params["AuthMode"],
                    attributes={key: params[key] for key in _ATTRIBUTES if key in params},
                    tags=_checked_tags(params.get("Tags", [])))
    with ctx.store.transaction() as session:
        session.add(studio)
    return {"StudioId": studio.id}


def _checked_tags(tags: list) -> list:
    for tag in tags:
        if not tag.get("Key"):
            raise InvalidRequestException("Tags: a tag key must not be empty.")
    return [{"Key": tag["Key"], "Value": tag.get("Value", "")} for tag in tags]


def studio_row(session, studio_id: str) -> Studio:
    found = session.get(Studio, studio_id)
    if found is None:
        raise InvalidRequestException(f"Studio '{studio_id}' does not exist.")
    return found


def _arn(ctx: ServiceContext, studio_id: str) -> str:
    return f"arn:aws:elasticmapreduce:{ctx.region}:{ctx.account_id}:studio/{studio_id}"


def describe_studio(ctx: ServiceContext, params: dict) -> dict:
    with ctx.store.read() as session:
        studio = studio_row(session, params["StudioId"])
        return {"Studio": {"StudioId": studio.id, "StudioArn": _arn(ctx, studio.id),
                           "Name": studio.name, "AuthMode": studio.auth_mode,
                           "CreationTime": studio.created_at, "Tags": studio.tags,
                           **studio.attributes}}


def list_studios(ctx: ServiceContext, params: dict) -> dict:
    with ctx.store.read() as session:
        studios = session.scalars(select(Studio).order_by(Studio.created_at.desc(), Studio.id)).all()
        summaries = [{"StudioId": s.id, "Name": s.name, "AuthMode": s.auth_mode, "CreationTime": s.created_at,
                      **{k: s.attributes[k] for k in ("VpcId", "Description") if k in s.attributes}}
                     for s in studios]
    page, marker = paging.offset_page(summaries, params.get("Marker"), PAGE_SIZE)
    return {"Studios": page, **({"Marker": marker} if marker else {})}


def update_studio(ctx: ServiceContext, params: dict) -> dict:
    """Name, Description, DefaultS3Location and EncryptionKeyArn are replaced;
    SubnetIds may only add subnets, as in EMR."""
    with ctx.store.transaction() as session:
        studio = studio_row(session, params["StudioId"])
        attributes = dict(studio.attributes)
        if "SubnetIds" in params:
            removed = set(attributes.get("SubnetIds", [])) - set(params["SubnetIds"])
            if removed:
                raise InvalidRequestException(
                    f"UpdateStudio can add subnets but not remove them ({', '.join(sorted(removed))}).")
            _check_subnets(params["SubnetIds"])
            attributes["SubnetIds"] = params["SubnetIds"]
        if "DefaultS3Location" in params:
            _check_s3_location(params["DefaultS3Location"])
            attributes["DefaultS3Location"] = params["DefaultS3Location"]
        for key in ("Description", "EncryptionKeyArn"):
            if key in params:
                attributes[key] = params[key]
        if params.get("Name") is not None:
            if not params["Name"].strip():
                raise InvalidRequestException("A studio's Name must not be blank.")
            studio.name = params["Name"]
        studio.attributes = attributes
    return {}


def delete_studio(ctx: ServiceContext, params: dict) -> dict:
    with ctx.store.transaction() as session:
        studio = studio_row(session, params["StudioId"])
        for mapping in session.scalars(select(StudioSessionMapping).where(
                StudioSessionMapping.studio_id == studio.id)):
            session.delete(mapping)
        session.flush()
        session.delete(studio)
    return {}


def _identity(params: dict) -> tuple[str, str]:
    """(id, name) from a request naming exactly one of IdentityId and IdentityName."""
    given = [key for key in ("IdentityId", "IdentityName") if params.get(key)]
    if len(given) != 1:
        raise InvalidRequestException("Specify either IdentityId or IdentityName, but not both.")
    value = params[given[0]]
    return value, value


def _check_policy_arn(arn: str) -> None:
    if not arn.startswith("arn:") or ":policy/" not in arn:
        raise InvalidRequestException(f"SessionPolicyArn '{arn}' is not the ARN of an IAM policy.")


def _mapping(session, params: dict) -> StudioSessionMapping:
    studio_row(session, params["StudioId"])
    identity_id, _ = _identity(params)
    mapping = session.scalars(select(StudioSessionMapping).where(
        StudioSessionMapping.studio_id == params["StudioId"],
        StudioSessionMapping.identity_type == params["IdentityType"],
        (StudioSessionMapping.identity_id == identity_id) | (StudioSessionMapping.identity_name == identity_id),
    )).first()
    if mapping is None:
        raise InvalidRequestException(
            f"No session mapping for {params['IdentityType']} '{identity_id}' in studio {params['StudioId']}.")
    return mapping


def create_studio_session_mapping(ctx: ServiceContext, params: dict) -> dict:
    identity_id, identity_name = _identity(params)
    _check_policy_arn(params["SessionPolicyArn"])
    with ctx.store.transaction() as session:
        studio = studio_row(session, params["StudioId"])
        if studio.auth_mode != "SSO":
            raise InvalidRequestException(
                f"Studio {studio.id} uses AuthMode {studio.auth_mode}; session mappings are for SSO studios.")
        if session.get(StudioSessionMapping, (studio.id, params["IdentityType"], identity_id)) is not None:
            raise InvalidRequestException(
                f"A session mapping for {params['IdentityType']} '{identity_id}' already exists in studio {studio.id}.")
        session.add(StudioSessionMapping(
            studio_id=studio.id, identity_type=params["IdentityType"], identity_id=identity_id,
            identity_name=identity_name, session_policy_arn=params["SessionPolicyArn"],
            created_at=ctx.clock(), last_modified_at=None))
    return {}


def _mapping_view(mapping: StudioSessionMapping, detail: bool) -> dict:
    view = {"StudioId": mapping.studio_id, "IdentityId": mapping.identity_id,
            "IdentityName": mapping.identity_name, "IdentityType": mapping.identity_type,
            "SessionPolicyArn": mapping.session_policy_arn, "CreationTime": mapping.created_at}
    if detail and mapping.last_modified_at:
        view["LastModifiedTime"] = mapping.last_modified_at
    return view


def get_studio_session_mapping(ctx: ServiceContext, params: dict) -> dict:
    with ctx.store.read() as session:
        return {"SessionMapping": _mapping_view(_mapping(session, params), detail=True)}


def update_studio_session_mapping(ctx: ServiceContext, params: dict) -> dict:
    _check_policy_arn(params["SessionPolicyArn"])
    with ctx.store.transaction() as session:
        mapping = _mapping(session, params)
        mapping.session_policy_arn = params["SessionPolicyArn"]
        mapping.last_modified_at = ctx.clock()
    return {}


def delete_studio_session_mapping(ctx: ServiceContext, params: dict) -> dict:
    with ctx.store.transaction() as session:
        session.delete(_mapping(session, params))
    return {}


def list_studio_session_mappings(ctx: ServiceContext, params: dict) -> dict:
    query = select(StudioSessionMapping).order_by(StudioSessionMapping.created_at,
                                                  StudioSessionMapping.identity_id)
    with ctx.store.read() as session:
        if params.get("StudioId"):
            studio_row(session, params["StudioId"])
            query = query.where(StudioSessionMapping.studio_id == params["StudioId"])
        if params.get("IdentityType"):
            query = query.where(StudioSessionMapping.identity_type == params["IdentityType"])
        summaries = [_mapping_view(m, detail=False) for m in session.scalars(query)]
    page, marker = paging.offset_page(summaries, params.get("Marker"), PAGE_SIZE)
    return {"SessionMappings": page, **({"Marker": marker} if marker else {})}
