"""agent: the only elmr code that runs on a node. It registers with the server,
starts and watches the node's Spark daemons and reports heartbeats. It talks to the
server over HTTP only and imports nothing from api/service/store/control."""
