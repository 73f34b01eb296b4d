"""The real engine: Pulumi's Automation API driving the `pulumi` CLI against GCP.

One Pulumi stack per (app, environment), all in project "infrabot". The Automation API is synchronous
and runs the CLI as a subprocess, so every operation runs in a worker thread; engine events arrive on
yet another thread and are handed back to the event loop as `progress(done, total, message)` calls.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import subprocess
import tempfile
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Future
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pulumi import automation as auto
from pulumi.automation._cmd import _MINIMUM_VERSION, _parse_and_validate_pulumi_version
from pulumi.automation._env import _SKIP_VERSION_CHECK_VAR

from config.credentials import chat_secret_names, worker_env
from core.plan import OPS, ApplyResult, PlanOutOfDate, PlanResult, ResourceChange, summarize
from core.ports import ProgressFn
from core.spec import InfraSpec
from infra import stale_locks
from infra.errors import EngineConfigError, EngineFailed, StackBusy
from infra.pulumi_cli import default_command

if TYPE_CHECKING:
    from config.aws_service import ServiceOptions
    from config.settings import Settings

__all__ = ["EngineConfigError", "EngineFailed", "PlanOutOfDate", "PulumiEngine", "StackBusy"]

log = logging.getLogger(__name__)

PROJECT = "infrabot"
REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_STATE_DIR = REPO_ROOT / ".data" / "pulumi-state"
DEFAULT_WORK_ROOT = REPO_ROOT / ".data" / "pulumi-work"

Program = Callable[[], None]
ProgramFactory = Callable[[InfraSpec], Program]
StackConfig = Callable[[InfraSpec], Mapping[str, auto.ConfigValue]]

# Engine step ops -> what a person reviewing a plan cares about. A replacement shows up as several
# steps on one URN (create-replacement, replace, delete-replaced); they fold into one "replace".
_STEP_OPS: dict[str, str] = {
    "create": "create",
    "update": "update",
    "delete": "delete",
    "replace": "replace",
    "create-replacement": "replace",
    "delete-replaced": "replace",
    "import": "create",
    "import-replacement": "replace",
    "same": "same",
    "read": "same",
    "read-replacement": "same",
    "refresh": "same",
    "discard": "same",
    "discard-replaced": "same",
    "remove-pending-replace": "same",
}
# change_summary counts each logical change once, under its own op name; the replacement halves
# (create-replacement/delete-replaced) are not separate changes there.
_SUMMARY_OPS: dict[str, str] = {
    "create": "create",
    "update": "update",
    "delete": "delete",
    "replace": "replace",
    "import": "create",
    "same": "same",
}
_RANK = {"same": 0, "update": 1, "create": 2, "delete": 2, "replace": 3}
_VERBS = {
    "create": ("creating", "created", "to create"),
    "update": ("updating", "updated", "to update"),
    "delete": ("deleting", "deleted", "to delete"),
    "replace": ("replacing", "replaced", "to replace"),
}

_COLOR_DIRECTIVE = re.compile(r"<\{%[^%]*%\}>")
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_NOISE = re.compile(
    r"^(error:\s*)?((update|preview|destroy|refresh) failed|\d+ errors? occurred:?|diagnostics:?)$", re.I
)
_MAX_MESSAGE = 300
_EXCEPTION_LINE = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception|Exit|Interrupt): ")
# How the CLI says that `up --plan` would do something the saved plan does not allow
# (pkg/resource/deploy/step_generator.go and step_executor.go).
_PLAN_VIOLATION = re.compile(
    r"violates plan|is not allowed by the plan|no plan for resource|Expected a new resource plan", re.I
)
STACK_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")


def failed(message: str, *, stack: str, detail: str = "") -> EngineFailed:
    """EngineFailed with one plain line for chat; `detail` (scrubbed stderr tail) is for logs only."""
    err = EngineFailed(message[:_MAX_MESSAGE])
    err.stack = stack  # type: ignore[attr-defined]
    err.detail = detail  # type: ignore[attr-defined]
    return err


def is_hidden(type_: str) -> bool:
    """The stack root and default providers are Pulumi bookkeeping, not things a person asked for."""
    return type_ == "pulumi:pulumi:Stack" or type_.startswith("pulumi:providers:")


def name_of(urn: str) -> str:
    return urn.rsplit("::", 1)[-1] if urn else ""


def short_type(type_: str) -> str:
    return type_.rsplit(":", 1)[-1] or type_


def plain(text: str) -> str:
    return _ANSI.sub("", _COLOR_DIRECTIVE.sub("", text))


class _Run:
    """Collects one operation's engine events (from a CLI-side thread) and relays progress to the loop."""

    def __init__(
        self, verb: str, loop: asyncio.AbstractEventLoop, progress: ProgressFn, secrets: Iterable[str] = ()
    ) -> None:
        self.verb = verb
        self.secrets = [s for s in secrets if s]
        self._loop = loop
        self._progress = progress
        self._lock = threading.Lock()
        # asyncio.Lock is FIFO, and run_coroutine_threadsafe starts tasks in submission order, so
        # reports reach `progress` in the order the engine emitted them, one at a time.
        self._serial = asyncio.Lock()
        self._reports: list[Future[None]] = []
        self.changes: dict[str, ResourceChange] = {}
        self.hidden: Counter[str] = Counter()
        self._hidden_seen: set[str] = set()
        self.started: set[str] = set()
        self.finished: set[str] = set()
        self.errors: list[str] = []
        self.summary: Mapping[str, int] | None = None

    # Runs on the Automation API's event thread.
    def on_event(self, event: auto.EngineEvent) -> None:
        try:
            with self._lock:
                self._handle(event)
        except Exception:  # a malformed event must not abort the Pulumi operation itself
            log.exception("could not handle a Pulumi engine event")

    def _handle(self, event: auto.EngineEvent) -> None:
        if event.resource_pre_event is not None:
            self._on_step(event.resource_pre_event.metadata, finished=False)
        elif event.res_outputs_event is not None:
            self._on_step(event.res_outputs_event.metadata, finished=True)
        elif event.diagnostic_event is not None:
            self._on_diagnostic(event.diagnostic_event)
        elif event.summary_event is not None:
            self.summary = dict(event.summary_event.resource_changes)
            self._report(self._summary_line(self.summary))

    def _on_step(self, meta: auto.events.StepEventMetadata, *, finished: bool) -> None:
        op = _STEP_OPS.get(str(getattr(meta.op, "value", meta.op)), "same")
        if is_hidden(meta.type):
            # The CLI's change summary counts the stack root but not providers (checked on v3.274.1).
            if meta.type == "pulumi:pulumi:Stack" and not finished and meta.urn not in self._hidden_seen:
                self._hidden_seen.add(meta.urn)
                self.hidden[op] += 1
            return
        name = name_of(meta.urn)
        known = self.changes.get(meta.urn)
        if known is None or _RANK[op] > _RANK[known.op]:
            self.changes[meta.urn] = ResourceChange(type=meta.type, name=name, op=op)  # type: ignore[arg-type]
        op = self.changes[meta.urn].op
        if op == "same":
            return
        label = f"{short_type(meta.type)} {name}"
        if self.verb == "preview":
            if meta.urn not in self.started:
                self.started.add(meta.urn)
                self.finished.add(meta.urn)
                self._report(f"plan: {op} {label}")
        elif finished:
            # A replacement finishes several steps on one URN; the person hears about it once.
            if meta.urn not in self.finished:
                self.finished.add(meta.urn)
                self._report(f"{_VERBS[op][1]} {label}")
        elif meta.urn not in self.started:
            self.started.add(meta.urn)
            self._report(f"{_VERBS[op][0]} {label}")

    def _on_diagnostic(self, diag: auto.events.DiagnosticEvent) -> None:
        if diag.severity not in ("error", "warning"):
            return
        line = first_meaningful([diag.message])
        if not line:
            return
        line = scrub(line, self.secrets)
        if diag.urn and not is_hidden(_type_of(diag.urn)):
            line = f"{short_type(_type_of(diag.urn))} {name_of(diag.urn)}: {line}"
        if diag.severity == "error":
            self.errors.append(line)
        self._report(f"{diag.severity}: {line}")

    def _summary_line(self, counts: Mapping[str, int]) -> str:
        ours = self.counts(counts)
        done_word = 2 if self.verb == "preview" else 1
        parts = [f"{n} {_VERBS[op][done_word]}" for op, n in ours.items() if n]
        head = "plan ready" if self.verb == "preview" else "finished"
        return f"{head}: {', '.join(parts) if parts else 'no changes'}"

    def counts(self, change_summary: Mapping[str, int] | None) -> dict[str, int]:
        """change_summary in our ops, without the bookkeeping resources the person never asked for."""
        if change_summary is None:
            return summarize(list(self.changes.values()))
        counts = dict.fromkeys(OPS, 0)
        for key, n in change_summary.items():
            op = _SUMMARY_OPS.get(str(getattr(key, "value", key)))
            if op in counts:
                counts[op] += int(n)
        for op, n in self.hidden.items():
            if op in counts:
                counts[op] = max(counts[op] - n, 0)
        return counts

    def _report(self, message: str) -> None:
        done, total = len(self.finished), max(len(self.started), len(self.finished))
        self._reports.append(
            asyncio.run_coroutine_threadsafe(self._deliver(done, total, message[:_MAX_MESSAGE]), self._loop)
        )

    async def _deliver(self, done: int, total: int, message: str) -> None:
        async with self._serial:
            try:
                await self._progress(done, total, message)
            except Exception:  # a status-card hiccup must not fail the infrastructure change
                log.warning("progress callback failed", exc_info=True)

    async def drain(self) -> None:
        """Wait until every report scheduled so far has been delivered."""
        with self._lock:
            pending = list(self._reports)
        if pending:
            await asyncio.gather(*(asyncio.wrap_future(f) for f in pending), return_exceptions=True)


