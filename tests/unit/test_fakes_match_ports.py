"""Every port in core/ports.py has a fake in tests/fakes.py with the same methods and parameters, so a port
that grows a method (or renames a parameter) cannot leave its fake behind unnoticed."""

from __future__ import annotations

import inspect
from typing import Protocol

from core import ports
from tests import fakes

FAKES: dict[str, type] = {
    "EventGate": fakes.FakeEventGate,
    "ContextStore": fakes.FakeContextStore,
    "HistoryStore": fakes.FakeHistory,
    "RequestStore": fakes.FakeRequests,
    "StackOwners": fakes.FakeStackOwners,
    "JobStore": fakes.FakeJobs,
    "RelayWork": fakes.FakeRelayWork,
    "AuditLog": fakes.FakeAudit,
    "JobQueue": fakes.FakeQueue,
    "StatusSignal": fakes.FakeStatusSignal,
    "Engine": fakes.FakeEngine,
    "CardRefStore": fakes.FakeCardRefs,
    "ChatCore": fakes.FakeChatCore,
    "StatusSink": fakes.FakeStatusSink,
    "Observer": fakes.FakeObserver,
    "Planner": fakes.FakePlanner,
    "ChatCompletion": fakes.FakeChatCompletion,
}


def port_classes() -> dict[str, type]:
    return {
        name: value for name, value in vars(ports).items()
        if inspect.isclass(value) and value.__module__ == ports.__name__ and Protocol in value.__mro__
    }


def members(port: type) -> dict[str, inspect.Signature | None]:
    """The port's methods with their signatures, and its plain attributes (None)."""
    found: dict[str, inspect.Signature | None] = {}
    for name, value in vars(port).items():
        if name.startswith("_"):
            continue
        found[name] = inspect.signature(value) if callable(value) else None
    for name in getattr(port, "__annotations__", {}):
        found.setdefault(name, None)
    return found


def test_every_port_has_a_fake() -> None:
    assert set(port_classes()) == set(FAKES)


def _shape(signature: inspect.Signature) -> list[tuple[str, inspect._ParameterKind]]:
    # `**fields` and `**fields_` take the same calls: only named parameters must match by name.
    return [("*" if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) else p.name, p.kind)
            for p in signature.parameters.values()]


def drift(name: str, port: type, fake: type) -> list[str]:
    found = []
    for member, signature in members(port).items():
        if not hasattr(fake, member):
            found.append(f"{fake.__name__} lacks {name}.{member}")
        elif signature is not None:
            theirs = getattr(fake, member)
            if _shape(inspect.signature(theirs)) != _shape(signature) or (
                    inspect.iscoroutinefunction(getattr(port, member)) != inspect.iscoroutinefunction(theirs)):
                found.append(f"{fake.__name__}.{member}{inspect.signature(theirs)} differs from "
                             f"{name}.{member}{signature}")
    return found


def test_each_fake_has_its_ports_methods_with_the_same_parameters() -> None:
    found = [line for name, port in port_classes().items() for line in drift(name, port, FAKES[name])]
    assert not found, found


def test_the_check_sees_a_missing_method_and_a_changed_one() -> None:
    class Partial:
        def claim(self, key: str) -> bool:
            return True

        async def release(self, event: str) -> None:
            return None

    found = drift("EventGate", ports.EventGate, Partial)
    assert [line.split("(")[0].split(" ")[0] for line in found] == ["Partial.claim", "Partial", "Partial.release"]
    assert "lacks EventGate.settle" in found[1]
