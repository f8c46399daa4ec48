"""Notebook executions: StartNotebookExecution, DescribeNotebookExecution,
ListNotebookExecutions, StopNotebookExecution, and what the cluster's master node
says and sends about them.

A run goes START_PENDING (recorded; the cluster may still be starting) → STARTING
(handed to the master's agent in a heartbeat reply) → RUNNING (the agent runs it
with papermill: the notebook from s3://, the parameters injected) → FINISHED or
FAILED, once the agent has sent the executed notebook, which the server writes to
`<OutputNotebookS3Location>/<execution-id>/<notebook name>` (and an .html beside it
when OutputNotebookFormat is HTML). StopNotebookExecution makes a pending run
STOPPED at once and a started one STOP_PENDING until the agent has stopped it.
"""

import json
from datetime import datetime
from pathlib import PurePosixPath

from sqlalchemy import select

from elmr import ids, node_protocol
from elmr.objectstore import objects
from elmr.objectstore.errors import S3Error
from elmr.service import lookups, paging
from elmr.service.context import ServiceContext
from elmr.service.errors import InvalidRequestException, ValidationException
from elmr.store.models import Cluster, Instance, NotebookExecution
from elmr.store import notebook_rules
from elmr.store.notebook_rules import TERMINAL
from elmr.store.states import CLUSTER_TERMINAL

PAGE_SIZE = 50
# States in which the master's agent is told to run (or keep running) an execution.
_HANDED_TO_AGENT = ("START_PENDING", "STARTING", "RUNNING", "STOP_PENDING", "STOPPING")
_AGENT_STATES = {node_protocol.NOTEBOOK_RUNNING: "RUNNING", node_protocol.NOTEBOOK_FINISHED: "FINISHED",
                 node_protocol.NOTEBOOK_FAILED: "FAILED", node_protocol.NOTEBOOK_STOPPED: "STOPPED"}


def _location(params: dict, member: str) -> tuple[str, str]:
    location = params.get(member) or {}
    bucket, key = location.get("Bucket") or "", location.get("Key") or ""
    if not bucket or not key:
        raise InvalidRequestException(f"{member} needs both Bucket and Key.")
    return bucket, key


def _notebook_source(ctx: ServiceContext, params: dict) -> tuple[str, str]:
    """The notebook's bucket and key. EMR also runs a notebook of an EMR Notebook
    (EditorId + RelativePath); elmr has no EMR Notebooks, only s3:// files."""
    if params.get("EditorId") or params.get("RelativePath"):
        if params.get("NotebookS3Location"):
            raise InvalidRequestException(
                "Specify either EditorId and RelativePath or NotebookS3Location, not both.")
        raise InvalidRequestException(
            "elmr has no EMR Notebooks (EditorId); give the notebook's NotebookS3Location instead.")
    bucket, key = _location(params, "NotebookS3Location")
    if not key.endswith(".ipynb"):
        raise InvalidRequestException(f"NotebookS3Location.Key '{key}' is not a notebook (.ipynb) file.")
    try:
        objects.head_object(ctx, bucket, key)
    except S3Error as error:
        raise InvalidRequestException(f"s3://{bucket}/{key}: {error.message}.") from None
    return bucket, key


def _output_prefix(ctx: ServiceContext, params: dict) -> tuple[str, str]:
    bucket, key = _location(params, "OutputNotebookS3Location")
    try:
        objects.head_bucket(ctx, bucket)
    except S3Error:
        raise InvalidRequestException(f"OutputNotebookS3Location: bucket '{bucket}' does not exist.") from None
    return bucket, key.strip("/")


def _parameters(text: str | None) -> dict:
    if not text:
        return {}
    try:
        parameters = json.loads(text)
    except (ValueError, RecursionError):
        raise InvalidRequestException("NotebookParams must be a JSON object.") from None
    if not isinstance(parameters, dict):
        raise InvalidRequestException("NotebookParams must be a JSON object.")
    return parameters


