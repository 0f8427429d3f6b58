"""The Helm chart (helm/), rendered offline: it lints, every object it renders is valid for the
Kubernetes version it claims, and the rules a deployment depends on hold. Each rule is a
function returning its violations, and each is shown to report a deliberately broken copy of the
rendered objects, so that a rule which can never fail does not pass for a check.

There is no cluster here: helm comes from platform/fetch-helm and objects are validated with
kubernetes-validate against the published schemas.
"""

from __future__ import annotations

import copy
import os
import re
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import kubernetes_validate
import pytest
import yaml
from django.conf import settings

from config.processes import WORKER_NODE_NAMES, process_commands

ROOT = Path(settings.BASE_DIR)
CHART = ROOT / "helm"
# Objects are validated against the oldest Kubernetes the chart accepts (Chart.yaml kubeVersion),
# so a field only newer clusters know fails here.
KUBERNETES_VERSION = "1.27.0"
RELEASE = "hospital"

# Settings that hold secrets: never a literal value in a pod's environment or a ConfigMap.
SECRET_SETTINGS = {
    "SECRET_KEY",
    "DATABASE_URL",
    "REDIS_URL",
    "CACHE_URL",
    "EMAIL_HOST_PASSWORD",
    "S3_ACCESS_KEY_ID",
    "S3_SECRET_ACCESS_KEY",
}
SECRET_FILES = "/run/secrets/hospital/"
# A URL with a password in it (postgres://user:password@host/...), whatever variable holds it.
URL_WITH_PASSWORD = re.compile(r"://[^/@\s:]*:[^/@\s]+@")
OWNER_URL, APP_URL = "database-owner-url", "database-url"
# The pods that connect to the database as its owner: they create schemas.
OWNER_COMPONENTS = {"migrate", "platform"}
MIGRATE_ARGS = ["migrate", "--noinput", "--executor", "multiprocessing"]
KEDA_KINDS = {"ScaledObject", "TriggerAuthentication"}
# The ScaledObject fields the chart may set (KEDA's CRD has more; these are the ones it uses).
SCALED_OBJECT_FIELDS = {
    "scaleTargetRef",
    "pollingInterval",
    "cooldownPeriod",
    "minReplicaCount",
    "maxReplicaCount",
    "triggers",
}

Docs = list[dict]


# --- helm ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def helm() -> str:
    """platform/fetch-helm's helm; the test errors with the script's own message if it fails."""
    done = subprocess.run(
        [str(ROOT / "platform" / "fetch-helm")], capture_output=True, text=True, timeout=240, check=False
    )
    if done.returncode != 0:
        pytest.fail(f"platform/fetch-helm failed: {done.stderr.strip()}", pytrace=False)
    return done.stdout.strip()


