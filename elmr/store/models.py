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
    # What the applications serve on the master, as data (apps/registry.py):
    # {EMR application name: {AdditionalInfo key: URL or address}}.
    endpoints: Mapped[dict | None]

    groups: Mapped[list["InstanceGroup"]] = relationship(
        back_populates="cluster", order_by="InstanceGroup.created_at"
    )
    bootstrap_actions: Mapped[list["BootstrapAction"]] = relationship(
        order_by="BootstrapAction.position"
    )


class InstanceGroup(Base):
    __tablename__ = "instance_groups"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)  # ig-…
    cluster_id: Mapped[str] = mapped_column(ForeignKey("clusters.id"), index=True)
    name: Mapped[str] = mapped_column(String(256))
    role: Mapped[str] = mapped_column(String(16))  # MASTER | CORE | TASK
    market: Mapped[str] = mapped_column(String(16))  # ON_DEMAND | SPOT
    bid_price: Mapped[str | None] = mapped_column(String(32))
    instance_type: Mapped[str] = mapped_column(String(64))
    requested_count: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(32))
    state_reason_code: Mapped[str | None] = mapped_column(String(64))
    state_reason_message: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    ready_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]
    configurations: Mapped[list]
    ebs_configuration: Mapped[dict | None]

    cluster: Mapped[Cluster] = relationship(back_populates="groups")


class Instance(Base):
    """A node: EMR's instance, realised as processes started by a node provider."""

    __tablename__ = "instances"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)  # ci-…
    ec2_instance_id: Mapped[str] = mapped_column(String(32), unique=True)  # i-…
    cluster_id: Mapped[str] = mapped_column(ForeignKey("clusters.id"), index=True)
    group_id: Mapped[str] = mapped_column(ForeignKey("instance_groups.id"), index=True)
    role: Mapped[str] = mapped_column(String(16))
    instance_type: Mapped[str] = mapped_column(String(64))
    market: Mapped[str] = mapped_column(String(16))
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
