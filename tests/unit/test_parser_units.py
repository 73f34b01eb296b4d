"""Focused checks of the rule parser's parts: names, regions, chat formatting, typos, templates,
quantities, intents and the contract JSON."""

from __future__ import annotations

import json
import random

import pytest

from core.markup import Code, Inline, plain
from core.ports import Planner
from core.spec import KINDS
from core.understanding.model import INTENTS, Parsed
from core.understanding.names import MAX_APP_LENGTH, check_app_name, is_valid_app_name, suggest_app_name
from core.understanding.normalize import fold, strip_chat_formatting
from core.understanding.parser import RuleParser, parse
from core.understanding.templates import TEMPLATES, resolve_template, template_menu
from core.understanding.typos import correct_word
from core.understanding.vocab import GCP_REGIONS


def kinds(p: Parsed) -> list[str]:
    return sorted(c.kind for c in p.components for _ in range(c.count))


def words(problem: Inline | None) -> str:
    return plain(problem or ())


# --- app names -------------------------------------------------------------------------------------

@pytest.mark.parametrize("raw, expected", [
    ("shop", "shop"), ("Shop", "shop"), ("ShopFront", "shopfront"), ("Checkout-API", "checkout-api"),
    ("a1", "a1"), ("x" * MAX_APP_LENGTH, "x" * MAX_APP_LENGTH),
])
def test_case_is_fixed_silently(raw: str, expected: str) -> None:
    check = check_app_name(raw)
    assert (check.app, check.problem, check.suggestion) == (expected, None, None)


@pytest.mark.parametrize("raw, reason, suggestion", [
    ("my_app", "underscores", "my-app"),
    ("my app", "spaces", "my-app"),
    ("2fast", "start with a letter", "app-2fast"),
    ("shop-", "ends with a hyphen", "shop"),
    ("café", "other than plain letters", "cafe"),
    ("this-is-a-really-long-application-name", "38 characters", "this-is-a-really"),
    ("shop!", "symbols", "shop"),
])
def test_invalid_names_are_explained_with_a_valid_suggestion(raw: str, reason: str, suggestion: str) -> None:
    check = check_app_name(raw)
    assert check.app is None
    assert reason in words(check.problem)
    assert "lowercase letters, digits and hyphens" in words(check.problem)
    assert check.suggestion == suggestion
    assert is_valid_app_name(suggestion)


def test_suggestions_are_always_valid() -> None:
    rng = random.Random(7)
    alphabet = "abcXYZ019_- .é!ü"
    for _ in range(500):
        raw = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40)))
        suggestion = suggest_app_name(raw)
        assert is_valid_app_name(suggestion), (raw, suggestion)
        assert len(suggestion) <= MAX_APP_LENGTH


@pytest.mark.parametrize("text, app", [
    ("for my app shop", "shop"), ("a bucket called checkout-api", "checkout-api"), ("app: foo", "foo"),
    ("named foo", "foo"), ("for shop", "shop"), ("app=crm, env=dev", "crm"),
    ("the app is called shop", "shop"), ("rename the app to storefront", "storefront"),
    ("a postgres for the inventory app", "inventory"), ("for my app 'shop'", "shop"),
    ("deploy shop to prod", "shop"),
])
def test_app_name_phrasings(text: str, app: str) -> None:
    assert parse(text).app == app


@pytest.mark.parametrize("text", [
    "a bucket for uploads", "a bucket for us", "I need a backend for my app", "a db for the team",
    "create a pubsub topic for events",
])
def test_purposes_and_pronouns_are_not_app_names(text: str) -> None:
    assert parse(text).app is None


def test_invalid_name_in_a_sentence_keeps_the_rest() -> None:
    p = parse("create a postgres for app My_Shop in staging")
    assert p.app is None and p.suggested_app == "my-shop" and p.app_problem
    assert kinds(p) == ["postgres"] and p.environment == "staging" and p.missing == ["app"]


def test_app_names_are_never_spell_corrected_or_read_as_components() -> None:
    assert parse("create a bucket called Reddis").app == "reddis"
    p = parse("creat a postgres for app redis-cache-svc")
    assert p.app == "redis-cache-svc" and kinds(p) == ["postgres"]
    assert parse("app postgress-thing").app == "postgress-thing"


