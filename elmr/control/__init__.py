"""control: the level-triggered reconciler. It observes (store + provider), decides
actions, and an actuator performs them through the node provider."""
