"""providers: where nodes run. One small interface (launch, terminate, list alive);
`local` starts each node as its own process group on this host."""