def _run(helm: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([helm, *args], capture_output=True, text=True, timeout=60, check=False)


def _lint(helm: str, *values: str) -> subprocess.CompletedProcess:
    return _run(helm, "lint", "--strict", str(CHART), "--kube-version", KUBERNETES_VERSION, *values)


def _template(helm: str, *values: str) -> Docs:
    done = _run(
        helm, "template", RELEASE, str(CHART), "--namespace", "hospital", "--kube-version", KUBERNETES_VERSION, *values
    )
    assert done.returncode == 0, done.stderr
    return [doc for doc in yaml.safe_load_all(done.stdout) if doc]


# Each rendered once per module; the rule tests read them, and break copies.
VALUES = {
    "default": [],
    "production": ["--values", str(CHART / "values-production.yaml")],
    "keda": ["--set", "keda.enabled=true", "--set", "autoscaling.enabled=true", "--set", "email.host=smtp.example.com"],
}


@pytest.fixture(scope="module")
def renders(helm) -> dict[str, Docs]:
    return {name: _template(helm, *values) for name, values in VALUES.items()}


# --- reading rendered objects -------------------------------------------------------------------


def _name(doc: dict) -> str:
    return f"{doc['kind']}/{doc['metadata']['name']}"


def _component(doc: dict) -> str:
    return doc["metadata"].get("labels", {}).get("app.kubernetes.io/component", "")


def _of_kind(docs: Docs, *kinds: str) -> list[dict]:
    return [doc for doc in docs if doc["kind"] in kinds]


def _pod_spec(doc: dict) -> dict | None:
    if doc["kind"] in {"Deployment", "StatefulSet", "DaemonSet", "Job"}:
        return doc["spec"]["template"]["spec"]
    if doc["kind"] == "CronJob":
        return doc["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    return None


def _pods(docs: Docs) -> Iterator[tuple[dict, dict]]:
    for doc in docs:
        spec = _pod_spec(doc)
        if spec is not None:
            yield doc, spec


def _containers(docs: Docs) -> Iterator[tuple[dict, dict, dict]]:
    for doc, spec in _pods(docs):
        for container in [*spec.get("initContainers", []), *spec["containers"]]:
            yield doc, spec, container


def _env(container: dict) -> dict[str, dict]:
    return {entry["name"]: entry for entry in container.get("env", [])}


def _only(docs: Docs, component: str, kind: str = "Deployment") -> dict:
    (found,) = [doc for doc in docs if doc["kind"] == kind and _component(doc) == component]
    return found


def _container(docs: Docs, component: str, kind: str = "Deployment") -> dict:
    return _pod_spec(_only(docs, component, kind))["containers"][0]


def _mounted_secret_keys(spec: dict) -> set[str]:
    keys = set()
    for volume in spec.get("volumes", []):
        if "secret" in volume:
            keys |= {item["key"] for item in volume["secret"].get("items", [])}
    return keys


# --- the rules ----------------------------------------------------------------------------------


def schema_violations(docs: Docs) -> list[str]:
    """Every object is valid for KUBERNETES_VERSION, unknown fields included (strict). KEDA's
    kinds are custom resources without a published schema here: keda_violations checks them."""
    found = []
    for doc in docs:
        if doc["kind"] in KEDA_KINDS:
            continue
        try:
            kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as exc:
            found.append(f"{_name(doc)}: {exc.message}")
    return found


def keda_violations(docs: Docs) -> list[str]:
    """KEDA's objects have the shape KEDA reads: a ScaledObject targets one of the Deployments
    with redis list triggers authenticated by a TriggerAuthentication, which reads the Secret."""
    found = []
    deployments = {doc["metadata"]["name"] for doc in _of_kind(docs, "Deployment")}
    auths = {doc["metadata"]["name"]: doc for doc in _of_kind(docs, "TriggerAuthentication")}
    for doc in _of_kind(docs, *KEDA_KINDS):
        if doc["apiVersion"] != "keda.sh/v1alpha1":
            found.append(f"{_name(doc)}: apiVersion {doc['apiVersion']}")
    for doc in _of_kind(docs, "ScaledObject"):
        spec = doc["spec"]
        unknown = set(spec) - SCALED_OBJECT_FIELDS
        if unknown:
            found.append(f"{_name(doc)}: unknown fields {sorted(unknown)}")
        target = spec.get("scaleTargetRef", {})
        if target.get("kind") != "Deployment" or target.get("name") not in deployments:
            found.append(f"{_name(doc)}: targets {target}, not one of the chart's Deployments")
        if not 0 <= spec.get("minReplicaCount", -1) <= spec.get("maxReplicaCount", -1):
            found.append(f"{_name(doc)}: replica counts {spec.get('minReplicaCount')}..{spec.get('maxReplicaCount')}")
        for trigger in spec.get("triggers") or [None]:
            if trigger is None:
                found.append(f"{_name(doc)}: no trigger")
                continue
            metadata = trigger.get("metadata", {})
            if trigger.get("type") != "redis" or not metadata.get("listName"):
                found.append(f"{_name(doc)}: not a redis list trigger")
            if not all(isinstance(value, str) for value in metadata.values()):
                found.append(f"{_name(doc)}: trigger metadata values must be strings")
            if not str(metadata.get("listLength", "")).isdigit():
                found.append(f"{_name(doc)}: listLength {metadata.get('listLength')!r}")
            if {"address", "host", "password", "username"} & set(metadata):
                found.append(f"{_name(doc)}: connection details in the trigger itself, not from the Secret")
            if trigger.get("authenticationRef", {}).get("name") not in auths:
                found.append(f"{_name(doc)}: authenticationRef names no TriggerAuthentication of the chart")
    for doc in auths.values():
        refs = doc["spec"].get("secretTargetRef", [])
        if set(doc["spec"]) != {"secretTargetRef"} or not refs:
            found.append(f"{_name(doc)}: must read only from the Secret")
        for ref in refs:
            if set(ref) != {"parameter", "name", "key"}:
                found.append(f"{_name(doc)}: secretTargetRef {ref}")
        if "address" not in {ref.get("parameter") for ref in refs}:
            found.append(f"{_name(doc)}: no address parameter")
    return found


def beat_violations(docs: Docs) -> list[str]:
    """Beat runs exactly once: one replica, replaced with Recreate, scaled by nothing, and no
    disruption budget that would keep its single pod from ever being moved."""
    beats = [doc for doc in docs if _component(doc) == "beat"]
    if [doc["kind"] for doc in beats] != ["Deployment"]:
        return [f"beat must be exactly one Deployment, found {[_name(doc) for doc in beats]}"]
    (beat,) = beats
    found = []
    if beat["spec"].get("replicas") != 1:
        found.append(f"beat has replicas {beat['spec'].get('replicas')}")
    if beat["spec"].get("strategy") != {"type": "Recreate"}:
        found.append(f"beat's strategy is {beat['spec'].get('strategy')}, not Recreate")
    for doc in _of_kind(docs, "HorizontalPodAutoscaler", "ScaledObject"):
        if doc["spec"]["scaleTargetRef"]["name"] == beat["metadata"]["name"]:
            found.append(f"{_name(doc)} scales beat")
    beat_labels = beat["spec"]["template"]["metadata"]["labels"]
    for doc in _of_kind(docs, "PodDisruptionBudget"):
        selector = doc["spec"]["selector"]["matchLabels"]
        if all(beat_labels.get(key) == value for key, value in selector.items()):
            found.append(f"{_name(doc)} covers beat's pod")
    return found


def migrate_violations(docs: Docs) -> list[str]:
    """The migration is a Helm hook Job that runs after install and before upgrades, has a
    deadline, stays for its logs when it fails, and migrates as the database owner."""
    jobs = [doc for doc in _of_kind(docs, "Job") if _component(doc) == "migrate"]
    if len(jobs) != 1:
        return [f"expected one migrate Job, found {len(jobs)}"]
    (job,) = jobs
    found = []
    annotations = job["metadata"].get("annotations", {})
    if set(annotations.get("helm.sh/hook", "").split(",")) != {"post-install", "pre-upgrade"}:
        found.append(f"hook is {annotations.get('helm.sh/hook')!r}, not post-install,pre-upgrade")
    if annotations.get("helm.sh/hook-delete-policy") != "before-hook-creation":
        found.append("a failed migrate Job must stay until the next one (before-hook-creation)")
    deadline = job["spec"].get("activeDeadlineSeconds")
    if not isinstance(deadline, int) or deadline < 600:
        found.append(f"activeDeadlineSeconds is {deadline!r}")
    if not 0 <= job["spec"].get("backoffLimit", 6) <= 2:
        found.append(f"backoffLimit {job['spec'].get('backoffLimit')} retries a failing migration too often")
    spec = _pod_spec(job)
    (container,) = spec["containers"]
    if container.get("args") != MIGRATE_ARGS:
        found.append(f"runs {container.get('args')}, not {MIGRATE_ARGS}")
    url_file = _env(container).get("DATABASE_URL_FILE", {}).get("value")
    if url_file != SECRET_FILES + OWNER_URL or OWNER_URL not in _mounted_secret_keys(spec):
        found.append(f"migrates with {url_file}, not the owner's URL")
    return found


def resources_violations(docs: Docs) -> list[str]:
    """Every container, the Job's too, requests and limits CPU and memory."""
    found = []
    for doc, _, container in _containers(docs):
        resources = container.get("resources", {})
        for part in ("requests", "limits"):
            missing = {"cpu", "memory"} - set(resources.get(part, {}))
            if missing:
                found.append(f"{_name(doc)} {container['name']}: no {part} for {sorted(missing)}")
    return found


def security_violations(docs: Docs) -> list[str]:
    """Every pod runs as a user without privileges, on a read-only root file system, with no
    capabilities and no service account token."""
    found = []
    for doc, spec in _pods(docs):
        pod = spec.get("securityContext", {})
        if spec.get("automountServiceAccountToken") is not False:
            found.append(f"{_name(doc)}: mounts a service account token")
        if pod.get("runAsNonRoot") is not True:
            found.append(f"{_name(doc)}: the pod may run as root")
        if pod.get("seccompProfile", {}).get("type") != "RuntimeDefault":
            found.append(f"{_name(doc)}: seccomp profile is not RuntimeDefault")
        if not pod.get("runAsUser") or not pod.get("runAsGroup"):
            found.append(f"{_name(doc)}: no numeric user and group")
        for container in [*spec.get("initContainers", []), *spec["containers"]]:
            context = container.get("securityContext", {})
            where = f"{_name(doc)} {container['name']}"
            if context.get("runAsNonRoot", pod.get("runAsNonRoot")) is not True:
                found.append(f"{where}: may run as root")
            if context.get("runAsUser", pod.get("runAsUser")) == 0:
                found.append(f"{where}: runs as uid 0")
            if context.get("readOnlyRootFilesystem") is not True:
                found.append(f"{where}: writable root file system")
            if context.get("allowPrivilegeEscalation") is not False:
                found.append(f"{where}: allows privilege escalation")
            if context.get("privileged"):
                found.append(f"{where}: privileged")
            if "ALL" not in context.get("capabilities", {}).get("drop", []) or context["capabilities"].get("add"):
                found.append(f"{where}: keeps capabilities")
    return found


def probe_violations(docs: Docs) -> list[str]:
    """Every long-running container is checked for liveness and readiness; the web processes
    are asked over HTTP (/healthz alive, /readyz database answers) and given time to start."""
    found = []
    for doc in _of_kind(docs, "Deployment"):
        for container in _pod_spec(doc)["containers"]:
            where = f"{_name(doc)} {container['name']}"
            for probe in ("livenessProbe", "readinessProbe"):
                if not container.get(probe):
                    found.append(f"{where}: no {probe}")
            if container.get("ports"):
                paths = {
                    probe: container.get(probe, {}).get("httpGet", {}).get("path")
                    for probe in ("livenessProbe", "readinessProbe", "startupProbe")
                }
                if paths != {"livenessProbe": "/healthz", "readinessProbe": "/readyz", "startupProbe": "/healthz"}:
                    found.append(f"{where}: HTTP probes are {paths}")
    return found


def secret_exposure_violations(docs: Docs) -> list[str]:
    """Secrets reach pods only as files: no stringData, no literal value of a secret setting in
    an environment, none in a ConfigMap."""
    found = []
    for doc in _of_kind(docs, "Secret"):
        if "stringData" in doc:
            found.append(f"{_name(doc)}: stringData puts secrets in plain text")
    for doc, _, container in _containers(docs):
        for name, entry in _env(container).items():
            if name in SECRET_SETTINGS and "value" in entry:
                found.append(f"{_name(doc)} {container['name']}: {name} has a literal value")
            if URL_WITH_PASSWORD.search(str(entry.get("value", ""))):
                found.append(f"{_name(doc)} {container['name']}: {name} holds a URL with a password")
            file_of_a_secret = name.endswith("_FILE") and name.removesuffix("_FILE") in SECRET_SETTINGS
            if file_of_a_secret and not str(entry.get("value", "")).startswith(SECRET_FILES):
                found.append(f"{_name(doc)} {container['name']}: {name} is not a mounted secret file")
    for doc in _of_kind(docs, "ConfigMap"):
        for key, value in (doc.get("data", {}) | doc.get("binaryData", {})).items():
            if key.removesuffix("_FILE") in SECRET_SETTINGS or key in {OWNER_URL, APP_URL, "secret-key"}:
                found.append(f"{_name(doc)}: carries {key}")
            if URL_WITH_PASSWORD.search(str(value)):
                found.append(f"{_name(doc)}: {key} holds a URL with a password")
    return found


def database_role_violations(docs: Docs) -> list[str]:
    """Only the migration and the operators' host connect as the owner (and are told the
    application role's name); every branch's pod gets the application role's URL, and not even
    the owner's file is mounted there."""
    found = []
    for doc, spec, container in _containers(docs):
        owner = _component(doc) in OWNER_COMPONENTS
        env = _env(container)
        want, other = (OWNER_URL, APP_URL) if owner else (APP_URL, OWNER_URL)
        where = f"{_name(doc)} {container['name']}"
        if env.get("DATABASE_URL_FILE", {}).get("value") != SECRET_FILES + want:
            found.append(f"{where}: DATABASE_URL_FILE is not the {want} file")
        mounted = _mounted_secret_keys(spec)
        if want not in mounted or other in mounted:
            found.append(f"{where}: mounts {sorted(mounted & {OWNER_URL, APP_URL})}, not only {want}")
        if owner != ("DATABASE_APP_ROLE" in env):
            found.append(f"{where}: DATABASE_APP_ROLE {'missing' if owner else 'given to a branch pod'}")
    return found


def process_violations(docs: Docs) -> list[str]:
    """The chart runs exactly the processes of config.processes, each once, and the migration."""
    named = []
    for _, _, container in _containers(docs):
        args = container.get("args", [])
        named.append(args[1] if args[:1] == ["run_process"] else args[0])
    expected = [*process_commands(), "migrate"]
    # platform is a second web, for the operators' host
    if sorted(named) != sorted([*expected, "web"]):
        return [f"the chart runs {sorted(named)}, config.processes has {sorted(expected)} (and web twice)"]
    return []


def autoscaler_violations(docs: Docs) -> list[str]:
    """No Deployment has two autoscalers (an HPA and KEDA's would fight), and an autoscaled
    Deployment leaves its replica count to the autoscaler."""
    found = []
    targets = [
        doc["spec"]["scaleTargetRef"]["name"] for doc in _of_kind(docs, "HorizontalPodAutoscaler", "ScaledObject")
    ]
    for name in sorted({name for name in targets if targets.count(name) > 1}):
        found.append(f"Deployment/{name} has {targets.count(name)} autoscalers")
    for doc in _of_kind(docs, "Deployment"):
        if doc["metadata"]["name"] in targets and "replicas" in doc["spec"]:
            found.append(f"{_name(doc)}: sets replicas although autoscaled")
    return found


RULES = [
    schema_violations,
    keda_violations,
    beat_violations,
    migrate_violations,
    resources_violations,
    security_violations,
    probe_violations,
    secret_exposure_violations,
    database_role_violations,
    process_violations,
    autoscaler_violations,
]


# --- the chart lints, renders and keeps the rules -----------------------------------------------


def test_fetch_helm_gives_a_working_helm_3_every_time(helm):
    assert os.access(helm, os.X_OK)
    assert _run(helm, "version", "--short").stdout.startswith("v3.")
    again = subprocess.run([str(ROOT / "platform" / "fetch-helm")], capture_output=True, text=True, check=True)
    assert again.stdout.strip() == helm
    assert again.stderr == "", "quiet when helm is already there"


def test_the_validated_kubernetes_version_is_the_oldest_the_chart_accepts():
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    assert chart["kubeVersion"] == f">={KUBERNETES_VERSION}-0"
    assert (chart["apiVersion"], chart["name"], chart["version"]) == ("v2", "hospital", "0.1.0")


@pytest.mark.parametrize("render", list(VALUES))
def test_the_chart_lints_strictly(helm, render):
    done = _lint(helm, *VALUES[render])
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize(
    ("values", "complaint"),
    [
        (["--set", "beat.replicas=2"], "beat: Additional property replicas is not allowed"),
        (["--set-string", "web.replicas=two"], "web.replicas: Invalid type"),
        (["--set", "replicaCount=3"], "Additional property replicaCount is not allowed"),
        (["--set", "web.resources.limits=null"], "limits is required"),
        (["--set", "extraEnv[0].name=SECRET_KEY,extraEnv[0].value=x"], "extraEnv.0.name"),
    ],
    ids=["beat-replicas", "web-replicas-not-a-number", "unknown-key", "no-limits", "secret-in-extra-env"],
)
def test_a_wrong_value_fails_lint(helm, values, complaint):
    done = _lint(helm, *values)
    assert done.returncode != 0
    assert complaint in done.stdout + done.stderr


@pytest.mark.parametrize("render", list(VALUES))
@pytest.mark.parametrize("rule", RULES, ids=lambda rule: rule.__name__)
def test_the_rendered_chart_keeps_the_rule(renders, render, rule):
    assert rule(renders[render]) == []


def test_each_render_has_what_its_values_ask_for(renders):
    default, production, keda = renders["default"], renders["production"], renders["keda"]
    assert len(_of_kind(default, "Deployment")) == len(process_commands()) + 1
    assert not _of_kind(default, "HorizontalPodAutoscaler", "ScaledObject")
    # production: the operator's Secret, CPU autoscalers for web and both workers
    assert not _of_kind(production, "Secret")
    hpas = {doc["spec"]["scaleTargetRef"]["name"] for doc in _of_kind(production, "HorizontalPodAutoscaler")}
    assert hpas == {f"{RELEASE}-{c}" for c in ("web", "worker", "pdf-worker")}
    # KEDA takes the workers over from the CPU autoscalers, on their own queues
    assert {doc["spec"]["scaleTargetRef"]["name"] for doc in _of_kind(keda, "HorizontalPodAutoscaler")} == {
        f"{RELEASE}-web"
    }
    lists = {
        doc["spec"]["scaleTargetRef"]["name"]: doc["spec"]["triggers"][0]["metadata"]["listName"]
        for doc in _of_kind(keda, "ScaledObject")
    }
    assert lists == {f"{RELEASE}-worker": "default", f"{RELEASE}-pdf-worker": "pdf"}
    assert settings.CELERY_TASK_DEFAULT_QUEUE == "default"
    assert "pdf" in {route["queue"] for route in settings.CELERY_TASK_ROUTES.values()}


def test_the_chart_made_secret_is_kept_and_generates_the_signing_key(renders):
    (secret,) = _of_kind(renders["default"], "Secret")
    assert secret["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
    assert {"secret-key", APP_URL, OWNER_URL, "redis-url"} <= set(secret["data"])
    assert len(secret["data"]["secret-key"]) >= 64
    for _, spec in _pods(renders["default"]):
        assert {v["secret"]["secretName"] for v in spec["volumes"] if "secret" in v} == {secret["metadata"]["name"]}
    for _, spec in _pods(renders["production"]):
        assert {v["secret"]["secretName"] for v in spec["volumes"] if "secret" in v} == {"hospital-gb-secrets"}


def test_the_ingress_sends_the_operators_host_to_the_platform_and_branches_to_web(renders):
    (ingress,) = _of_kind(renders["production"], "Ingress")
    backends = {
        rule["host"]: rule["http"]["paths"][0]["backend"]["service"]["name"] for rule in ingress["spec"]["rules"]
    }
    assert backends == {
        "operators.clinics.example.org": f"{RELEASE}-platform",
        "*.clinics.example.org": f"{RELEASE}-web",
    }
    (tls,) = ingress["spec"]["tls"]
    assert set(tls["hosts"]) == set(backends)
    assert tls["secretName"]
    assert ingress["spec"]["ingressClassName"] == "nginx"
    assert "cert-manager.io/cluster-issuer" in ingress["metadata"]["annotations"]
    services = {doc["metadata"]["name"]: doc for doc in _of_kind(renders["production"], "Service")}
    for name in backends.values():
        (port,) = services[name]["spec"]["ports"]
        assert (port["port"], port["targetPort"]) == (80, "http")


def test_workers_are_pinged_by_their_own_node_names_and_given_time_to_finish(renders):
    """Started: a ping to the worker's node name. Alive: its heartbeat file, which its timer
    touches, excused while the broker is away (a restart would not help then)."""
    for process, node in WORKER_NODE_NAMES.items():
        command = process_commands()[process]
        assert command[command.index("--hostname") + 1] == f"{node}@%h"
        container = _container(renders["default"], process)
        ping = container["startupProbe"]["exec"]["command"]
        assert ping[:2] == ["sh", "-c"]
        assert f"--destination {node}@$HOSTNAME" in ping[2]
        assert container["startupProbe"]["timeoutSeconds"] >= 15
        alive = container["livenessProbe"]["exec"]["command"]
        assert alive == ["python", "-m", "config.heartbeat", f"worker-{node}", "60", "--unless-broker-down"]
        assert container["readinessProbe"]["exec"]["command"] == alive
        assert _pod_spec(_only(renders["default"], process))["terminationGracePeriodSeconds"] >= 300


def _on_a_writable_volume(container: dict, path: str) -> bool:
    return any(
        (path + "/").startswith(mount["mountPath"].rstrip("/") + "/") and not mount.get("readOnly")
        for mount in container["volumeMounts"]
    )


def test_beat_and_the_relay_are_checked_by_their_heartbeat_files(renders):
    for process, seconds in (("beat", "180"), ("relay", "120")):
        container = _container(renders["default"], process)
        assert container["livenessProbe"]["exec"]["command"] == ["python", "-m", "config.heartbeat", process, seconds]
    beat = _container(renders["default"], "beat")
    assert _on_a_writable_volume(beat, _env(beat)["CELERY_BEAT_SCHEDULE_FILENAME"]["value"])


def test_every_place_a_process_writes_is_on_a_volume_under_the_read_only_root(renders):
    for doc, _, container in _containers(renders["production"]):
        env = _env(container)
        for name in ("HOME", "XDG_CACHE_HOME", "HEARTBEAT_DIR", "HOSPITAL_LOCAL_DIR"):
            assert _on_a_writable_volume(container, env[name]["value"]), f"{_name(doc)} {name}"


def test_with_a_volume_for_files_the_processes_that_store_them_mount_it(helm):
    docs = _template(helm, "--set", "media.existingClaim=hospital-media")
    mounting = set()
    for doc, spec, container in _containers(docs):
        claims = {v["name"] for v in spec["volumes"] if v.get("persistentVolumeClaim", {}).get("claimName")}
        if claims:
            mounting.add(_component(doc))
            (mount,) = [m for m in container["volumeMounts"] if m["name"] in claims]
            assert _env(container)["MEDIA_ROOT"]["value"] == mount["mountPath"]
    assert mounting == {"web", "platform", "worker", "pdf-worker"}


# --- each rule reports what it is there to catch ------------------------------------------------


def _set_env(container: dict, name: str, value: str) -> None:
    container["env"] = [entry for entry in container["env"] if entry["name"] != name] + [{"name": name, "value": value}]


def _unknown_field(docs):
    _only(docs, "web")["spec"]["replicaz"] = 2


def _trigger_with_password(docs):
    _only(docs, "worker", "ScaledObject")["spec"]["triggers"][0]["metadata"]["password"] = "hunter2"


def _beat_twice(docs):
    _only(docs, "beat")["spec"]["replicas"] = 2


def _beat_rolling(docs):
    _only(docs, "beat")["spec"]["strategy"] = {"type": "RollingUpdate"}


def _beat_autoscaled(docs):
    hpa = copy.deepcopy(_only(docs, "worker", "HorizontalPodAutoscaler"))
    hpa["spec"]["scaleTargetRef"]["name"] = _only(docs, "beat")["metadata"]["name"]
    docs.append(hpa)


def _no_hook(docs):
    del _only(docs, "migrate", "Job")["metadata"]["annotations"]["helm.sh/hook"]


def _pre_install_hook(docs):
    _only(docs, "migrate", "Job")["metadata"]["annotations"]["helm.sh/hook"] = "pre-install,pre-upgrade"


def _no_deadline(docs):
    del _only(docs, "migrate", "Job")["spec"]["activeDeadlineSeconds"]


def _migrate_as_app(docs):
    _set_env(_container(docs, "migrate", "Job"), "DATABASE_URL_FILE", SECRET_FILES + APP_URL)


def _job_without_limits(docs):
    del _container(docs, "migrate", "Job")["resources"]["limits"]


def _pod_may_be_root(docs):
    _pod_spec(_only(docs, "relay"))["securityContext"]["runAsNonRoot"] = False


def _writable_root(docs):
    _container(docs, "pdf-worker")["securityContext"]["readOnlyRootFilesystem"] = False


def _escalation(docs):
    _container(docs, "migrate", "Job")["securityContext"]["allowPrivilegeEscalation"] = True


def _keeps_capabilities(docs):
    _container(docs, "web")["securityContext"]["capabilities"] = {"drop": []}


def _no_readiness(docs):
    del _container(docs, "relay")["readinessProbe"]


def _no_liveness(docs):
    del _container(docs, "worker")["livenessProbe"]


def _readiness_on_healthz(docs):
    _container(docs, "web")["readinessProbe"]["httpGet"]["path"] = "/healthz"


def _string_data(docs):
    _only(docs, "secrets", "Secret")["stringData"] = {"redis-url": "redis://:pw@redis:6379/0"}


def _literal_secret_env(docs):
    _set_env(_container(docs, "worker"), "SECRET_KEY", "not-so-secret")


def _password_in_extra_env(docs):
    _set_env(_container(docs, "relay"), "CELERY_RESULT_BACKEND", "redis://:hunter2@redis:6379/3")


def _secret_in_config_map(docs):
    docs.append(
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings"}, "data": {"DATABASE_URL": "x"}}
    )


def _web_as_owner(docs):
    _set_env(_container(docs, "web"), "DATABASE_URL_FILE", SECRET_FILES + OWNER_URL)


def _owner_file_in_worker(docs):
    volumes = _pod_spec(_only(docs, "worker"))["volumes"]
    next(v for v in volumes if "secret" in v)["secret"]["items"].append({"key": OWNER_URL, "path": OWNER_URL})


def _platform_as_app(docs):
    _set_env(_container(docs, "platform"), "DATABASE_URL_FILE", SECRET_FILES + APP_URL)


def _misnamed_process(docs):
    _container(docs, "beat")["args"] = ["run_process", "beats"]


def _no_relay(docs):
    docs.remove(_only(docs, "relay"))


def _two_autoscalers(docs):
    scaled = copy.deepcopy(_only(docs, "worker", "HorizontalPodAutoscaler"))
    scaled["kind"] = "ScaledObject"
    docs.append(scaled)


def _replicas_beside_autoscaler(docs):
    _only(docs, "web")["spec"]["replicas"] = 3


BREAKAGES: list[tuple[str, Callable[[Docs], None], Callable[[Docs], list[str]], str]] = [
    ("default", _unknown_field, schema_violations, "replicaz"),
    ("keda", _trigger_with_password, keda_violations, "connection details"),
    ("default", _beat_twice, beat_violations, "replicas 2"),
    ("default", _beat_rolling, beat_violations, "not Recreate"),
    ("production", _beat_autoscaled, beat_violations, "scales beat"),
    ("default", _no_hook, migrate_violations, "hook is None"),
    ("default", _pre_install_hook, migrate_violations, "pre-install"),
    ("default", _no_deadline, migrate_violations, "activeDeadlineSeconds"),
    ("default", _migrate_as_app, migrate_violations, "not the owner's URL"),
    ("default", _job_without_limits, resources_violations, "Job/hospital-migrate migrate: no limits"),
    ("default", _pod_may_be_root, security_violations, "Deployment/hospital-relay: the pod may run as root"),
    ("default", _writable_root, security_violations, "writable root file system"),
    ("default", _escalation, security_violations, "allows privilege escalation"),
    ("default", _keeps_capabilities, security_violations, "keeps capabilities"),
    ("default", _no_readiness, probe_violations, "no readinessProbe"),
    ("default", _no_liveness, probe_violations, "no livenessProbe"),
    ("default", _readiness_on_healthz, probe_violations, "HTTP probes"),
    ("default", _string_data, secret_exposure_violations, "stringData"),
    ("default", _literal_secret_env, secret_exposure_violations, "SECRET_KEY has a literal value"),
    (
        "default",
        _password_in_extra_env,
        secret_exposure_violations,
        "CELERY_RESULT_BACKEND holds a URL with a password",
    ),
    ("default", _secret_in_config_map, secret_exposure_violations, "carries DATABASE_URL"),
    ("default", _web_as_owner, database_role_violations, "hospital-web web: DATABASE_URL_FILE"),
    ("default", _owner_file_in_worker, database_role_violations, "hospital-worker worker: mounts"),
    ("default", _platform_as_app, database_role_violations, "hospital-platform platform: DATABASE_URL_FILE"),
    ("default", _misnamed_process, process_violations, "beats"),
    ("default", _no_relay, process_violations, "config.processes has"),
    ("production", _two_autoscalers, autoscaler_violations, "has 2 autoscalers"),
    ("production", _replicas_beside_autoscaler, autoscaler_violations, "sets replicas although autoscaled"),
]


def test_every_rule_is_shown_to_fail():
    assert {rule for _, _, rule, _ in BREAKAGES} == set(RULES)


@pytest.mark.parametrize(
    ("render", "breakage", "rule", "complaint"),
    BREAKAGES,
    ids=[breakage.__name__[1:] for _, breakage, _, _ in BREAKAGES],
)
def test_a_rule_reports_a_broken_render(renders, render, breakage, rule, complaint):
    # given a copy of a render that keeps the rule, broken in one place
    docs = copy.deepcopy(renders[render])
    assert rule(docs) == []
    breakage(docs)
    # when the rule reads it, then it names what is wrong
    violations = rule(docs)
    assert any(complaint in violation for violation in violations), violations
