"""Metrics, probes and structured logs: adapters that watch the ports, so core/ stays unaware of them."""
