"""Which service function answers which EMR operation. Grep an operation's name
here to follow a request from the wire to the store."""

from elmr.service import (
    agent_objects,
    agent_uploads,
    agents,
    app_uis,
    auto_scaling,
    block_public_access,
    clusters,
    instance_fleets,
    instances,
    job_flows,
    notebook_executions,
    policies,
    releases,
    security_configurations,
    session_credentials,
    sessions,
    steps,
    studios,
)
from elmr.service.errors import OperationNotImplemented


def _validated_but_not_implemented(operation_name: str):
    """Operations another part of the work builds: their input is checked against the
    model (the api layer does that before calling), then they answer that elmr does
    not implement them yet."""
    def answer(ctx, params):
        raise OperationNotImplemented(operation_name)
    return answer


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
    # Resizing instance groups: the control loop's work (another issue).
    "AddInstanceGroups": _validated_but_not_implemented("AddInstanceGroups"),
    "ModifyInstanceGroups": _validated_but_not_implemented("ModifyInstanceGroups"),
    "PutAutoScalingPolicy": auto_scaling.put_auto_scaling_policy,
    "RemoveAutoScalingPolicy": auto_scaling.remove_auto_scaling_policy,
    "AddInstanceFleet": instance_fleets.add_instance_fleet,
    "ListInstanceFleets": instance_fleets.list_instance_fleets,
    "ModifyInstanceFleet": instance_fleets.modify_instance_fleet,
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
    "CreateSecurityConfiguration": security_configurations.create_security_configuration,
    "DescribeSecurityConfiguration": security_configurations.describe_security_configuration,
    "ListSecurityConfigurations": security_configurations.list_security_configurations,
    "DeleteSecurityConfiguration": security_configurations.delete_security_configuration,
    "GetBlockPublicAccessConfiguration": block_public_access.get_block_public_access_configuration,
    "PutBlockPublicAccessConfiguration": block_public_access.put_block_public_access_configuration,
    "CreateStudio": studios.create_studio,
    "DescribeStudio": studios.describe_studio,
    "ListStudios": studios.list_studios,
    "UpdateStudio": studios.update_studio,
    "DeleteStudio": studios.delete_studio,
    "CreateStudioSessionMapping": studios.create_studio_session_mapping,
    "GetStudioSessionMapping": studios.get_studio_session_mapping,
    "UpdateStudioSessionMapping": studios.update_studio_session_mapping,
    "DeleteStudioSessionMapping": studios.delete_studio_session_mapping,
    "ListStudioSessionMappings": studios.list_studio_session_mappings,
    "StartNotebookExecution": notebook_executions.start_notebook_execution,
    "DescribeNotebookExecution": notebook_executions.describe_notebook_execution,
    "ListNotebookExecutions": notebook_executions.list_notebook_executions,
    "StopNotebookExecution": notebook_executions.stop_notebook_execution,
    "CreatePersistentAppUI": app_uis.create_persistent_app_ui,
    "DescribePersistentAppUI": app_uis.describe_persistent_app_ui,
    "GetPersistentAppUIPresignedURL": app_uis.get_persistent_app_ui_presigned_url,
    "GetOnClusterAppUIPresignedURL": app_uis.get_on_cluster_app_ui_presigned_url,
    "GetClusterSessionCredentials": session_credentials.get_cluster_session_credentials,
    "StartSession": sessions.start_session,
    "GetSession": sessions.get_session,
    "GetSessionEndpoint": sessions.get_session_endpoint,
    "ListSessions": sessions.list_sessions,
    "TerminateSession": sessions.terminate_session,
}

AGENT_HEARTBEAT = agents.record_heartbeat
AGENT_LOGS = agent_uploads.store_upload
AGENT_OBJECT = agent_objects.object_for_node