@pytest.mark.parametrize("text, raw", [
    ("create a bucket for my app postgres", "postgres"),
    ('create a bucket for my app called "postgres"', "postgres"),
    ("create a bucket for our app mysql in dev", "mysql"),
    ("a bucket for an app named mysql", "mysql"),
    ("create a bucket called postgres.", "postgres"),
    ("a bucket for app 'postgres' please", "postgres"),
    ("rename the app to mysql", "mysql"),
])
def test_a_database_word_in_the_name_slot_is_the_refused_name_not_a_database(text: str, raw: str) -> None:
    p = parse(text)
    assert p.app is None and (p.app_problem or ())[:1] == (Code(raw),)
    assert words(p.app_problem).startswith(f"{raw} can't be used as an app name")
    assert p.suggested_app == f"{raw}-app"
    assert "postgres" not in kinds(p) and "mysql" not in kinds(p), "no database the user did not ask for"


@pytest.mark.parametrize("text", ["create a bucket for my app google", "a bucket called google in dev"])
def test_google_in_the_name_slot_is_refused_not_ignored(text: str) -> None:
    p = parse(text)
    assert p.app is None and 'contains "google"' in words(p.app_problem) and p.suggested_app == "my-app"


@pytest.mark.parametrize("text, app", [
    ("create a bucket for my app redis", "redis"), ("a bucket for my app called queue in dev", "queue"),
    ('create a bucket for the app named "redis"', "redis"), ("a bucket for our application queue, please", "queue"),
])
def test_other_component_words_in_the_name_slot_are_accepted_names(text: str, app: str) -> None:
    p = parse(text)
    assert p.app == app and p.app_problem is None and kinds(p) == ["bucket"]


@pytest.mark.parametrize("text, app, expected", [
    ("create a postgres database for my app shop", "shop", ["postgres"]),
    ("a bucket called postgres db", None, ["bucket", "postgres"]),
    ("a bucket for my app postgres db", None, ["bucket", "postgres"]),
    ("create a postgres for my app", None, ["postgres"]),
    ("a mysql for my app called shop", "shop", ["mysql"]),
    ("my app needs postgres", None, ["postgres"]), ("my app wants a bucket", None, ["bucket"]),
])
def test_component_words_outside_the_name_slot_are_still_components(
    text: str, app: str | None, expected: list[str]
) -> None:
    p = parse(text)
    assert p.app == app and p.app_problem is None and sorted(kinds(p)) == expected


# --- regions ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("region", sorted(GCP_REGIONS))
def test_every_region_id_is_recognised(region: str) -> None:
    assert parse(f"create a bucket for app shop in {region}").region == region


@pytest.mark.parametrize("place, region", [
    ("iowa", "us-central1"), ("belgium", "europe-west1"), ("tokyo", "asia-northeast1"),
    ("frankfurt", "europe-west3"), ("london", "europe-west2"), ("netherlands", "europe-west4"),
    ("sydney", "australia-southeast1"), ("oregon", "us-west1"), ("virginia", "us-east4"),
    ("south carolina", "us-east1"), ("singapore", "asia-southeast1"), ("mumbai", "asia-south1"),
    ("zurich", "europe-west6"), ("montreal", "northamerica-northeast1"), ("São Paulo", "southamerica-east1"),
    ("taiwan", "asia-east1"), ("Europe", "europe-west1"), ("the EU", "europe-west1"),
    ("asia", "asia-northeast1"),
    ("the US", "us-central1"), ("Zürich", "europe-west6"), ("Tel Aviv", "me-west1"),
])
def test_friendly_region_names(place: str, region: str) -> None:
    assert parse(f"put a redis in {place} for app shop").region == region


def test_region_words_inside_other_words_do_not_count() -> None:
    assert parse("a bucket for us").region is None
    assert parse("create a bucket in europe-west7").region is None  # no such region
    assert parse("destroy shop-staging").region is None


def test_the_region_moved_to_wins() -> None:
    assert parse("move it from iowa to tokyo").region == "asia-northeast1"


# --- environment and size --------------------------------------------------------------------------

@pytest.mark.parametrize("text, env", [
    ("in dev", "dev"), ("development please", "dev"), ("in staging", "staging"), ("stage env", "staging"),
    ("qa", "staging"), ("use prod", "prod"), ("production", "prod"), ("in the live environment", "prod"),
    ("test env please", "dev"),
])
def test_environments(text: str, env: str) -> None:
    assert parse(text).environment == env