def start_notebook_execution(ctx: ServiceContext, params: dict) -> dict:
    engine = params["ExecutionEngine"]
    _parameters(params.get("NotebookParams"))
    _, source_key = _notebook_source(ctx, params)
    output_bucket, output_prefix = _output_prefix(ctx, params)
    execution_id = ids.notebook_execution_id()
    notebook_name = PurePosixPath(source_key).name
    with ctx.store.transaction() as session:
        cluster = lookups.cluster(session, engine["Id"])
        if cluster.state in CLUSTER_TERMINAL or cluster.state == "TERMINATING":
            raise InvalidRequestException(
                f"Cluster {cluster.id} is {cluster.state}; a notebook runs on an active cluster.")
        session.add(NotebookExecution(
            id=execution_id, cluster_id=cluster.id, state="START_PENDING",
            name=params.get("NotebookExecutionName") or "", created_at=ctx.clock(),
            request={key: params[key] for key in params if key != "Tags"},
            output_uri=f"s3://{output_bucket}/{'/'.join(p for p in (output_prefix, execution_id, notebook_name) if p)}",
            tags=params.get("Tags", []), state_reason_message="Waiting for the cluster's master node"))
    ctx.wake_reconciler()
    return {"NotebookExecutionId": execution_id}


def _execution(session, execution_id: str) -> NotebookExecution:
    found = session.get(NotebookExecution, execution_id)
    if found is None:
        raise InvalidRequestException(f"Notebook execution '{execution_id}' does not exist.")
    return found


def _arn(ctx: ServiceContext, execution_id: str) -> str:
    return f"arn:aws:elasticmapreduce:{ctx.region}:{ctx.account_id}:notebook-execution/{execution_id}"


def _described(ctx: ServiceContext, execution: NotebookExecution) -> dict:
    request = execution.request
    described = {
        "NotebookExecutionId": execution.id,
        "ExecutionEngine": {"Type": "EMR", **request["ExecutionEngine"]},
        "NotebookExecutionName": execution.name,
        "Status": execution.state,
        "StartTime": execution.created_at,
        "EndTime": execution.ended_at,
        "Arn": _arn(ctx, execution.id),
        "OutputNotebookURI": execution.output_uri,
        "LastStateChangeReason": execution.state_reason_message or "",
        "Tags": execution.tags,
    }
    for key in ("EditorId", "NotebookParams", "NotebookInstanceSecurityGroupId", "NotebookS3Location",
                "OutputNotebookS3Location", "OutputNotebookFormat", "EnvironmentVariables"):
        if key in request:
            described[key] = request[key]
    return described


def describe_notebook_execution(ctx: ServiceContext, params: dict) -> dict:
    with ctx.store.read() as session:
        return {"NotebookExecution": _described(ctx, _execution(session, params["NotebookExecutionId"]))}


def list_notebook_executions(ctx: ServiceContext, params: dict) -> dict:
    """Newest first; From and To bound the start time."""
    query = select(NotebookExecution).order_by(NotebookExecution.created_at.desc(), NotebookExecution.id)
    if params.get("Status"):
        query = query.where(NotebookExecution.state == params["Status"])
    if params.get("ExecutionEngineId"):
        query = query.where(NotebookExecution.cluster_id == params["ExecutionEngineId"])
    if params.get("From"):
        query = query.where(NotebookExecution.created_at >= params["From"])
    if params.get("To"):
        query = query.where(NotebookExecution.created_at <= params["To"])
    with ctx.store.read() as session:
        rows = session.scalars(query).all()
        summaries = [_summary(row) for row in rows
                     if not params.get("EditorId") or row.request.get("EditorId") == params["EditorId"]]
    page, marker = paging.offset_page(summaries, params.get("Marker"), PAGE_SIZE)
    return {"NotebookExecutions": page, **({"Marker": marker} if marker else {})}


def _summary(row: NotebookExecution) -> dict:
    summary = {"NotebookExecutionId": row.id, "NotebookExecutionName": row.name, "Status": row.state,
               "StartTime": row.created_at, "EndTime": row.ended_at, "ExecutionEngineId": row.cluster_id}
    if "NotebookS3Location" in row.request:
        summary["NotebookS3Location"] = row.request["NotebookS3Location"]
    return summary


