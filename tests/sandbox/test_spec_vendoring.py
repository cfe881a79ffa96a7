"""The vendored specs (tests/specs) still hold an operation for every Twilio route simulated.

tests/specs/trim.py keeps only the paths the simulators serve; a route whose operation was
trimmed away would no longer be validated (an exchange for no operation passes). This
test fails instead, naming the route.
"""

from __future__ import annotations

import itertools
import re

from provisioning.sandbox import Sandbox
from tests.sandbox.openapi import ROUTES, load_spec

_RULE_PARAM = re.compile(r"<(?:any\(([^)]*)\):)?[^>]+>")
_SPEC_PARAM = re.compile(r"\{[^}]+\}")


def _shapes(rule: str) -> set[str]:
    """A werkzeug rule as spec-comparable shapes: each ``any(A,B)`` expanded, other
    converters as ``{}``."""
    parts = _RULE_PARAM.split(rule)
    literals, choices = parts[0::2], parts[1::2]
    options = [c.split(",") if c else ["{}"] for c in choices]
    shapes = set()
    for picked in itertools.product(*options):
        text = literals[0]
        for value, literal in zip(picked, literals[1:], strict=True):
            text += value.strip() + literal
        shapes.add(text)
    return shapes


def _twilio_rules() -> list[tuple[str, str]]:
    simulator = Sandbox(seed=1).twilio
    found = []
    for rule in simulator.url_map.iter_rules():
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            found.append((method, rule.rule))
    return found


def test_every_simulated_twilio_route_has_its_vendored_operation() -> None:
    rules = _twilio_rules()
    assert len(rules) > 50
    missing = []
    for method, rule in rules:
        for shape in _shapes(rule):
            routed = next(
                ((spec, shape[len(strip) :]) for prov, prefix, spec, strip in ROUTES
                 if prov == "twilio" and shape.startswith(prefix)),
                None,
            )  # fmt: skip
            assert routed is not None, f"no spec covers {shape}"
            spec, path = routed
            templates = {
                _SPEC_PARAM.sub("{}", op.template)
                for op in load_spec(spec).operations
                if op.method == method
            }
            if path not in templates:
                missing.append(f"{method} {shape} ({spec})")
    assert not missing, "trimmed away or never in the spec:\n" + "\n".join(missing)
