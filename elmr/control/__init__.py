"""control: the level-triggered control loop. Work comes per cluster from a queue
with backoff (loop, workqueue); each pass observes the cluster's nodes, decides in
one transaction what moves next (reconciler, with the rules in nodes, groups,
lifecycle and idle), and hands the provider calls to the actuator, the only caller
of the node provider. Time comes from one injected clock; timings from settings."""
