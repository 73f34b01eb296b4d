"""The store adapters: MongoDB (the truth), Redis (thread context, claims, locks, the relay's work
list) and the arq queue. Chat processes and workers both use them; only workers hold cloud credentials,
and nothing here needs any."""
