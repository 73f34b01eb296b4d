"""Fixed reply texts, kept in one place so every adapter says the same thing."""

from __future__ import annotations

EXAMPLE = "create a postgres database and a bucket for my app shop in staging"

HELP = (
    "I turn requests into reviewed GCP infrastructure. Tell me what you need, for example:\n"
    f"• `{EXAMPLE}`\n"
    "• `an api for checkout in prod, region belgium, size medium`\n"
    "Then: `plan` shows the plan again, `apply` (or Approve) builds it, `cancel` stops a pending request, "
    "`status`, `outputs` (URLs and names), `list` (your apps), `history`, and `destroy APP-ENV`.\n"
    "Components: service (Cloud Run), postgres, mysql, redis, bucket, queue (Pub/Sub), secret, registry."
)

UNKNOWN = "I'm not sure what you'd like me to do. " + HELP

EMPTY = "I didn't catch any text there. Try something like: `" + EXAMPLE + "`."

ERROR = (
    "Sorry, something went wrong on my side while handling that. Your message is saved; "
    "please try again in a moment."
)

EXPIRED = (
    "Our earlier conversation in this thread went quiet for a while, so I've started fresh. "
    "Nothing is lost: your requests and history are kept."
)


def too_long(length: int, limit: int) -> str:
    return (
        f"That message is {length:,} characters long; I read requests of up to {limit:,}. "
        "Please send a shorter description of what you need, for example: `" + EXAMPLE + "`."
    )
EXAMPLE_HINT = "Try: `" + EXAMPLE + "`."