def test_sizes_next_to_a_component_stay_with_it() -> None:
    p = parse("a small postgres and a big redis, medium overall, for app shop")
    sizes = {c.kind: c.size for c in p.components}
    assert sizes == {"postgres": "small", "redis": "large"} and p.size == "medium"


@pytest.mark.parametrize("text, size", [
    ("make it medium", "medium"), ("tiny please", "small"), ("minimal", "small"), ("big", "large"),
    ("make it beefy", "large"), ("make it production-grade", "large"),
])
def test_global_sizes(text: str, size: str) -> None:
    p = parse(text)
    assert p.size == size and p.intent == "create"
    assert p.environment is None  # "production-grade" is a size, not the prod environment


# --- chat formatting -------------------------------------------------------------------------------

@pytest.mark.parametrize("raw, clean", [
    ("<@U123> hi", "hi"), ("<@U123|infrabot> hi", "hi"), ("<#C1|general> hi", "hi"),
    ("see <https://x.io/a|the docs>", "see the docs"), ("see <https://x.io/a> now", "see now"),
    ("*bold* _it_ `code`", "bold it code"), ("a ~mysql~ postgres", "a postgres"),
    ("```create a bucket```", "create a bucket"), ("<@123> <@!456> <@&789> hi", "hi"),
    ("hi <:party:1122> <a:dance:33>", "hi"), ("ship it 🚀🔥", "ship it"), (":rocket: go :tada:", "go"),
    ("cre\u200bate", "create"), ("a\u00a0b", "a b"), ("**x** __y__ ||z||", "x y z"), ("> quoted", "quoted"),
    ("&gt; create &amp; go", "create & go"), ("<!here> hi", "hi"), ("my_app stays", "my_app stays"),
    ("*_x_*", "x"), ("a * b * c", "a * b * c"), ("2*3*4", "2*3*4"), ("~~gone~~ kept", "kept"),
    ("```py\ncreate a bucket\n```", "create a bucket"), ("**unclosed bold", "**unclosed bold"),
    ("<foo> bar", "<foo> bar"), (":123: ok", ":123: ok"), (">>> quoted\n> two", "quoted\ntwo"),
])
def test_chat_formatting_is_removed(raw: str, clean: str) -> None:
    assert strip_chat_formatting(raw) == clean


def test_approval_reactions_read_as_yes() -> None:
    for text in ("👍", ":+1:", ":white_check_mark:", "✅"):
        p = parse(text)
        assert (p.intent, p.affirm) == ("apply", True), text


def test_fold_keeps_names_and_region_ids_whole() -> None:
    assert fold("Create a Pub/Sub topic in europe-west1, app: Shop-API!") == (
        "create a pubsub topic in europe-west1 , app : shop-api !")


# --- typos -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("typo, word", [
    ("postgress", "postgres"), ("databse", "database"), ("bukcet", "bucket"), ("stagging", "staging"),
    ("prodcution", "production"), ("cancle", "cancel"), ("reddis", "redis"), ("postgers", "postgres"),
    ("creat", "create"), ("regsitry", "registry"),
])
def test_typos_are_repaired(typo: str, word: str) -> None:
    assert correct_word(typo) == word


@pytest.mark.parametrize("word", ["shop", "state", "store", "stack", "stage", "orders", "cart", "ledger"])
def test_real_words_are_left_alone(word: str) -> None:
    assert correct_word(word) == word


def test_typos_in_sentences() -> None:
    assert kinds(parse("add a reddis cache and a bukcet")) == ["bucket", "redis"]
    assert parse("deploy to stagging").environment == "staging"
    assert parse("cancle").intent == "cancel"


@pytest.mark.parametrize("typo, intent", [
    ("lsit", "list"), ("hepl", "help"), ("hlep", "help"), ("stauts", "status"), ("statsu", "status"),
    ("histroy", "history"), ("cancle", "cancel"), ("aply", "apply"), ("appyl", "apply"),
    ("destory", "destroy"), ("lsit!", "list"),
])
def test_command_typos_said_alone(typo: str, intent: str) -> None:
    assert parse(typo).intent == intent


