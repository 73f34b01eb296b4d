"""The `infrabot_*` Prometheus metrics (listed in the README's Production section).

Labels are kept to small fixed sets: platforms, intents, job kinds and phases, and refusal reasons
reduced to a category, so no user text or id ever becomes a label value.
"""

from __future__ import annotations

import re

from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest

MESSAGES = Counter("infrabot_messages_total", "Chat messages handled, by platform and understood intent",
                   ["platform", "intent"])
ACTIONS = Counter("infrabot_actions_total", "Button presses handled, by platform and action", ["platform", "action"])
REPLY_SECONDS = Histogram(
    "infrabot_reply_seconds", "Time from a message reaching infrabot to its reply being ready", ["platform"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
JOBS = Counter("infrabot_jobs_total", "Job phase changes, by job kind and the phase entered", ["kind", "phase"])
JOB_SECONDS = Histogram(
    "infrabot_job_duration_seconds", "Run time of finished jobs, by kind and final phase", ["kind", "phase"],
    buckets=(1, 5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600),
)
JOBS_OPEN = Gauge("infrabot_jobs_open", "Unfinished jobs in MongoDB, by kind and phase", ["kind", "phase"])
JOB_OLDEST_SECONDS = Gauge(
    "infrabot_job_oldest_seconds", "Age of the oldest unfinished job in each kind and phase (0 when none)",
    ["kind", "phase"],
)
QUEUE_DEPTH = Gauge("infrabot_queue_depth", "Jobs in the arq queue: waiting, deferred or being run")
RELAY_LAG_SECONDS = Gauge(
    "infrabot_relay_lag_seconds", "Age of the oldest job status change not yet shown on its card (0 when none)",
)
RELAY_PASS_SECONDS = Histogram(
    "infrabot_relay_pass_seconds", "Time of one status relay pass, by whether it showed any card",
    ["shown"], buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
RELAY_CARDS_SHOWN = Counter("infrabot_relay_cards_shown_total", "Status card edits the relay delivered")
MONGO_SECONDS = Histogram(
    "infrabot_mongo_command_seconds", "MongoDB command round trips as this process sees them, by command",
    ["command"], buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 15),
)
RELAY_FAILURES = Counter("infrabot_relay_failures_total", "Failed attempts to show a status card", ["platform"])
RELAY_DEAD_LETTERS = Counter(
    "infrabot_relay_dead_letters_total", "Status cards given up on: the platform will never show them", ["platform"],
)
REFUSALS = Counter("infrabot_refusals_total", "Requests, approvals, cancels and destroys refused, by reason",
                   ["action", "reason"])

# First match wins; the texts are core/policy.py's and core/requests.py's refusal reasons.
_REASONS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("region", re.compile(r"\bregion\b")),
    ("component", re.compile(r"is not allowed in")),
    ("size", re.compile(r"largest size allowed")),
    ("second_approver", re.compile(r"approval from someone other than")),
    ("permission", re.compile(r"not allowed to|permission|\brole\b")),
    ("tenant", re.compile(r"another workspace|another tenant|other workspace|thread")),
    ("stale_plan", re.compile(r"older plan|out of date|no longer matches")),
    ("closed", re.compile(r"the request is \w+")),
)


def refusal_reason(text: str) -> str:
    for name, pattern in _REASONS:
        if pattern.search(text):
            return name
    return "other"


def exposition() -> tuple[bytes, str]:
    """The metrics page body and its content type."""
    return generate_latest(), CONTENT_TYPE_LATEST
