"""The tables. Rows hold EMR's own vocabulary (cluster, instance group, instance,
bootstrap action, step) plus what elmr needs to act on them (a node's provider
checkpoint, its agent's last report). Request parts that elmr stores but does not
interpret yet are kept as JSON, verbatim, so DescribeCluster can give them back.

Schema changes go through Alembic (`elmr/store/migrations`), never create_all().
"""

from datetime import datetime, timezone

from sqlalchemy import JSON, Boolean, DateTime, ForeignKey, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator


class UtcDateTime(TypeDecorator):
    """Timestamps go in as aware UTC and come out as aware UTC, on SQLite too
    (which keeps no zone): EMR answers carry absolute instants."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        return value.astimezone(timezone.utc).replace(tzinfo=None)

    def process_result_value(self, value, dialect):
        return None if value is None else value.replace(tzinfo=timezone.utc)


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UtcDateTime, dict: JSON, list: JSON}


class Cluster(Base):
    __tablename__ = "clusters"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)  # j-…
    name: Mapped[str] = mapped_column(String(256))
    state: Mapped[str] = mapped_column(String(32), index=True)
    state_reason_code: Mapped[str | None] = mapped_column(String(64))
    state_reason_message: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(index=True)
    ready_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]

    release_label: Mapped[str] = mapped_column(String(64))
    applications: Mapped[list]  # [{Name, Version, Args}] as elmr runs them
    configurations: Mapped[list]  # EMR Configurations, verbatim
    tags: Mapped[list]  # [{Key, Value}]
    log_uri: Mapped[str | None] = mapped_column(Text)
    keep_alive_when_no_steps: Mapped[bool] = mapped_column(Boolean)
    termination_protected: Mapped[bool] = mapped_column(Boolean)
    visible_to_all_users: Mapped[bool] = mapped_column(Boolean)
    unhealthy_node_replacement: Mapped[bool] = mapped_column(Boolean, default=False)
    step_concurrency_level: Mapped[int] = mapped_column(Integer)
    auto_termination_policy: Mapped[dict | None]
    managed_scaling_policy: Mapped[dict | None]
    # Everything else RunJobFlow accepted (roles, EC2 attributes, scale-down
    # behaviour…), verbatim, for DescribeCluster.
    request_extras: Mapped[dict]
    master_public_dns_name: Mapped[str | None] = mapped_column(String(256))
    # Intent: a termination asked for (TerminateJobFlows, a step's TERMINATE_CLUSTER)
    # with the reason EMR will show. Only the control loop moves `state` to TERMINATING.
    termination_requested_code: Mapped[str | None] = mapped_column(String(64))
    termination_requested_message: Mapped[str | None] = mapped_column(Text)
    # Observed by the control loop: since when nothing has run on the cluster (no
    # step, no Spark application); the auto-termination policy counts from it.
    idle_since: Mapped[datetime | None]

    # Managed scaling's own record (only the control loop writes it): when it last
    # scaled out and in, since when the cluster has had more than its load needs.
    scaling_state: Mapped[dict | None]
    # What the applications serve on the master, as data (apps/registry.py):
    # {EMR application name: {AdditionalInfo key: URL or address}}.
    endpoints: Mapped[dict | None]

    groups: Mapped[list["InstanceGroup"]] = relationship(
        back_populates="cluster", order_by="InstanceGroup.created_at"
    )
    fleets: Mapped[list["InstanceFleet"]] = relationship(
        back_populates="cluster", order_by="InstanceFleet.created_at"
    )
    bootstrap_actions: Mapped[list["BootstrapAction"]] = relationship(
        order_by="BootstrapAction.position"
    )


class CapacityStatus:
    """EMR's Status of an instance group or fleet: its state (moved by the control
    loop), the reason for it, its timeline."""

    state: Mapped[str] = mapped_column(String(32))
    state_reason_code: Mapped[str | None] = mapped_column(String(64))
    state_reason_message: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    ready_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]


class InstanceGroup(CapacityStatus, Base):
    __tablename__ = "instance_groups"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)  # ig-…
    cluster_id: Mapped[str] = mapped_column(ForeignKey("clusters.id"), index=True)
    name: Mapped[str] = mapped_column(String(256))
    role: Mapped[str] = mapped_column(String(16))  # MASTER | CORE | TASK
    market: Mapped[str] = mapped_column(String(16))  # ON_DEMAND | SPOT
    bid_price: Mapped[str | None] = mapped_column(String(32))
    instance_type: Mapped[str] = mapped_column(String(64))
    requested_count: Mapped[int] = mapped_column(Integer)
    configurations: Mapped[list]
    ebs_configuration: Mapped[dict | None]
    # PutAutoScalingPolicy's policy (Constraints, Rules), verbatim; the control loop
    # evaluates it.
    auto_scaling_policy: Mapped[dict | None]
    # Intent for shrinking, from ModifyInstanceGroups: {DecommissionTimeout,
    # InstancesToTerminate, InstancesToProtect, InstanceTerminationTimeout} (EC2 ids;
    # EC2InstanceIdsToTerminate is merged into InstancesToTerminate).
    shrink_policy: Mapped[dict | None]
    # The automatic scaling policy's own record (only the control loop writes it):
    # its last activity, which rule fired and the cooldown that follows.
    auto_scaling_state: Mapped[dict | None]

    cluster: Mapped[Cluster] = relationship(back_populates="groups")


class InstanceFleet(CapacityStatus, Base):
    """An instance fleet: capacity in units (each instance type weighs its
    WeightedCapacity), on-demand and spot, launched from a list of instance types by
    allocation strategy. The targets are intent; the control loop keeps them."""

    __tablename__ = "instance_fleets"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)  # if-…
    cluster_id: Mapped[str] = mapped_column(ForeignKey("clusters.id"), index=True)
    name: Mapped[str] = mapped_column(String(256))
    role: Mapped[str] = mapped_column(String(16))  # MASTER | CORE | TASK
    target_on_demand: Mapped[int] = mapped_column(Integer)
    target_spot: Mapped[int] = mapped_column(Integer)
    # InstanceTypeConfigs (InstanceType, WeightedCapacity, BidPrice…), verbatim.
    instance_type_configs: Mapped[list]
    launch_specifications: Mapped[dict | None]
    resize_specifications: Mapped[dict | None]
    context: Mapped[str | None] = mapped_column(String(256))
    # Observed by the control loop: since when the market has not had the spot
    # capacity the fleet lacks (its provisioning or resize timeout counts from it),
    # and whether it gave up waiting (a resize timeout) with how much spot capacity
    # it had then: losing more starts a new resize.
    spot_short_since: Mapped[datetime | None]
    spot_gave_up_at: Mapped[datetime | None]
    spot_units_at_give_up: Mapped[int | None] = mapped_column(Integer)

    cluster: Mapped[Cluster] = relationship(back_populates="fleets")

    def set_targets(self, on_demand: int, spot: int) -> None:
        """New target capacities (ModifyInstanceFleet, managed scaling): a new resize,
        so a spot timeout counts afresh."""
        if (on_demand, spot) != (self.target_on_demand, self.target_spot):
            self.target_on_demand, self.target_spot = on_demand, spot
            self.spot_short_since = self.spot_gave_up_at = self.spot_units_at_give_up = None


class Instance(Base):
    """A node: EMR's instance, realised as processes started by a node provider."""

    __tablename__ = "instances"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)  # ci-…
    ec2_instance_id: Mapped[str] = mapped_column(String(32), unique=True)  # i-…
    cluster_id: Mapped[str] = mapped_column(ForeignKey("clusters.id"), index=True)
    # A node belongs to an instance group or to an instance fleet.
    group_id: Mapped[str | None] = mapped_column(ForeignKey("instance_groups.id"), index=True)
    fleet_id: Mapped[str | None] = mapped_column(ForeignKey("instance_fleets.id"), index=True)
    role: Mapped[str] = mapped_column(String(16))
    instance_type: Mapped[str] = mapped_column(String(64))
    market: Mapped[str] = mapped_column(String(16))
    # A fleet's node: the units of capacity it counts for (its type's WeightedCapacity),
    # the most it may cost on the spot market (its BidPrice, or a percentage of the
    # on-demand price), and when its spot block (BlockDurationMinutes) ends.
    weighted_capacity: Mapped[int | None] = mapped_column(Integer)
    spot_max_price: Mapped[str | None] = mapped_column(String(32))
    spot_block_ends_at: Mapped[datetime | None]
    state: Mapped[str] = mapped_column(String(32), index=True)
    state_reason_code: Mapped[str | None] = mapped_column(String(64))
    state_reason_message: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    ready_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]

    provider: Mapped[str] = mapped_column(String(32))
    # The provider's checkpoint (node dir, pid, process start time…), saved before
    # the next side effect so a restarted server can find or clean up the node.
    provider_state: Mapped[dict]
    address: Mapped[str | None] = mapped_column(String(256))
    ports: Mapped[dict]
    agent_token: Mapped[str] = mapped_column(String(128))
    agent_phase: Mapped[str | None] = mapped_column(String(32))
    agent_report: Mapped[dict | None]  # the last heartbeat, verbatim
    last_heartbeat_at: Mapped[datetime | None]

    # The control loop's own record of the node (only the loop writes these).
    # Chosen to leave its group (a shrink): decommissioned gracefully, then stopped.
    leaving_since: Mapped[datetime | None]
    decommission_timeout_s: Mapped[int | None] = mapped_column(Integer)
    stop_requested_at: Mapped[datetime | None]  # SIGTERM sent; SIGKILL after the grace period
    # Provider failures as data: how many calls for this node failed in a row, the
    # last error, since when, and when the loop tries again (exponential backoff).
    provider_attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    provider_error: Mapped[str | None] = mapped_column(Text)
    provider_failing_since: Mapped[datetime | None]
    next_attempt_at: Mapped[datetime | None]