@pytest.mark.parametrize("text", [
    "destory shop-prod", "pls aply", "aply later", "destroi everything", "delte the stack", "remvoe the stack",
    "approev it", "dstroyy", "apple", "aplpy now", "teardwon shop-dev",
])
def test_typos_never_reach_apply_or_destroy_unless_alone_and_one_edit_away(text: str) -> None:
    assert parse(text).intent not in ("apply", "destroy"), text


# --- templates -------------------------------------------------------------------------------------

def test_templates_shape_and_menu() -> None:
    assert list(TEMPLATES) == ["web app", "api", "worker", "static site"]
    assert [c.kind for c in TEMPLATES["web app"].components] == ["service", "postgres", "bucket"]
    assert [c.kind for c in TEMPLATES["api"][1]] == ["service", "postgres", "redis"]
    assert [c.kind for c in TEMPLATES["worker"][1]] == ["service", "queue"]
    assert [c.kind for c in TEMPLATES["static site"][1]] == ["bucket"]
    assert template_menu().splitlines()[1].startswith("2. api")


@pytest.mark.parametrize("answer, name", [
    ("1", "web app"), ("2", "api"), ("#3", "worker"), ("4.", "static site"), ("the api one", "api"),
    ("web app", "web app"), ("Web App please", "web app"), ("the worker", "worker"),
    ("static", "static site"),
    ("second", "api"), ("the last one", "static site"), ("option 3", "worker"), ("*api*", "api"),
])
def test_resolve_template(answer: str, name: str) -> None:
    assert resolve_template(answer) == name


@pytest.mark.parametrize("answer", ["5", "0", "postgres", "no idea", ""])
def test_resolve_template_rejects_other_answers(answer: str) -> None:
    assert resolve_template(answer) is None


def test_api_is_a_template_only_when_asked_for_as_one() -> None:
    p = parse("the api one")
    assert p.template == "api" and kinds(p) == ["postgres", "redis", "service"]
    p = parse("an api and a database for app shop")
    assert p.template is None and kinds(p) == ["postgres", "service"]
    p = parse("I need an api for shop")
    assert p.template is None and kinds(p) == ["service"]


def test_named_templates_expand() -> None:
    p = parse("a static site for my blog")
    assert p.template == "static site" and kinds(p) == ["bucket"] and p.missing == ["app"]
    p = parse("a worker for app mailer")
    assert p.template == "worker" and kinds(p) == ["queue", "service"]
    p = parse("web app for app shop but without the bucket")
    assert p.template == "web app" and kinds(p) == ["postgres", "service"] and p.remove == ["bucket"]


def test_template_words_next_to_components_are_components() -> None:
    p = parse("a web app with redis for app portal")
    assert p.template is None and kinds(p) == ["redis", "service"]


# --- components and quantities ---------------------------------------------------------------------

@pytest.mark.parametrize("text, expected", [
    ("two buckets", ["bucket"] * 2), ("3 queues", ["queue"] * 3), ("a couple of buckets", ["bucket"] * 2),
    ("a couple buckets", ["bucket"] * 2), ("a pair of secrets", ["secret"] * 2),
    ("a few topics", ["queue"] * 3),
    ("bucket x2", ["bucket"] * 2), ("one bucket and one queue", ["bucket", "queue"]),
    ("a bucket for uploads and another bucket for backups", ["bucket"] * 2),
    ("50 buckets", ["bucket"] * 10),  # the spec allows at most 10 of a kind
    ("2 large postgres databases", ["postgres"] * 2),
])
def test_quantities(text: str, expected: list[str]) -> None:
    assert kinds(parse(text)) == expected


@pytest.mark.parametrize("text, kind", [
    ("a db", "postgres"), ("a database", "postgres"), ("postgresql", "postgres"), ("pg", "postgres"),
    ("a mysql database", "mysql"), ("mariadb", "mysql"), ("a db, mysql please", "mysql"),
    ("a cache", "redis"), ("memorystore", "redis"), ("a redis cache", "redis"), ("storage", "bucket"),
    ("blob storage", "bucket"), ("an s3 bucket", "bucket"), ("gcs", "bucket"), ("object storage", "bucket"),
    ("somewhere for files", "bucket"), ("pubsub", "queue"), ("pub/sub", "queue"),
    ("a message queue", "queue"),
    ("a topic", "queue"), ("a secret", "secret"), ("an api key", "secret"),
    ("container registry", "registry"),
    ("artifact registry", "registry"), ("a docker repo", "registry"), ("cloud run", "service"),
    ("a container", "service"), ("an api", "service"), ("a website", "service"), ("a backend", "service"),
    ("a web service", "service"), ("a frontend", "service"),
])
def test_synonyms_name_one_component(text: str, kind: str) -> None:
    assert kinds(parse(f"create {text} for app shop")) == [kind]