def stop_notebook_execution(ctx: ServiceContext, params: dict) -> dict:
    with ctx.store.transaction() as session:
        execution = _execution(session, params["NotebookExecutionId"])
        if execution.state in TERMINAL:
            raise InvalidRequestException(
                f"Notebook execution {execution.id} is {execution.state} and cannot be stopped.")
        if execution.state == "START_PENDING":
            notebook_rules.end(execution, "STOPPED", ctx.clock(), "Stopped by user request")
        elif not execution.stop_requested:
            execution.stop_requested = True
            execution.state = "STOP_PENDING"
            execution.state_reason_message = "Stop requested by user"
    ctx.wake_reconciler()
    return {}


# The master node's side: orders in heartbeat replies, reports in heartbeats.

def orders_for_master(session, cluster: Cluster) -> dict:
    """What the master's agent should run and stop. Runs are handed over once the
    cluster is up (RUNNING or WAITING); a pending one is then STARTING."""
    if cluster.state not in ("RUNNING", "WAITING"):
        return {"run_notebooks": [], "stop_notebooks": []}
    executions = session.scalars(select(NotebookExecution).where(
        NotebookExecution.cluster_id == cluster.id, NotebookExecution.state.in_(_HANDED_TO_AGENT))).all()
    for execution in executions:
        if execution.state == "START_PENDING":
            execution.state, execution.state_reason_message = "STARTING", "Starting on the master node"
    return {
        "run_notebooks": [_order(execution) for execution in executions],
        "stop_notebooks": [execution.id for execution in executions if execution.stop_requested],
    }


def _order(execution: NotebookExecution) -> dict:
    request = execution.request
    source = request["NotebookS3Location"]
    return {
        "execution_id": execution.id,
        "notebook_uri": f"s3://{source['Bucket']}/{source['Key']}",
        "parameters": _parameters(request.get("NotebookParams")),
        "environment": request.get("EnvironmentVariables") or {},
        "html": request.get("OutputNotebookFormat") == "HTML",
    }


def apply_reports(session, cluster: Cluster, reports: list, now: datetime) -> None:
    for report in reports:
        if not isinstance(report, dict):
            continue
        execution = session.get(NotebookExecution, str(report.get("execution_id", "")))
        state = _AGENT_STATES.get(report.get("state"))
        if execution is None or execution.cluster_id != cluster.id or execution.state in TERMINAL or not state:
            continue
        message = str(report.get("message") or "")[:10000]
        if state == "RUNNING":
            if execution.state in ("START_PENDING", "STARTING"):
                execution.state, execution.state_reason_message = "RUNNING", "Running on the master node"
        else:
            notebook_rules.end(execution, state, now, message or {"FINISHED": "Execution is finished",
                                                     "STOPPED": "Stopped by user request"}.get(state, ""))


def store_output(ctx: ServiceContext, node: Instance, relative: PurePosixPath, body: bytes) -> None:
    """The executed notebook (or its HTML) the master's agent sends, at
    `<execution-id>/<name>`: written to the execution's output location."""
    if len(relative.parts) != 2 or relative.suffix not in (".ipynb", ".html"):
        raise ValidationException(f"Notebook output path '{relative}' is not valid.")
    execution_id, suffix = relative.parts[0], relative.suffix
    with ctx.store.read() as session:
        execution = session.get(NotebookExecution, execution_id)
        if execution is None or execution.cluster_id != node.cluster_id or node.role != "MASTER":
            raise ValidationException(f"Node {node.id} runs no notebook execution {execution_id}.")
        target = execution.output_uri if suffix == ".ipynb" else execution.output_uri.removesuffix(".ipynb") + ".html"
    bucket, key = target.removeprefix("s3://").split("/", 1)
    _put(ctx, bucket, key, body, "application/x-ipynb+json" if suffix == ".ipynb" else "text/html")


def _put(ctx: ServiceContext, bucket: str, key: str, body: bytes, content_type: str) -> None:
    try:
        objects.put_bytes(ctx, bucket, key, body, content_type)
    except S3Error as error:
        raise InvalidRequestException(f"s3://{bucket}/{key}: {error.message}") from None

