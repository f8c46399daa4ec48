"""apps: the applications a node runs (Spark from the PySpark package): where they
are installed, the command lines that start their daemons, how to ask them for status."""