def test_every_kind_is_reachable() -> None:
    p = parse("a service, a postgres, a mysql, a redis, a bucket, a queue, a secret and a registry")
    assert kinds(p) == sorted(KINDS)


def test_duplicates_merge_by_adding_counts() -> None:
    p = parse("a bucket, two more buckets and a postgres db and a pg database for app shop")
    assert [(c.kind, c.count) for c in p.components] == [("bucket", 3), ("postgres", 2)]


@pytest.mark.parametrize("text, removed, added", [
    ("drop the bucket", ["bucket"], []), ("no redis", ["redis"], []),
    ("remove the cache please", ["redis"], []),
    ("remove the bucket and the queue", ["bucket", "queue"], []), ("without the secret", ["secret"], []),
    ("actually use mysql instead of postgres", ["postgres"], ["mysql"]),
    ("replace postgres with mysql", ["postgres"], ["mysql"]), ("we don't need redis", ["redis"], []),
    ("never mind the redis", ["redis"], []), ("bucket not needed", ["bucket"], []),
])
def test_removals(text: str, removed: list[str], added: list[str]) -> None:
    p = parse(text)
    assert p.intent == "create" and sorted(p.remove) == sorted(removed) and kinds(p) == added


# --- intents ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("text", ["yes", "ok", "sure", "yep!", "Yes please", "lgtm", "go ahead"])
def test_bare_agreement_affirms(text: str) -> None:
    p = parse(text)
    assert (p.intent, p.affirm, p.deny) == ("apply", True, False)


@pytest.mark.parametrize("text", ["deploy it", "ship it", "approve", "apply"])
def test_apply_commands(text: str) -> None:
    assert parse(text).intent == "apply"


@pytest.mark.parametrize("text", ["no", "nope", "nah", "No thanks"])
def test_bare_no_denies_and_cancels(text: str) -> None:
    p = parse(text)
    assert (p.intent, p.deny, p.affirm) == ("cancel", True, False)


def test_changes_after_agreement_are_a_change_not_an_approval() -> None:
    assert parse("deploy to prod").intent == "create"
    assert parse("let's do it in london instead").intent == "create"
    assert parse("no redis").deny is False


def test_destroy_fills_stack_app_and_environment() -> None:
    p = parse("destroy shop-staging")
    assert (p.intent, p.stack, p.app, p.environment) == ("destroy", "shop-staging", "shop", "staging")
    p = parse("tear down app shop in dev")
    assert (p.intent, p.stack, p.app, p.environment) == ("destroy", None, "shop", "dev")
    assert parse("delete the stack").intent == "destroy"
    assert parse("destroy the bucket").intent == "create"  # one component goes, the stack stays


@pytest.mark.parametrize("text, intent", [
    ("show me the plan", "plan"), ("approve the plan", "apply"), ("what would change?", "plan"),
    ("how is it going", "status"), ("list my apps", "list"), ("what's the url", "outputs"),
    ("history", "history"), ("help", "help"), ("hello", "help"), ("thanks!", "unknown"),
    ("what's the weather", "unknown"), ("what's the weather in tokyo", "unknown"), ("", "help"),
    ("create infrastructure for my application", "create"), ("what's for lunch?", "unknown"),
])
def test_intents(text: str, intent: str) -> None:
    assert parse(text).intent == intent


def test_non_create_intents_carry_no_components() -> None:
    p = parse("what's the connection name for the database?")
    assert p.intent == "outputs" and p.components == [] and p.missing == []


# --- contract and robustness -----------------------------------------------------------------------

def test_contract_shape() -> None:
    contract = parse("@infrabot create a large postgres and 2 buckets for my app shop in staging").contract()
    assert contract == {
        "intent": "create", "app": "shop", "cloud": None, "environment": "staging", "region": None,
        "components": [{"kind": "postgres", "count": 1, "size": "large"},
                       {"kind": "bucket", "count": 2, "size": None}],
        "missing": [], "source": "rules",
    }
    json.dumps(contract)