class BootstrapAction(Base):
    __tablename__ = "bootstrap_actions"

    cluster_id: Mapped[str] = mapped_column(ForeignKey("clusters.id"), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(256))
    path: Mapped[str] = mapped_column(Text)
    args: Mapped[list]


class Step(Base):
    __tablename__ = "steps"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)  # s-…
    cluster_id: Mapped[str] = mapped_column(ForeignKey("clusters.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)  # order added, per cluster
    name: Mapped[str] = mapped_column(String(256))
    action_on_failure: Mapped[str] = mapped_column(String(32))
    hadoop_jar_step: Mapped[dict]  # {Jar, MainClass, Args, Properties}
    state: Mapped[str] = mapped_column(String(32), index=True)
    state_reason_code: Mapped[str | None] = mapped_column(String(64))
    state_reason_message: Mapped[str | None] = mapped_column(Text)
    failure_details: Mapped[dict | None]
    # CancelSteps on a running step: SEND_INTERRUPT or TERMINATE_PROCESS, until the
    # agent reports the step ended.
    cancel_option: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime]
    started_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]


class SecurityConfiguration(Base):
    """A named security configuration (EMR's JSON document, verbatim) that
    RunJobFlow's SecurityConfiguration names."""

    __tablename__ = "security_configurations"

    name: Mapped[str] = mapped_column(String(256), primary_key=True)
    document: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]