def _type_of(urn: str) -> str:
    # urn:pulumi:<stack>::<project>::<parent$type>::<name>
    parts = urn.split("::")
    return parts[2].rsplit("$", 1)[-1] if len(parts) >= 4 else ""


def first_meaningful(texts: Iterable[str]) -> str | None:
    for text in texts:
        text = _exception_line(plain(text))
        for raw in text.splitlines():
            line = raw.strip().lstrip("*").strip()
            if line.lower().startswith("error:"):
                line = line[len("error:") :].strip()
            if line and not _NOISE.match(line):
                return line
    return None


def _exception_line(text: str) -> str:
    """A Python provider's failure arrives as a traceback; its last `SomeError: why` line is the news."""
    if "Traceback (most recent call last):" not in text:
        return text
    lines = [line.strip() for line in text.splitlines() if _EXCEPTION_LINE.match(line.strip())]
    return lines[-1] if lines else text


def scrub(text: str, secrets: Iterable[str]) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, "[redacted]")
    return text


def output_text(value: auto.OutputValue) -> str:
    if value.secret:
        return "[secret]"
    if isinstance(value.value, str):
        return value.value
    return json.dumps(value.value, sort_keys=True)


class PulumiEngine:
    name = "pulumi"
    simulated = False

    def __init__(
        self,
        *,
        passphrase: str,
        gcp_project: str,
        backend_url: str | None = None,
        pulumi_command: str | None = None,
        work_root: str | Path | None = None,
        pulumi_home: str | None = None,
        program_factory: ProgramFactory | None = None,
        stack_config: StackConfig | None = None,
        aws_service: ServiceOptions | None = None,
    ) -> None:
        """
        :param passphrase: encrypts stack secrets (PULUMI_CONFIG_PASSPHRASE); required.
        :param gcp_project: the GCP project every stack deploys into; required.
        :param backend_url: Pulumi state backend; default a file backend in <repo>/.data/pulumi-state.
        :param pulumi_command: the `pulumi` executable laid out as `<root>/bin/pulumi`, or that root
            directory; None means `pulumi` on PATH.
        :param work_root: where each stack's Pulumi.yaml / Pulumi.<stack>.yaml live. They must persist:
            the passphrase provider keeps the stack's encryption salt there.
        :param program_factory: builds the Pulumi program for a spec; None means infra.program.make_program.
        :param stack_config: extra per-stack config the program reads; secret values reach the CLI on
            stdin only, never on its command line.
        :param aws_service: image, port and HTTPS certificates of AWS services (AWS_SERVICE_* settings).
        """
        if not passphrase:
            raise EngineConfigError(
                "PULUMI_CONFIG_PASSPHRASE is not set: the pulumi engine needs it to encrypt stack secrets"
            )
        if not gcp_project:
            raise EngineConfigError(
                "GCP_PROJECT is not set: the pulumi engine needs a GCP project to deploy to"
            )
        self._passphrase = passphrase
        self.gcp_project = gcp_project
        self.backend_url = backend_url or DEFAULT_STATE_DIR.as_uri()
        self._root = _command_root(pulumi_command)
        self._work_root = Path(work_root) if work_root else DEFAULT_WORK_ROOT
        self._pulumi_home = pulumi_home
        self._program_factory = program_factory
        self._stack_config = stack_config
        self._aws_service = aws_service
        self._command: auto.PulumiCommand | None = None
        self._command_lock = threading.Lock()

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> PulumiEngine:
        env = os.environ if environ is None else environ
        return cls(
            passphrase=env.get("PULUMI_CONFIG_PASSPHRASE", ""),
            gcp_project=env.get("GCP_PROJECT") or env.get("GOOGLE_CLOUD_PROJECT") or "",
            backend_url=env.get("PULUMI_BACKEND_URL") or None,
            pulumi_command=default_command(env),
            pulumi_home=env.get("PULUMI_HOME") or None,
        )

    @classmethod
    def from_settings(cls, settings: Settings, environ: Mapping[str, str] | None = None) -> PulumiEngine:
        """State and work dirs live under settings.data_dir unless PULUMI_BACKEND_URL says otherwise."""
        env = os.environ if environ is None else environ
        data = Path(settings.data_dir).expanduser().resolve()
        secret = settings.pulumi_config_passphrase
        return cls(
            passphrase=secret.get_secret_value() if secret is not None else "",
            gcp_project=settings.gcp_project,
            backend_url=settings.pulumi_backend_url or (data / "pulumi-state").as_uri(),
            pulumi_command=default_command(env),
            work_root=data / "pulumi-work",
            pulumi_home=env.get("PULUMI_HOME") or None,
            aws_service=settings.aws_service,
        )

    def __repr__(self) -> str:
        return f"PulumiEngine(backend_url={self.backend_url!r}, gcp_project={self.gcp_project!r})"

    async def preview(self, spec: InfraSpec, progress: ProgressFn) -> PlanResult:
        """Previews and saves the result as a Pulumi update plan, returned as the plan's artifact."""
        run = _Run("preview", asyncio.get_running_loop(), progress, self._secrets(spec))
        try:
            result, saved = await asyncio.to_thread(self._guarded, spec, run, self._preview_sync)
        finally:
            await run.drain()
        resources = list(run.changes.values())
        return PlanResult(
            engine=self.name,
            resources=resources,
            summary=run.counts(result.change_summary),
            simulated=False,
            spec_fingerprint=spec.fingerprint(),
            artifact=saved,
        )

    async def apply(
        self, spec: InfraSpec, progress: ProgressFn, approved: PlanResult | None = None
    ) -> ApplyResult:
        """With `approved`, runs `up --plan` on its saved update plan, so the CLI does that plan or nothing.

        Without it (callers that have no preview to hold it to), a plain `up`.
        """
        saved = self._saved_plan(spec, approved)
        run = _Run("apply", asyncio.get_running_loop(), progress, self._secrets(spec))

        def up(stack: auto.Stack, run: _Run) -> auto.UpResult:
            return self._up_sync(stack, run, saved)

        try:
            result = await asyncio.to_thread(self._guarded, spec, run, up)
        finally:
            await run.drain()
        return ApplyResult(
            engine=self.name,
            summary=run.counts(result.summary.resource_changes or run.summary),
            outputs={key: output_text(value) for key, value in result.outputs.items()},
        )

    async def destroy(self, spec: InfraSpec, progress: ProgressFn) -> ApplyResult:
        run = _Run("destroy", asyncio.get_running_loop(), progress, self._secrets(spec))
        try:
            result = await asyncio.to_thread(self._guarded, spec, run, self._destroy_sync)
        finally:
            await run.drain()
        return ApplyResult(
            engine=self.name,
            summary=run.counts(result.summary.resource_changes or run.summary),
            removed=[c for c in run.changes.values() if c.op == "delete"],
        )

    def _saved_plan(self, spec: InfraSpec, approved: PlanResult | None) -> str | None:
        if approved is None:
            return None
        if approved.engine != self.name or not approved.artifact:
            raise PlanOutOfDate(
                f"the approved plan for {spec.stack_name} has no saved Pulumi update plan to hold the apply "
                "to, so nothing was applied; plan again to get one"
            )
        if approved.spec_fingerprint != spec.fingerprint():
            raise PlanOutOfDate(
                f"the request for {spec.stack_name} changed after its plan was approved, so nothing was "
                "applied; here is a fresh plan to approve"
            )
        return approved.artifact

    # --- worker-thread side -------------------------------------------------------------------

    def _preview_sync(self, stack: auto.Stack, run: _Run) -> tuple[auto.PreviewResult, str]:
        base = _stack_version(stack)
        with tempfile.TemporaryDirectory(prefix="infrabot-plan-") as tmp:
            path = Path(tmp) / "plan.json"
            result = stack.preview(on_event=run.on_event, color="never", plan=str(path))
            saved = path.read_text()
        # The CLI encrypts secret values in a plan with the stack's secrets provider; this plan is
        # stored with the request, so a plaintext secret must never ride along, whatever the CLI does.
        if any(secret in saved for secret in run.secrets):
            raise failed("the saved plan held a secret in plain text, so it was not kept", stack=stack.name)
        return result, json.dumps({"base_version": base, "update_plan": saved})

    def _up_sync(self, stack: auto.Stack, run: _Run, artifact: str | None) -> auto.UpResult:
        if artifact is None:
            return stack.up(on_event=run.on_event, color="never")
        saved = json.loads(artifact)
        # `up --plan` holds every resource to its planned goal and operation, but not to the state the
        # plan started from: an update planned over another state (someone applied in between) would
        # still pass. The stack's update count pins that state.
        if _stack_version(stack) != saved["base_version"]:
            raise _out_of_date(stack.name)
        with tempfile.TemporaryDirectory(prefix="infrabot-plan-") as tmp:
            path = Path(tmp) / "plan.json"
            path.write_text(saved["update_plan"])
            return stack.up(on_event=run.on_event, color="never", plan=str(path))

    def _destroy_sync(self, stack: auto.Stack, run: _Run) -> auto.DestroyResult:
        return stack.destroy(on_event=run.on_event, color="never")

    def _guarded(self, spec: InfraSpec, run: _Run, operation: Callable[[auto.Stack, _Run], Any]) -> Any:
        """Turn the CLI's failures into StackBusy / PlanOutOfDate / EngineFailed with plain, secret-free words.

        Exceptions are re-raised `from None`: a CommandError's text is the CLI's whole stdout and
        stderr, which must not ride along into logs or chat.
        """
        stack_name = spec.stack_name
        stack: auto.Stack | None = None
        try:
            stack = self._stack(spec)
            try:
                return operation(stack, run)
            except auto.ConcurrentUpdateError as err:
                # A lock whose maker is dead (say, an OOM-killed worker) would refuse every change forever.
                if not stale_locks.clear_if_stale(stack, _stderr_of(err)):
                    raise
                return operation(stack, run)
        except auto.ConcurrentUpdateError:
            raise StackBusy(stack_name) from None
        except auto.CommandError as err:
            stderr = _stderr_of(err)
            if _PLAN_VIOLATION.search(stderr) or any(_PLAN_VIOLATION.search(e) for e in run.errors):
                raise _out_of_date(stack_name) from None
            message = first_meaningful(run.errors) or first_meaningful(
                [line for line in stderr.splitlines() if line.lstrip().lower().startswith("error:")]
            )
            message = scrub(message or f"pulumi {run.verb} failed", run.secrets)
            detail = scrub(plain(stderr)[-2000:], run.secrets)
            raise failed(message, stack=stack_name, detail=detail) from None
        except FileNotFoundError:
            raise failed(
                "the pulumi CLI was not found; install it or set PULUMI_COMMAND", stack=stack_name
            ) from None
        except subprocess.CalledProcessError:
            raise failed("the pulumi CLI did not answer `pulumi version`", stack=stack_name) from None
        except auto.InvalidVersionError as err:
            raise failed(scrub(str(err), run.secrets), stack=stack_name) from None
        except RuntimeError as err:
            # e.g. the Automation API's "summary event never found" when the CLI ended early.
            raise failed(f"pulumi {run.verb} ended unexpectedly: {err}", stack=stack_name) from None

    def _stack(self, spec: InfraSpec) -> auto.Stack:
        if not STACK_NAME.match(spec.stack_name):
            raise failed(f"{spec.stack_name!r} is not a usable stack name", stack=spec.stack_name)
        program = self._program(spec)
        try:
            stack = auto.create_or_select_stack(
                stack_name=spec.stack_name, project_name=PROJECT, program=program, opts=self._options(spec)
            )
        except auto.StackAlreadyExistsError:
            # Another worker created it between our select and init.
            stack = auto.select_stack(
                stack_name=spec.stack_name, project_name=PROJECT, program=program, opts=self._options(spec)
            )
        if spec.cloud == "aws":
            # Credentials come from the worker's own AWS_* environment or instance role, never config.
            config = {"aws:region": auto.ConfigValue(spec.region)}
        else:
            config = {
                "gcp:project": auto.ConfigValue(self.gcp_project),
                "gcp:region": auto.ConfigValue(spec.region),
            }
        if self._stack_config is not None:
            config.update(self._stack_config(spec))
        self._set_config(stack, config)
        return stack

    def _set_config(self, stack: auto.Stack, config: Mapping[str, auto.ConfigValue]) -> None:
        """Plain values in one `config set-all`; each secret through `config set --secret` on stdin.

        The Automation API puts secret values on the CLI's command line, where `ps` shows them.
        """
        plain_values = {k: v for k, v in config.items() if not v.secret}
        if plain_values:
            stack.set_all_config(plain_values)
        for key, value in config.items():
            if value.secret:
                self._set_secret_config(stack, key, value.value)

    def _set_secret_config(self, stack: auto.Stack, key: str, value: str) -> None:
        workspace = stack.workspace
        env = {**os.environ, **workspace.env_vars}
        if self._pulumi_home:
            env["PULUMI_HOME"] = self._pulumi_home
        command = self._pulumi().command
        env["PATH"] = os.pathsep.join([str(Path(command).parent), env.get("PATH", "")])
        done = subprocess.run(
            [command, "config", "set", "--secret", "--non-interactive", "--stack", stack.name, key],
            input=value, text=True, capture_output=True, cwd=workspace.work_dir, env=env, check=False,
        )
        if done.returncode != 0:
            detail = scrub(plain(done.stderr)[-2000:], [value, self._passphrase])
            raise failed(first_meaningful([detail]) or f"could not set the secret {key}",
                         stack=stack.name, detail=detail)

    def _program(self, spec: InfraSpec) -> Program:
        if self._program_factory is not None:
            return self._program_factory(spec)
        from infra.program import make_program  # imported late: the GCP program pulls in pulumi_gcp

        return make_program(spec, aws_service=self._aws_service)

    def _options(self, spec: InfraSpec) -> auto.LocalWorkspaceOptions:
        _ensure_file_backend(self.backend_url)
        work_dir = self._work_root / spec.stack_name
        work_dir.mkdir(parents=True, exist_ok=True)
        return auto.LocalWorkspaceOptions(
            work_dir=str(work_dir),
            pulumi_home=self._pulumi_home,
            pulumi_command=self._pulumi(),
            secrets_provider="passphrase",
            env_vars=self._env(),
            project_settings=auto.ProjectSettings(
                name=PROJECT, runtime="python", backend=auto.ProjectBackend(self.backend_url)
            ),
        )

    def _env(self) -> dict[str, str]:
        # The CLI and its plugins inherit this process's environment; chat tokens must not reach them
        # even if the worker was started with some (an empty value overrides the inherited one).
        env = dict.fromkeys(chat_secret_names(os.environ), "")
        env.update({
            "PULUMI_CONFIG_PASSPHRASE": self._passphrase,
            "PULUMI_BACKEND_URL": self.backend_url,
            "PULUMI_SKIP_UPDATE_CHECK": "true",
        })
        return env

    def _secrets(self, spec: InfraSpec) -> list[str]:
        extra = self._stack_config(spec) if self._stack_config is not None else {}
        return [self._passphrase, *(v.value for v in extra.values() if v.secret and v.value)]

    def _pulumi(self) -> auto.PulumiCommand:
        # Checking the CLI's version spawns a process; do it once per engine, not per operation.
        with self._command_lock:
            if self._command is None:
                self._command = _Command(self._root)
            return self._command


