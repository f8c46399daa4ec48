"""apps: the applications a cluster runs (HDFS, YARN, MapReduce, Spark), one class
each (base.py), listed in registry.py; the JVM artifacts they run from (artifacts.py);
Hadoop's layout and command launchers on a node (hadoop_home.py); what a step runs
(step_commands.py). Imports nothing server-side: both the server and the agents use it."""
