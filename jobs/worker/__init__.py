"""The arq worker: its settings and start-up (`main`), the tasks it runs, and the loops that keep every
job moving to an end (reconciler, recovery, wait line)."""
