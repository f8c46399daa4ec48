"""api: the wire. Decodes EMR's JSON 1.1 protocol (and agent heartbeats), checks
SigV4, calls one service function per operation and encodes the answer.
It never calls a provider: handlers record intent, the reconciler acts."""
