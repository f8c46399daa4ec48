"""Server-wide platform services: processes the server runs for every cluster, past
and present (the persistent Spark history server)."""
