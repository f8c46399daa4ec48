"""elmr: Elastic MapReduce that you run yourself."""