class _Command(auto.PulumiCommand):
    """PulumiCommand whose `pulumi version` check runs without chat tokens, like every other CLI call.

    The stock one runs it with this process's whole environment.
    """

    def __init__(self, root: str | None) -> None:
        self.command = os.path.join(root, "bin", "pulumi") if root else "pulumi"
        env = worker_env(os.environ) | {"PULUMI_SKIP_UPDATE_CHECK": "true"}
        current = subprocess.check_output([self.command, "version"], env=env).decode().strip().removeprefix("v")
        self.version = _parse_and_validate_pulumi_version(
            min_version=_MINIMUM_VERSION,
            current_version=current,
            opt_out=os.getenv(_SKIP_VERSION_CHECK_VAR) is not None,
        )


def _stack_version(stack: auto.Stack) -> str:
    """Names the stack's latest update; any update since a preview moves this on.

    DIY backends report version 0 for every update, so the update's own times identify it.
    """
    history = stack.history(page_size=1, show_secrets=False)
    if not history:
        return ""
    last = history[0]
    return f"{last.kind} {last.start_time} {last.end_time} {last.version}"


def _out_of_date(stack_name: str) -> PlanOutOfDate:
    return PlanOutOfDate(
        f"the plan is out of date: {stack_name} changed since it was previewed, so nothing outside the "
        "approved plan was applied; here is a fresh plan to approve"
    )


def _stderr_of(err: auto.CommandError) -> str:
    # CommandError keeps only str(CommandResult): "\n code: N\n stdout: ...\n stderr: ...".
    text = str(err)
    marker = "\n stderr: "
    return text.split(marker, 1)[1] if marker in text else text


def _command_root(path: str | None) -> str | None:
    if not path:
        return None
    p = Path(path).expanduser().resolve()
    if p.is_dir():
        return str(p)
    if p.name == "pulumi" and p.parent.name == "bin":
        return str(p.parent.parent)
    raise EngineConfigError(f"PULUMI_COMMAND must be <root>/bin/pulumi or <root>, got {path}")


def _ensure_file_backend(url: str) -> None:
    if url.startswith("file://"):
        Path(url[len("file://") :]).expanduser().mkdir(parents=True, exist_ok=True)