class BlockPublicAccess(Base):
    """The account's one block public access configuration (a single row, id 1),
    present once PutBlockPublicAccessConfiguration has been called."""

    __tablename__ = "block_public_access"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    configuration: Mapped[dict]  # {BlockPublicSecurityGroupRules, PermittedPublic…Ranges}
    created_at: Mapped[datetime]
    created_by_arn: Mapped[str] = mapped_column(String(2048))


class Studio(Base):
    __tablename__ = "studios"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)  # es-…
    name: Mapped[str] = mapped_column(String(256))
    created_at: Mapped[datetime] = mapped_column(index=True)
    auth_mode: Mapped[str] = mapped_column(String(16))  # SSO | IAM
    # The rest of CreateStudio's request (VPC, subnets, roles, S3 location…), verbatim
    # as UpdateStudio leaves it, for DescribeStudio.
    attributes: Mapped[dict]
    tags: Mapped[list]


class StudioSessionMapping(Base):
    """Who (a user or group of the identity store) may use a studio, with which
    session policy."""

    __tablename__ = "studio_session_mappings"

    studio_id: Mapped[str] = mapped_column(ForeignKey("studios.id"), primary_key=True)
    identity_type: Mapped[str] = mapped_column(String(16), primary_key=True)  # USER | GROUP
    # Either may be given; elmr has no identity store to resolve one from the other,
    # so a mapping created by name has its name as its id, and the other way round.
    identity_id: Mapped[str] = mapped_column(String(256), primary_key=True)
    identity_name: Mapped[str] = mapped_column(String(256))
    session_policy_arn: Mapped[str] = mapped_column(String(2048))
    created_at: Mapped[datetime]
    last_modified_at: Mapped[datetime | None]


