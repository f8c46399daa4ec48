"""How big a Spark executor is by default, as EMR sizes it: spark-defaults' executor
memory and cores come from the cluster's core and task instance types (the smallest
of them when they differ, as in a fleet), not from the node that writes the file
(steps submit on the master, whose type is not the workers'). One executor about
fills a NodeManager and leaves room for an application master beside it, so dynamic
allocation asks YARN for as many executors as a job's tasks need, each on a node of
its own, and a backlog shows as YARN's pending containers (which managed scaling
reads) rather than piling many small executors onto one node: YARN's capacity
scheduler here counts memory only.

Read by apps/spark.py when it writes spark-defaults; a user's spark-defaults
classification and spark-submit's flags still win.
"""

from dataclasses import dataclass

from elmr.apps.yarn import nodemanager_memory_mib

# spark-defaults' spark.driver.memory; a cluster-mode driver is its application's
# master, in a container of this heap and Spark's overhead.
DRIVER_MEMORY_MIB = 1024
# Spark's own memory overhead for a container: 10 % of the heap, at least 384 MiB.
OVERHEAD_FACTOR, OVERHEAD_MIN_MIB = 0.10, 384
# Spark refuses an executor heap under 450 MiB (1.5 x its 300 MiB reserved memory).
MIN_HEAP_MIB = 512


@dataclass(frozen=True)
class ExecutorSize:
    memory_mib: int  # the heap: spark.executor.memory
    cores: int  # spark.executor.cores

    def properties(self) -> dict:
        return {"spark.executor.memory": f"{self.memory_mib}m", "spark.executor.cores": str(self.cores)}


def container_mib(heap_mib: int) -> int:
    """What YARN holds for a Spark container of this heap (before YARN rounds it up)."""
    return heap_mib + max(OVERHEAD_MIN_MIB, int(heap_mib * OVERHEAD_FACTOR))


def executor_size(worker_vcpus: int, worker_memory_mib: int) -> ExecutorSize:
    """One executor per worker: all its vCPUs, and the heap EMR gives it.

    EMR's figure on m5.xlarge, 9486M (and, as public reports of EMR's spark-defaults
    give them, 4743M on m5.large and 18971M on r5.xlarge), is the NodeManager's memory
    less a twelfth, over 1.1875, i.e. x 44/57 rounded up. elmr takes that, capped so
    that the executor's container with Spark's 10 % overhead and a cluster-mode
    driver's container (1 GiB + 384 MiB) fit one NodeManager together: m5.xlarge keeps EMR's 9486M (10464 MB + 1408 MB of 12288
    MB); an m5.large's 4743M becomes 4305M (4736 + 1408 = 6144 MB). Never under the
    heap Spark accepts; a NodeManager too small for both holds the executor alone.
    """
    nodemanager = nodemanager_memory_mib(worker_memory_mib)
    emr_heap = -(-nodemanager * 44 // 57)
    room = nodemanager - container_mib(DRIVER_MEMORY_MIB)
    fitting_heap = min(room - OVERHEAD_MIN_MIB, int(room / (1 + OVERHEAD_FACTOR)))
    return ExecutorSize(max(MIN_HEAP_MIB, min(emr_heap, fitting_heap)), max(1, worker_vcpus))
