"""Step operations: AddJobFlowSteps, ListSteps, DescribeStep, CancelSteps. Steps are
recorded PENDING; the reconciler hands them to the master node in order, up to the
cluster's StepConcurrencyLevel at a time."""

from sqlalchemy import func, select

from elmr.service import lookups, paging, views
from elmr.service.context import ServiceContext
from elmr.service.errors import InvalidRequestException, ValidationException
from elmr.service.steps_intake import new_steps
from elmr.store.models import Step
from elmr.store.states import CLUSTER_TERMINAL, STEP_TERMINAL, transition

STEPS_PAGE_SIZE = 50
MAX_ACTIVE_STEPS = 256  # EMR's limit of PENDING and RUNNING steps per cluster


def add_job_flow_steps(ctx: ServiceContext, params: dict) -> dict:
    with ctx.store.transaction() as session:
        cluster = lookups.job_flow(session, params["JobFlowId"])
        if cluster.state in CLUSTER_TERMINAL or cluster.state == "TERMINATING":
            raise ValidationException(
                "A job flow that is shutting down, terminated, or finished may not be modified."
            )
        active = session.scalar(select(func.count()).select_from(Step).where(
            Step.cluster_id == cluster.id, Step.state.in_(("PENDING", "RUNNING"))))
        if active + len(params["Steps"]) > MAX_ACTIVE_STEPS:
            raise ValidationException(
                f"A cluster can have at most {MAX_ACTIVE_STEPS} PENDING and RUNNING steps.")
        steps = new_steps(session, cluster.id, params["Steps"], ctx.clock())
        session.add_all(steps)
        step_ids = [step.id for step in steps]
    ctx.wake_reconciler(cluster.id)
    return {"StepIds": step_ids}


def _step(session, cluster_id: str, step_id: str) -> Step:
    step = session.get(Step, step_id)
    if step is None or step.cluster_id != cluster_id:
        raise InvalidRequestException(f"Step id '{step_id}' is not valid.")
    return step


def describe_step(ctx: ServiceContext, params: dict) -> dict:
    with ctx.store.read() as session:
        cluster = lookups.cluster(session, params["ClusterId"])
        return {"Step": views.step(_step(session, cluster.id, params["StepId"]))}


def list_steps(ctx: ServiceContext, params: dict) -> dict:
    """Newest first, as EMR lists them."""
    with ctx.store.read() as session:
        cluster = lookups.cluster(session, params["ClusterId"])
        query = select(Step).where(Step.cluster_id == cluster.id).order_by(Step.position.desc())
        if params.get("StepStates"):
            query = query.where(Step.state.in_(params["StepStates"]))
        if params.get("StepIds"):
            query = query.where(Step.id.in_(params["StepIds"]))
        summaries = [views.step(step) for step in session.scalars(query)]
    page, marker = paging.offset_page(summaries, params.get("Marker"), STEPS_PAGE_SIZE)
    answer = {"Steps": page}
    if marker:
        answer["Marker"] = marker
    return answer


def cancel_steps(ctx: ServiceContext, params: dict) -> dict:
    """PENDING steps are cancelled at once; RUNNING ones are stopped by the master's
    agent (SEND_INTERRUPT: SIGTERM; TERMINATE_PROCESS: SIGKILL of the whole tree)."""
    option = params.get("StepCancellationOption", "SEND_INTERRUPT")
    results = []
    with ctx.store.transaction() as session:
        cluster = lookups.cluster(session, params["ClusterId"])
        for step_id in params["StepIds"]:
            step = session.get(Step, step_id)
            results.append(_cancel_one(cluster.id, step, step_id, option, ctx.clock()))
    ctx.wake_reconciler(cluster.id)
    return {"CancelStepsInfoList": results}


def _cancel_one(cluster_id: str, step: Step | None, step_id: str, option: str, now) -> dict:
    if step is None or step.cluster_id != cluster_id:
        return {"StepId": step_id, "Status": "FAILED", "Reason": f"Step id '{step_id}' is not valid."}
    if step.state in STEP_TERMINAL:
        return {"StepId": step_id, "Status": "FAILED",
                "Reason": f"Step is in state {step.state} and cannot be cancelled."}
    if step.state == "PENDING":
        transition(step, "CANCELLED", now, None, "Cancelled by user request")
    else:
        step.cancel_option = option
    return {"StepId": step_id, "Status": "SUBMITTED", "Reason": ""}
