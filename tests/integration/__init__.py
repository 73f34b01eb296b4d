"""Against the real servers: redis-server, the embedded FerretDB, the arq worker, Pulumi (mock runtime and
the real CLI)."""
