"""Fixed reply texts, kept in one place so every adapter says the same thing.

Each is a Message built from spans (core/markup.py), so no adapter reads notation back out of them.
"""

from __future__ import annotations

from core.markup import Code, Inline, Message, bullets, line, spans

EXAMPLE = "create a postgres database and a bucket for my app shop in staging"

_CLOUD_WORDS = {"gcp": "GCP", "aws": "AWS"}
_SERVICE = {"gcp": "Cloud Run", "aws": "ECS Fargate"}
_QUEUE = {"gcp": "Pub/Sub", "aws": "SQS"}


def help_text(clouds: tuple[str, ...] = ("gcp",)) -> Message:
    """The help, naming every enabled cloud and how to pick one when there are several."""
    shown = tuple(c for c in _CLOUD_WORDS if c in clouds) or ("gcp",)
    examples = [spans(Code(EXAMPLE)), spans(Code("an api for checkout in prod, region belgium, size medium"))]
    if len(shown) > 1:
        examples.append(spans(Code("a redis for checkout on aws in ireland"), " (say ", Code("on aws"), " or ",
                              Code("on gcp"), "; AWS regions like ", Code("eu-west-1"), " work too)"))
    last = line(
        f"Components: service ({' or '.join(_SERVICE[c] for c in shown)}), postgres, mysql, redis, bucket, "
        f"queue ({' or '.join(_QUEUE[c] for c in shown)}), secret, registry.",
        " Clouds enabled here: " + ", ".join(c.upper() for c in clouds) + "." if len(shown) > 1 else "",
    )
    return Message((
        line(f"I turn requests into reviewed {' or '.join(_CLOUD_WORDS[c] for c in shown)} infrastructure. "
             "Tell me what you need, for example:"),
        bullets(examples),
        line("Then: ", Code("plan"), " shows the plan again, ", Code("apply"), " (or Approve) builds it, ",
             Code("cancel"), " stops a pending request, ", Code("status"), ", ", Code("outputs"), " (URLs and names), ",
             Code("list"), " (your apps), ", Code("history"), ", and ", Code("destroy APP-ENV"), "."),
        last,
    ))


HELP = help_text()

UNKNOWN = HELP.prefixed("I'm not sure what you'd like me to do. ")

EXAMPLE_HINT: Inline = spans("Try: ", Code(EXAMPLE), ".")

EMPTY = Message((line("I didn't catch any text there. Try something like: ", Code(EXAMPLE), "."),))

# Each error reply says only what is true: ERROR once the message is stored, NOT_SAVED when storing it
# failed, UNSURE where the adapter cannot know.
ERROR = Message((line(
    "Sorry, something went wrong on my side while handling that. Your message is saved; say ", Code("status"),
    " to see where things stand, or try again in a moment."),))

INTERRUPTED = Message((line(
    "Sorry, I was interrupted while answering this. Your message is saved; say ", Code("status"),
    " to see where things stand, or send it again."),))

NOT_SAVED = Message((line(
    "Sorry, my storage isn't reachable right now, so your message was not saved. Say ", Code("status"),
    " in a moment to see where things stand, then send it again if needed."),))

UNSURE = Message((line(
    "Sorry, something went wrong on my side while handling that, and I can't tell whether it was saved. Say ",
    Code("status"), " in a moment to check, then try again if needed."),))

ACTION_ERROR = Message((line(
    "Sorry, something went wrong on my side while handling that button. Check the status card, and press it "
    "again in a moment if nothing changed."),))

EXPIRED = Message((line(
    "Our earlier conversation in this thread went quiet for a while, so I've started fresh. Nothing is lost: "
    "your requests and history are kept."),))

AFTER_EXPIRY = Message((line(
    "If you were answering one of my questions, please tell me the whole request again, for example: ",
    Code(EXAMPLE), ". Say ", Code("status"), " to see this thread's latest request."),))

# Discord allows 2,000 characters per message and Slack 3,000 per section: every reply fits both.
MAX_REPLY_CHARS = 1900
# Asked-for listings (the full plan) may be long; adapters split them into messages the platform takes.
MAX_LONG_CHARS = 30_000


def too_long(length: int, limit: int) -> Message:
    return Message((line(
        f"That message is {length:,} characters long; I read requests of up to {limit:,}. Please send a shorter "
        "description of what you need, for example: ", Code(EXAMPLE), "."),))


WELCOME = Message((line("You're welcome! Tell me whenever you need something else, or say ", Code("help"),
                        " to see what I can do."),))
