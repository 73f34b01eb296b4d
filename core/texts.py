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



def help_text(clouds: tuple[str, ...] = ("gcp",)) -> str:
    """HELP, naming every enabled cloud and how to pick one when there are several."""
    if set(clouds) <= {"gcp"}:
        return HELP
    if tuple(clouds) == ("aws",):
        return (HELP.replace("reviewed GCP infrastructure", "reviewed AWS infrastructure")
                .replace("service (Cloud Run)", "service (ECS Fargate)").replace("queue (Pub/Sub)", "queue (SQS)"))
    return (
        HELP.replace("reviewed GCP infrastructure", "reviewed GCP or AWS infrastructure")
        .replace("\nThen:", "\n• `a redis for checkout on aws in ireland` (say `on aws` or `on gcp`; AWS "
                 "regions like `eu-west-1` work too)\nThen:")
        .replace("service (Cloud Run)", "service (Cloud Run or ECS Fargate)")
        .replace("queue (Pub/Sub)", "queue (Pub/Sub or SQS)")
        + " Clouds enabled here: " + ", ".join(c.upper() for c in clouds) + "."
    )


UNKNOWN = "I'm not sure what you'd like me to do. " + HELP

EMPTY = "I didn't catch any text there. Try something like: `" + EXAMPLE + "`."

# Each error reply says only what is true: ERROR once the message is stored, NOT_SAVED when storing it
# failed, UNSURE where the adapter cannot know.
ERROR = (
    "Sorry, something went wrong on my side while handling that. Your message is saved; say `status` to "
    "see where things stand, or try again in a moment."
)

NOT_SAVED = (
    "Sorry, my storage isn't reachable right now, so your message was not saved. Say `status` in a moment to "
    "see where things stand, then send it again if needed."
)

UNSURE = (
    "Sorry, something went wrong on my side while handling that, and I can't tell whether it was saved. "
    "Say `status` in a moment to check, then try again if needed."
)

ACTION_ERROR = (
    "Sorry, something went wrong on my side while handling that button. Check the status card, and press "
    "it again in a moment if nothing changed."
)

EXPIRED = (
    "Our earlier conversation in this thread went quiet for a while, so I've started fresh. "
    "Nothing is lost: your requests and history are kept."
)


AFTER_EXPIRY = (
    "If you were answering one of my questions, please tell me the whole request again, for example: `"
    + EXAMPLE + "`. Say `status` to see this thread's latest request."
)

# Discord allows 2,000 characters per message and Slack 3,000 per section: every reply fits both.
MAX_REPLY_CHARS = 1900
# Asked-for listings (the full plan) may be long; adapters split them into messages the platform takes.
MAX_LONG_CHARS = 30_000


def too_long(length: int, limit: int) -> str:
    return (
        f"That message is {length:,} characters long; I read requests of up to {limit:,}. "
        "Please send a shorter description of what you need, for example: `" + EXAMPLE + "`."
    )


EXAMPLE_HINT = "Try: `" + EXAMPLE + "`."

WELCOME = "You're welcome! Tell me whenever you need something else, or say `help` to see what I can do."