class NotebookExecution(Base):
    """A Jupyter notebook run on a cluster's master node (StartNotebookExecution)."""

    __tablename__ = "notebook_executions"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)  # ex-…
    cluster_id: Mapped[str] = mapped_column(ForeignKey("clusters.id"), index=True)
    name: Mapped[str] = mapped_column(String(256))
    state: Mapped[str] = mapped_column(String(32), index=True)
    state_reason_message: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(index=True)  # EMR's StartTime
    ended_at: Mapped[datetime | None]
    # StartNotebookExecution's request (notebook and output locations, parameters,
    # environment, roles…), verbatim, and where the executed notebook went.
    request: Mapped[dict]
    output_uri: Mapped[str | None] = mapped_column(Text)
    tags: Mapped[list]
    # StopNotebookExecution asked for this run to stop; the master's agent stops it.
    stop_requested: Mapped[bool] = mapped_column(Boolean, default=False)


class PersistentAppUI(Base):
    """A cluster's application UIs kept after the cluster ends (served by the
    server's own Spark history server)."""

    __tablename__ = "persistent_app_uis"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)  # p-…
    cluster_id: Mapped[str] = mapped_column(ForeignKey("clusters.id"), index=True)
    target_resource_arn: Mapped[str] = mapped_column(String(2048))
    state: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime]
    last_modified_at: Mapped[datetime]
    tags: Mapped[list]


class ClusterSessionCredential(Base):
    """HTTP basic credentials GetClusterSessionCredentials issued for a cluster and a
    runtime role; only a hash of the password is kept."""

    __tablename__ = "cluster_session_credentials"

    username: Mapped[str] = mapped_column(String(128), primary_key=True)
    cluster_id: Mapped[str] = mapped_column(ForeignKey("clusters.id"), index=True)
    execution_role_arn: Mapped[str] = mapped_column(String(2048))
    password_sha256: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[datetime]


class ClusterCredentials(Base):
    """The cluster's own key, as an instance profile's: what code on its nodes signs
    with (the server's root key never reaches a node). Nodes GET it from the
    credentials endpoint with `endpoint_token`; it is refused once the cluster ends."""

    __tablename__ = "cluster_credentials"

    access_key_id: Mapped[str] = mapped_column(String(32), primary_key=True)  # ASIA…
    cluster_id: Mapped[str] = mapped_column(ForeignKey("clusters.id"), unique=True)
    secret_access_key: Mapped[str] = mapped_column(String(64))
    session_token: Mapped[str] = mapped_column(String(128))
    endpoint_token: Mapped[str] = mapped_column(String(128), unique=True)
    created_at: Mapped[datetime]
