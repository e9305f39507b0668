"""deploy/kubernetes/values.yaml against the Zero to JupyterHub chart's own schema.

Helm validates the chart's defaults merged with the user's values (maps merged key by key,
lists and scalars replaced, null removes a key); the same is done here with `jsonschema`, then
the settings the workshop relies on are read back from the merged values.
"""

from __future__ import annotations

import copy
import functools
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
VALUES = REPO / "deploy" / "kubernetes" / "values.yaml"
CHART = REPO.parent / "shared" / "reference" / "zero-to-jupyterhub"
pytestmark = pytest.mark.skipif(
    not (CHART / "values.schema.yaml").exists(), reason=f"no chart schema in {CHART}"
)


def helm_merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for key, value in over.items():
        if value is None:
            out.pop(key, None)
        elif isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = helm_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def load(path: Path) -> dict[str, Any]:
    doc = yaml.safe_load(path.read_text())
    assert isinstance(doc, dict), path
    return doc


@functools.cache
def validator() -> jsonschema.Draft7Validator:
    return jsonschema.Draft7Validator(load(CHART / "values.schema.yaml"))


def errors(values: dict[str, Any]) -> list[str]:
    return [
        f"{'.'.join(map(str, e.absolute_path)) or '(top)'}: {e.message}"
        for e in validator().iter_errors(values)
    ]


@pytest.fixture(scope="module")
def merged() -> dict[str, Any]:
    return helm_merge(load(CHART / "values.yaml"), load(VALUES))


def test_values_pass_the_chart_schema(merged: dict[str, Any]):
    assert errors(merged) == []


def test_the_schema_catches_mistakes(merged: dict[str, Any]):
    """The validation above can fail: a typo'd key and a wrong type are both caught."""
    typo = copy.deepcopy(merged)
    typo["singleuser"]["memroy"] = {"limit": "2G"}
    assert any("memroy" in e for e in errors(typo))
    wrong = copy.deepcopy(merged)
    wrong["singleuser"]["cloudMetadata"]["blockWithIptables"] = "no"
    assert any("blockWithIptables" in e for e in errors(wrong))


def test_learner_pods_as_the_workshop_needs(merged: dict[str, Any]):
    su = merged["singleuser"]
    assert su["image"]["name"] == "manrs-lab/lab"
    ctx = merged["hub"]["config"]["KubeSpawner"]["container_security_context"]
    assert ctx["privileged"] is False
    assert ctx["allowPrivilegeEscalation"] is False
    assert set(ctx["capabilities"]["add"]) == {"NET_ADMIN", "NET_RAW", "SYS_ADMIN"}
    # nothing in the pod is privileged: not the chart's iptables init container either
    assert su["cloudMetadata"]["blockWithIptables"] is False
    assert su["storage"]["homeMountPath"] == "/home/learner/work"
    assert su["storage"]["type"] == "dynamic"
    assert su["cpu"]["limit"]
    assert su["memory"]["limit"]
    egress = su["networkPolicy"]["egressAllowRules"]
    assert su["networkPolicy"]["enabled"] is True
    assert not egress["nonPrivateIPs"]
    assert not egress["privateIPs"]
    assert merged["cull"]["enabled"] is True
    assert merged["cull"]["timeout"] > 0


def test_class_view_and_instructors(merged: dict[str, Any]):
    hub = merged["hub"]
    assert hub["config"]["JupyterHub"]["authenticator_class"].endswith("NativeAuthenticator")
    assert hub["config"]["NativeAuthenticator"]["open_signup"] is False
    assert "class-view" in hub["services"]
    roles = hub["loadRoles"]
    assert "access:services!service=class-view" in roles["instructor"]["scopes"]
    assert roles["instructor"]["groups"] == ["instructors"]
    assert roles["class-view"]["services"] == ["class-view"]
    sidecar = next(c for c in hub["extraContainers"] if c["name"] == "class-view")
    assert sidecar["command"][-1] == "manrs_lab.classroom.service"
    env = {e["name"]: e for e in sidecar["env"]}
    assert env["JUPYTERHUB_API_TOKEN"]["valueFrom"]["secretKeyRef"]["key"] == (
        "hub.services.class-view.apiToken"
    )
    assert sidecar["securityContext"]["runAsNonRoot"] is True
    assert 10101 in hub["networkPolicy"]["allowedIngressPorts"]
