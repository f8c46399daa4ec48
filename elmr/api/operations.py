"""Which service function answers which EMR operation. Grep an operation's name
here to follow a request from the wire to the store."""

from elmr.service import (
    agent_objects,
    agents,
    cluster_credentials,
    cluster_logs,
    clusters,
    instances,
    job_flows,
    policies,
    releases,
    steps,
)

EMR_OPERATIONS = {
    "RunJobFlow": clusters.run_job_flow,
    "DescribeCluster": clusters.describe_cluster,
    "ListClusters": clusters.list_clusters,
    "TerminateJobFlows": clusters.terminate_job_flows,
    "SetTerminationProtection": clusters.set_termination_protection,
    "SetKeepJobFlowAliveWhenNoSteps": clusters.set_keep_job_flow_alive_when_no_steps,
    "SetVisibleToAllUsers": clusters.set_visible_to_all_users,
    "SetUnhealthyNodeReplacement": clusters.set_unhealthy_node_replacement,
    "AddTags": clusters.add_tags,
    "RemoveTags": clusters.remove_tags,
    "ModifyCluster": clusters.modify_cluster,
    "DescribeJobFlows": job_flows.describe_job_flows,
    "ListInstanceGroups": instances.list_instance_groups,
    "ListInstances": instances.list_instances,
    "ListBootstrapActions": instances.list_bootstrap_actions,
    "ListReleaseLabels": releases.list_release_labels,
    "DescribeReleaseLabel": releases.describe_release_label,
    "ListSupportedInstanceTypes": releases.list_supported_instance_types,
    "AddJobFlowSteps": steps.add_job_flow_steps,
    "ListSteps": steps.list_steps,
    "DescribeStep": steps.describe_step,
    "CancelSteps": steps.cancel_steps,
    "PutAutoTerminationPolicy": policies.put_auto_termination_policy,
    "GetAutoTerminationPolicy": policies.get_auto_termination_policy,
    "RemoveAutoTerminationPolicy": policies.remove_auto_termination_policy,
    "PutManagedScalingPolicy": policies.put_managed_scaling_policy,
    "GetManagedScalingPolicy": policies.get_managed_scaling_policy,
    "RemoveManagedScalingPolicy": policies.remove_managed_scaling_policy,
}

AGENT_HEARTBEAT = agents.record_heartbeat
AGENT_LOGS = cluster_logs.store_log
AGENT_OBJECT = agent_objects.object_for_node
AGENT_CREDENTIALS = cluster_credentials.credentials_for_node
