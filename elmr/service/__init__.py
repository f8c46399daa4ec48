"""service: EMR's semantics, free of HTTP. One function per operation; validation,
ids and state transitions; reads and writes the store, never a provider."""