@pytest.mark.parametrize("text, missing", [
    ("create infrastructure for my application", ["app", "components"]),
    ("a postgres please", ["app"]), ("create infra for app shop", ["components"]),
    ("a static site", ["app"]), ("a bucket for app shop in europe", []),
])
def test_missing(text: str, missing: list[str]) -> None:
    assert parse(text).missing == missing


def test_rule_parser_is_a_planner_and_deterministic() -> None:
    planner: Planner = RuleParser()
    texts = ["create a postgres for app shop", "yes", "destroy shop-prod", "make it medium"]
    first = [planner.parse(t).model_dump() for t in texts]
    again = [RuleParser().parse(t).model_dump() for t in reversed(texts)][::-1]
    assert first == again == [parse(t).model_dump() for t in texts]


def test_random_and_hostile_input_never_breaks() -> None:
    rng = random.Random(11)
    pieces = ["<@", ">", "|", "*", "_", "~", "`", "```", ":", "app", "for", "called", " ", "-", "é", "🚀",
              "\u200b", "bucket", "x2", "'", '"', "\n", "no", "yes", "shop-staging", "in", "europe-west1"]
    for _ in range(400):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 30)))
        p = parse(text)
        assert p.intent in INTENTS
        assert all(1 <= c.count <= 10 for c in p.components)
        assert p.app is None or is_valid_app_name(p.app)
    assert parse("-" * 50_000).intent in INTENTS  # long pasted text is cut, not choked on


@pytest.mark.parametrize("text, cloud", [
    ("a bucket in eu-west-9", "aws"), ("use us-east-7 please", "aws"), ("region ap-southeast-12", "aws"),
    ("a bucket in europe-west19", "gcp"), ("a bucket on aws in us-central9", "aws"),
    ("a bucket on gcp in eu-west-9", "gcp"), ("a bucket in amazon's eu-south-7", "aws"),
])
def test_region_ids_no_cloud_has_are_reported_with_that_clouds_examples(text: str, cloud: str) -> None:
    parsed = parse(text)
    problem = parsed.region_problem
    assert parsed.region is None and problem and parsed.unknown_region
    label, example, other = ("AWS", "eu-west-1", "europe-west1") if cloud == "aws" else (
        "GCP", "europe-west1", "eu-west-1")
    assert f"{label} regions look like {example}" in words(problem) and Code(example) in problem, problem
    assert other not in words(problem), problem


@pytest.mark.parametrize("text, region", [("a bucket in eu-west-1", "eu-west-1"), ("use us-east-2 please", "us-east-2"),
                                          ("region ap-southeast-1", "ap-southeast-1")])
def test_aws_region_ids_select_aws(text: str, region: str) -> None:
    parsed = parse(text)
    assert (parsed.cloud, parsed.region, parsed.region_problem) == ("aws", region, None)


@pytest.mark.parametrize("text", ["a bucket in europe-west9", "deploy shop-v2 with a bucket", "a bucket for shop"])
def test_real_regions_and_app_names_are_not_region_problems(text: str) -> None:
    assert parse(text).region_problem is None


@pytest.mark.parametrize("raw, reason, suggestion", [
    ("google-shop", "contains \"google\"", "shop"),
    ("my-google-app", "contains \"google\"", "my-app"),
    ("googshop", "starts with \"goog\"", "shop"),
    ("goog", "starts with \"goog\"", "my-app"),
    ("postgres", "built-in database user", "postgres-app"),
    ("mysql", "built-in database user", "mysql-app"),
    ("root", "built-in database user", "root-app"),
    ("sys", "built-in database user", "sys-app"),
])
def test_names_gcp_or_the_databases_refuse_get_a_suggestion(raw: str, reason: str, suggestion: str) -> None:
    check = check_app_name(raw)
    assert check.app is None
    assert reason in words(check.problem)
    assert check.suggestion == suggestion
    assert is_valid_app_name(suggestion)


def test_names_near_the_refused_ones_are_fine() -> None:
    for name in ("shop", "goo", "gogle", "postgres2", "my-sys", "rooted", "go-og"):
        assert check_app_name(name).app == name
    assert suggest_app_name("Google Shop") == "shop"


def test_the_network_stack_name_is_not_an_app_name() -> None:
    check = check_app_name("infrabot-net")
    assert check.app is None and "shared network" in words(check.problem)
    assert check.suggestion == "infrabot-net-app"
