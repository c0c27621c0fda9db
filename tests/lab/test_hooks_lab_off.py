"""With ``--no-lab`` every hook returns before it looks at what the route gave it: no
fingerprint, no event built, no database read (hooks.py's promise: a no-op when the lab is off)."""

from __future__ import annotations

import inspect
from types import SimpleNamespace

import pytest
from starlette.requests import Request

from demo_as.lab import hooks


class Untouchable:
    """An argument a hook must not use with the lab off."""

    def __getattr__(self, name: str):
        raise AssertionError(f"a hook used its argument ({name}) with the lab off")

    def __getitem__(self, key):
        raise AssertionError(f"a hook used its argument ([{key!r}]) with the lab off")

    def __iter__(self):
        raise AssertionError("a hook iterated its argument with the lab off")

    def __bool__(self):
        raise AssertionError("a hook tested its argument with the lab off")


ROUTE_HOOKS = [
    "metadata_fetch",
    "registration",
    "authorization_request",
    "consent_decision",
    "authorization_response",
    "token_request",
    "refresh_token_presented",
    "token_response",
    "reuse_detected",
    "refusal",
    "revocation",
    "introspection",
]


@pytest.mark.parametrize("name", ROUTE_HOOKS)
def test_a_hook_does_nothing_with_the_lab_off(name):
    app = SimpleNamespace(state=SimpleNamespace(lab=None, settings=Untouchable()))
    request = Request({"type": "http", "app": app, "headers": [], "state": {}})
    hook = getattr(hooks, name)
    arguments = [Untouchable() for _ in list(inspect.signature(hook).parameters)[1:]]
    assert hook(request, *arguments) is None
    assert request.scope["state"] == {}  # nothing noted for a later hook either
