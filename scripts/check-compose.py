#!/usr/bin/env python3
"""Checks compose.yml and the files it uses; part of `just test`.

    python3 scripts/check-compose.py            # check, then the self-test
    python3 scripts/check-compose.py --quick    # check only
    python3 scripts/check-compose.py --compose PATH [--quick]

Checks (each problem is one line; the exit status is 1 when there is any):
- every YAML file parses, with no key repeated in a mapping (Compose refuses those);
- every service has an image or a build; a build's Dockerfile target and
  build args exist in the Dockerfile;
- every bind-mounted host path, `configs`/`secrets` file and `env_file`
  exists; every container path a command names under a bind mount exists;
- every named volume used is declared under `volumes:`;
- every `${VAR}` is defined in .env.example;
- every `depends_on` target is a service;
- every relais service runs a real `relais` subcommand (a long-running one:
  edge, worker, audit, trainer, monitor or dev);
- every `RELAIS_<SECTION>__<KEY>` variable names a key of
  crates/relais-config/defaults.toml (sections not there yet are listed as notes);
- every relais service's NATS user exists in nats/relais.conf, with its own
  password variable and inbox prefix;
- every long-running service has a health check;
- Prometheus: the config and its rule files parse, every alert has a severity,
  a summary and a description, and every relais service's metrics port is
  scraped; with promtool on PATH, `promtool check rules` and the rule unit
  tests (infra/prometheus/alerts.test.yml) run too;
- Grafana: provisioning files parse, every dashboard JSON parses, has a unique
  uid, and uses only provisioned data sources.

The self-test copies what the check reads into a temporary directory, breaks
it in one way at a time and makes sure the check catches each breakage.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

try:
    import yaml
except ImportError:  # pragma: no cover - depends on the machine
    sys.exit("error: PyYAML is missing: `apt-get install python3-yaml` or `pip install pyyaml`")

REPO = Path(__file__).resolve().parent.parent
# `relais` subcommands (crates/relais/src/main.rs; `model` is being added).
SERVICE_COMMANDS = {"edge", "worker", "audit", "trainer", "monitor", "dev"}
OPERATOR_COMMANDS = {"config", "dataset", "replay", "model", "train", "eval", "translate", "export"}
# Configuration sections that services are about to gain (not in defaults.toml yet).
PLANNED_SECTIONS = {"trainer", "monitor"}
DEFAULTS_TOML = "crates/relais-config/defaults.toml"
NATS_CONF = "nats/relais.conf"
ENV_EXAMPLE = ".env.example"
VAR_RE = re.compile(r"\$(?:(\$)|\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?+])([^}]*))?\}|([A-Za-z_][A-Za-z0-9_]*))")


class StrictLoader(yaml.SafeLoader):
    """Refuses a key repeated in one mapping, as Docker Compose does (PyYAML keeps the last)."""

    def construct_mapping(self, node, deep=False):
        if isinstance(node, yaml.MappingNode):
            seen = {}
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    continue
                key = self.construct_object(key_node, deep=True)
                if key in seen:
                    raise yaml.constructor.ConstructorError(
                        "while constructing a mapping", node.start_mark,
                        f"found duplicate key {key!r} (first at line {seen[key] + 1})", key_node.start_mark)
                seen[key] = key_node.start_mark.line
        return super().construct_mapping(node, deep=deep)


class Checker:
    def __init__(self, compose_path: Path, use_promtool: bool = True):
        self.compose_path = compose_path
        self.use_promtool = use_promtool
        self.root = compose_path.parent
        self.problems: list[str] = []
        self.notes: list[str] = []

    def problem(self, msg: str) -> None:
        self.problems.append(msg)

    # ------------------------------------------------------------------ helpers
    def rel(self, path: Path) -> str:
        try:
            return str(path.relative_to(self.root))
        except ValueError:
            return str(path)

    def load_yaml(self, path: Path, what: str):
        try:
            with path.open(encoding="utf-8") as f:
                return yaml.load(f, Loader=StrictLoader)
        except FileNotFoundError:
            self.problem(f"{what}: {self.rel(path)} does not exist")
        except yaml.YAMLError as e:
            self.problem(f"{what}: {self.rel(path)} is not valid YAML: {e}")
        return None

    def host_path(self, raw: str) -> Path:
        p = Path(raw).expanduser()
        return p if p.is_absolute() else (self.root / p)

    def mounts(self, svc: dict) -> list[tuple[str, str, str]]:
        """(type, source, target) of each volume entry of a service."""
        out = []
        for v in svc.get("volumes") or []:
            if isinstance(v, str):
                parts = v.split(":")
                if len(parts) == 1:
                    out.append(("volume", "", parts[0]))
                    continue
                src, dst = parts[0], parts[1]
                kind = "bind" if src.startswith((".", "/", "~")) else "volume"
                out.append((kind, src, dst))
            elif isinstance(v, dict):
                out.append((v.get("type", "volume"), str(v.get("source", "")), str(v.get("target", ""))))
        return out

    def container_to_host(self, svc: dict, container_path: str) -> Path | None:
        """The host path behind a container path, through the service's bind mounts."""
        best = None
        for kind, src, dst in self.mounts(svc):
            if kind != "bind":
                continue
            dst = dst.rstrip("/")
            if container_path == dst or container_path.startswith(dst + "/"):
                if best is None or len(dst) > len(best[1]):
                    best = (src, dst)
        if best is None:
            return None
        rest = container_path[len(best[1]):].lstrip("/")
        base = self.host_path(best[0])
        return base / rest if rest else base

    @staticmethod
    def command_words(svc: dict) -> list[str]:
        cmd = svc.get("command")
        if cmd is None:
            return []
        if isinstance(cmd, str):
            return cmd.split()
        return [str(c) for c in cmd]

    @staticmethod
    def env_map(svc: dict) -> dict[str, str]:
        env = svc.get("environment") or {}
        if isinstance(env, list):
            out = {}
            for item in env:
                key, _, value = str(item).partition("=")
                out[key] = value
            return out
        return {str(k): "" if v is None else str(v) for k, v in env.items()}

    def is_relais(self, svc: dict) -> bool:
        image = str(svc.get("image", ""))
        build = svc.get("build")
        context = build if isinstance(build, str) else (build or {}).get("context", "")
        return image.split(":")[0] in {"relais", "relais-cuda"} or (
            build is not None and self.host_path(str(context or ".")).resolve() == self.root.resolve()
        )

    @staticmethod
    def long_running(svc: dict) -> bool:
        return str(svc.get("restart", "no")) != "no"

    # ------------------------------------------------------------------- checks
    def run(self) -> None:
        compose = self.load_yaml(self.compose_path, "compose")
        if not isinstance(compose, dict):
            if not self.problems:
                self.problem("compose: the file is not a YAML mapping")
            return
        services = compose.get("services") or {}
        if not services:
            self.problem("compose: no services")
            return
        declared_volumes = set((compose.get("volumes") or {}).keys())
        env_example = self.read_env_example()
        defaults = self.read_defaults()
        nats_users = self.read_nats_users()
        stages, args = self.read_dockerfile()

        self.check_variables(compose, env_example)
        for name, svc in services.items():
            where = f"service {name!r}"
            if not isinstance(svc, dict):
                self.problem(f"{where}: not a mapping")
                continue
            self.check_image(where, svc, stages, args)
            self.check_files(where, svc, compose)
            self.check_volumes(where, svc, declared_volumes)
            self.check_depends_on(where, svc, services)
            health = svc.get("healthcheck") or {}
            if self.long_running(svc) and (not health.get("test") or health.get("disable")):
                self.problem(f"{where}: long-running service without a healthcheck")
            if self.is_relais(svc):
                self.check_relais(where, svc, defaults, nats_users)
        self.check_prometheus(services)
        self.check_grafana(services)

    def read_env_example(self) -> set[str]:
        path = self.root / ENV_EXAMPLE
        if not path.is_file():
            self.problem(f"{ENV_EXAMPLE} does not exist")
            return set()
        names = set()
        for line in path.read_text(encoding="utf-8").splitlines():
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            line = line.removeprefix("export ").strip()
            key, sep, _ = line.partition("=")
            if sep and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
                names.add(key)
            else:
                self.problem(f"{ENV_EXAMPLE}: not a KEY=VALUE line: {line!r}")
        return names

    def read_defaults(self) -> set[str] | None:
        """Dotted keys of defaults.toml, commented-out ones included."""
        path = self.root / DEFAULTS_TOML
        if not path.is_file():
            self.problem(f"{DEFAULTS_TOML} does not exist")
            return None
        text = path.read_text(encoding="utf-8")
        keys: set[str] = set()

        def walk(prefix: str, table: dict) -> None:
            for k, v in table.items():
                keys.add(prefix + k)
                if isinstance(v, dict):
                    walk(prefix + k + ".", v)

        try:
            walk("", tomllib.loads(text))
        except tomllib.TOMLDecodeError as e:
            self.problem(f"{DEFAULTS_TOML}: invalid TOML: {e}")
            return None
        section = ""
        for line in text.splitlines():
            if m := re.match(r"^\[([a-z0-9_.]+)\]\s*$", line):
                section = m.group(1)
            elif m := re.match(r"^#\s*([a-z0-9_]+)\s*=", line):
                if section:
                    keys.add(f"{section}.{m.group(1)}")
        return keys

    def read_nats_users(self) -> set[str] | None:
        path = self.root / NATS_CONF
        if not path.is_file():
            return None
        return set(re.findall(r"\{\s*user:\s*([A-Za-z0-9_-]+)", path.read_text(encoding="utf-8")))

    def read_dockerfile(self) -> tuple[set[str], set[str]]:
        path = self.root / "Dockerfile"
        if not path.is_file():
            return set(), set()
        text = path.read_text(encoding="utf-8")
        stages = set(re.findall(r"(?im)^FROM\s+\S+\s+AS\s+(\S+)", text))
        args = set(re.findall(r"(?im)^ARG\s+([A-Za-z_][A-Za-z0-9_]*)", text))
        return stages, args

    def check_variables(self, compose: dict, defined: set[str]) -> None:
        used: dict[str, str] = {}

        def walk(node, where: str) -> None:
            if isinstance(node, dict):
                for k, v in node.items():
                    walk(k, where)
                    walk(v, f"{where}.{k}" if where else str(k))
            elif isinstance(node, list):
                for item in node:
                    walk(item, where)
            elif isinstance(node, str):
                for m in VAR_RE.finditer(node):
                    if m.group(1):  # `$$`: a literal dollar
                        continue
                    name = m.group(2) or m.group(5)
                    used.setdefault(name, where)
                    if m.group(4):
                        walk(m.group(4), where)

        walk(compose, "")
        for name, where in sorted(used.items()):
            if name not in defined:
                self.problem(f"variable ${{{name}}} (used in {where}) is not defined in {ENV_EXAMPLE}")

    def check_image(self, where: str, svc: dict, stages: set[str], args: set[str]) -> None:
        build = svc.get("build")
        if not svc.get("image") and not build:
            self.problem(f"{where}: neither image nor build")
        if build is None:
            return
        spec = {"context": build} if isinstance(build, str) else build
        context = self.host_path(str(spec.get("context", ".")))
        dockerfile = context / spec.get("dockerfile", "Dockerfile")
        if not dockerfile.is_file():
            self.problem(f"{where}: build Dockerfile {self.rel(dockerfile)} does not exist")
            return
        if dockerfile.resolve() != (self.root / "Dockerfile").resolve():
            return
        target = spec.get("target")
        if target and target not in stages:
            self.problem(f"{where}: build target {target!r} is not a stage of the Dockerfile ({', '.join(sorted(stages))})")
        for arg in spec.get("args") or {}:
            if arg not in args:
                self.problem(f"{where}: build arg {arg!r} is not an ARG of the Dockerfile")

    def check_files(self, where: str, svc: dict, compose: dict) -> None:
        for kind, src, dst in self.mounts(svc):
            if kind == "bind" and not self.host_path(src).exists():
                self.problem(f"{where}: bind mount source {src} (→ {dst}) does not exist")
        env_files = svc.get("env_file") or []
        for item in [env_files] if isinstance(env_files, (str, dict)) else env_files:
            path, required = (item, True) if isinstance(item, str) else (item.get("path", ""), item.get("required", True))
            if required and not self.host_path(str(path)).is_file():
                self.problem(f"{where}: env_file {path} does not exist")
        for top in ("configs", "secrets"):
            for ref in svc.get(top) or []:
                name = ref if isinstance(ref, str) else ref.get("source")
                spec = (compose.get(top) or {}).get(name)
                if spec is None:
                    self.problem(f"{where}: {top[:-1]} {name!r} is not declared under top-level {top}:")
                elif isinstance(spec, dict) and "file" in spec and not self.host_path(spec["file"]).exists():
                    self.problem(f"{where}: {top[:-1]} {name!r} file {spec['file']} does not exist")
        # Container paths the command names (config files) must exist behind their mount.
        for word in self.command_words(svc):
            for candidate in re.findall(r"(?:^|=)(/[^\s=]+)", word):
                host = self.container_to_host(svc, candidate)
                if host is not None and not host.exists():
                    self.problem(f"{where}: command names {candidate}, but {self.rel(host)} does not exist")

    def check_volumes(self, where: str, svc: dict, declared: set[str]) -> None:
        for kind, src, _ in self.mounts(svc):
            if kind == "volume" and src and src not in declared:
                self.problem(f"{where}: named volume {src!r} is not declared under top-level volumes:")

    def check_depends_on(self, where: str, svc: dict, services: dict) -> None:
        deps = svc.get("depends_on") or []
        for dep in deps if isinstance(deps, list) else deps.keys():
            if dep not in services:
                self.problem(f"{where}: depends_on {dep!r}, which is not a service")

    def check_relais(self, where: str, svc: dict, defaults: set[str] | None, nats_users: set[str] | None) -> None:
        entrypoint = svc.get("entrypoint")
        if entrypoint not in (None, "relais", ["relais"]):
            self.problem(f"{where}: relais service overrides the entrypoint ({entrypoint!r})")
        words = self.command_words(svc)
        allowed = SERVICE_COMMANDS if self.long_running(svc) else SERVICE_COMMANDS | OPERATOR_COMMANDS
        if not words:
            self.problem(f"{where}: relais service without a command (one of {', '.join(sorted(allowed))})")
        elif words[0] not in allowed:
            kind = "long-running " if self.long_running(svc) else ""
            self.problem(f"{where}: command {words[0]!r} is not a {kind}relais subcommand ({', '.join(sorted(allowed))})")

        env = self.env_map(svc)
        for var in env:
            if not var.startswith("RELAIS_") or "__" not in var:
                continue
            path = var.removeprefix("RELAIS_").lower().split("__")
            section, dotted = path[0], ".".join(path)
            if defaults is None:
                continue
            if section in defaults:
                if dotted not in defaults:
                    self.problem(f"{where}: {var} sets {dotted}, which is not a key of {DEFAULTS_TOML}")
            elif section in PLANNED_SECTIONS:
                note = f"{var}: section [{section}] is not in {DEFAULTS_TOML} yet (planned)"
                if note not in self.notes:
                    self.notes.append(note)
            else:
                self.problem(f"{where}: {var}: no section [{section}] in {DEFAULTS_TOML}")

        user = env.get("RELAIS_NATS__USER")
        if user and nats_users is not None:
            if user not in nats_users:
                self.problem(f"{where}: NATS user {user!r} is not a user of {NATS_CONF}")
            wanted = f"RELAIS_NATS_{user.upper()}_PASSWORD"
            m = VAR_RE.fullmatch(env.get("RELAIS_NATS__PASSWORD", "").strip())
            if not m or (m.group(2) or m.group(5)) != wanted:
                self.problem(f"{where}: NATS user {user!r} must get its password from ${{{wanted}}}")
            prefix = env.get("RELAIS_NATS__INBOX_PREFIX")
            if prefix is not None and prefix != f"_INBOX_{user}":
                self.problem(f"{where}: inbox prefix {prefix!r} does not match NATS user {user!r} (_INBOX_{user})")
            if self.long_running(svc) and prefix is None:
                self.problem(f"{where}: RELAIS_NATS__INBOX_PREFIX missing (the permissions allow only _INBOX_{user})")

    # --------------------------------------------------------------- prometheus
    def metrics_port(self, name: str, svc: dict) -> int | None:
        env = self.env_map(svc)
        addr = env.get("RELAIS_TELEMETRY__METRICS_ADDR") or ""
        if not addr and self.command_words(svc)[:1] == ["edge"]:
            addr = env.get("RELAIS_EDGE__LISTEN") or ""
        m = re.search(r":(\d+)$", addr)
        return int(m.group(1)) if m else None

    def check_prometheus(self, services: dict) -> None:
        prom = next((s for s in services.values() if "prom/prometheus" in str(s.get("image", ""))), None)
        if prom is None:
            self.problem("compose: no Prometheus service (image prom/prometheus)")
            return
        words = self.command_words(prom)
        config_arg = next((w.split("=", 1)[1] for w in words if w.startswith("--config.file=")),
                          "/etc/prometheus/prometheus.yml")
        config_path = self.container_to_host(prom, config_arg)
        if config_path is None:
            self.problem(f"prometheus: {config_arg} is not bind-mounted from the repository")
            return
        config = self.load_yaml(config_path, "prometheus")
        if not isinstance(config, dict):
            return
        targets: set[tuple[str, int]] = set()
        for job in config.get("scrape_configs") or []:
            for sc in job.get("static_configs") or []:
                for t in sc.get("targets") or []:
                    host, _, port = str(t).rpartition(":")
                    if port.isdigit():
                        targets.add((host, int(port)))
            for sd in job.get("dns_sd_configs") or []:
                for n in sd.get("names") or []:
                    targets.add((n, int(sd.get("port", 0))))
        for name, svc in services.items():
            if not (self.is_relais(svc) and self.long_running(svc)):
                continue
            port = self.metrics_port(name, svc)
            if port is None:
                self.problem(f"service {name!r}: no metrics address (RELAIS_TELEMETRY__METRICS_ADDR)")
                continue
            names = {name}
            for net in (svc.get("networks") or {}).values() if isinstance(svc.get("networks"), dict) else []:
                names.update((net or {}).get("aliases") or [])
            if not any((n, port) in targets for n in names):
                self.problem(f"prometheus: no job scrapes service {name!r} on port {port} ({self.rel(config_path)})")
            health = json.dumps(svc.get("healthcheck", {}).get("test", ""))
            if f":{port}/" not in health:
                self.problem(f"service {name!r}: healthcheck does not probe its metrics/HTTP port {port}")
        rule_paths = []
        for pattern in config.get("rule_files") or []:
            host = self.container_to_host(prom, pattern) if pattern.startswith("/") else config_path.parent / pattern
            if host is None:
                self.problem(f"prometheus: rule file {pattern} is not bind-mounted from the repository")
                continue
            matches = sorted(host.parent.glob(host.name)) if any(c in host.name for c in "*?[") else [host]
            if not matches or not all(p.is_file() for p in matches):
                self.problem(f"prometheus: rule file {self.rel(host)} does not exist")
            for p in matches:
                if p.is_file():
                    rule_paths.append(p)
                    self.check_rules(p)
        self.run_promtool(rule_paths)

    def check_rules(self, path: Path) -> None:
        rules = self.load_yaml(path, "prometheus rules")
        if rules is None:
            return
        groups = rules.get("groups") if isinstance(rules, dict) else None
        if not isinstance(groups, list) or not groups:
            self.problem(f"prometheus rules: {self.rel(path)} has no groups")
            return
        for group in groups:
            for rule in group.get("rules") or []:
                name = rule.get("alert") or rule.get("record")
                if not name or not rule.get("expr"):
                    self.problem(f"prometheus rules: {self.rel(path)}: a rule without alert/record or expr")
                    continue
                if "alert" in rule:
                    ann = rule.get("annotations") or {}
                    for key in ("summary", "description"):
                        if not str(ann.get(key, "")).strip():
                            self.problem(f"prometheus rules: alert {name} has no {key} annotation")
                    if (rule.get("labels") or {}).get("severity") not in {"critical", "warning", "info"}:
                        self.problem(f"prometheus rules: alert {name} has no severity label (critical, warning, info)")

    def run_promtool(self, rule_paths: list[Path]) -> None:
        if not self.use_promtool or any(p.startswith("prometheus rules") for p in self.problems):
            return
        promtool = shutil.which("promtool")
        if not promtool or not rule_paths:
            if not promtool:
                self.notes.append("promtool not found: rule syntax and unit tests not run (Debian package `prometheus`)")
            return
        for p in rule_paths:
            r = subprocess.run([promtool, "check", "rules", str(p)], capture_output=True, text=True)
            if r.returncode != 0:
                self.problem(f"promtool check rules {self.rel(p)}:\n{r.stdout}{r.stderr}")
        for test in sorted({p.parent for p in rule_paths}):
            for t in sorted(test.glob("*.test.yml")):
                self.run_rule_tests(promtool, t)

    def run_rule_tests(self, promtool: str, test_file: Path) -> None:
        """Runs a rules test file against copies of its rule files without annotations."""
        spec = self.load_yaml(test_file, "prometheus rule tests")
        if not isinstance(spec, dict):
            return
        with tempfile.TemporaryDirectory() as tmp:
            copies = []
            for i, rf in enumerate(spec.get("rule_files") or []):
                rules = yaml.safe_load((test_file.parent / rf).read_text(encoding="utf-8"))
                for g in rules.get("groups") or []:
                    for r in g.get("rules") or []:
                        r.pop("annotations", None)
                dst = Path(tmp) / f"rules{i}.yml"
                dst.write_text(yaml.safe_dump(rules), encoding="utf-8")
                copies.append(str(dst))
            spec["rule_files"] = copies
            t = Path(tmp) / "tests.yml"
            t.write_text(yaml.safe_dump(spec), encoding="utf-8")
            r = subprocess.run([promtool, "test", "rules", str(t)], capture_output=True, text=True)
            if r.returncode != 0:
                self.problem(f"promtool test rules {self.rel(test_file)} failed:\n{r.stdout}{r.stderr}")

    # ------------------------------------------------------------------ grafana
    def check_grafana(self, services: dict) -> None:
        graf = next((s for s in services.values() if "grafana/grafana" in str(s.get("image", ""))), None)
        if graf is None:
            self.problem("compose: no Grafana service (image grafana/grafana)")
            return
        prov = self.container_to_host(graf, "/etc/grafana/provisioning")
        if prov is None or not prov.is_dir():
            self.problem("grafana: /etc/grafana/provisioning is not bind-mounted from a repository folder")
            return
        datasource_uids = set()
        for f in sorted((prov / "datasources").glob("*.y*ml")):
            doc = self.load_yaml(f, "grafana datasources") or {}
            datasource_uids.update(d.get("uid") for d in doc.get("datasources") or [] if d.get("uid"))
        if not datasource_uids:
            self.problem(f"grafana: no data source with a uid in {self.rel(prov / 'datasources')}")
        dashboard_dirs = []
        for f in sorted((prov / "dashboards").glob("*.y*ml")):
            doc = self.load_yaml(f, "grafana dashboards") or {}
            for p in doc.get("providers") or []:
                path = (p.get("options") or {}).get("path", "")
                host = self.container_to_host(graf, path)
                if host is None or not host.is_dir():
                    self.problem(f"grafana: dashboard provider path {path} is not a bind-mounted repository folder")
                else:
                    dashboard_dirs.append(host)
        if not dashboard_dirs:
            self.problem("grafana: no dashboard provider")
        uids: dict[str, Path] = {}
        for d in dashboard_dirs:
            files = sorted(d.glob("*.json"))
            if not files:
                self.problem(f"grafana: no dashboard JSON in {self.rel(d)}")
            for f in files:
                try:
                    dash = json.loads(f.read_text(encoding="utf-8"))
                except json.JSONDecodeError as e:
                    self.problem(f"grafana: {self.rel(f)} is not valid JSON: {e}")
                    continue
                uid = dash.get("uid")
                if not uid:
                    self.problem(f"grafana: {self.rel(f)} has no uid")
                elif uid in uids:
                    self.problem(f"grafana: {self.rel(f)} repeats the uid {uid!r} of {self.rel(uids[uid])}")
                else:
                    uids[uid] = f
                for panel in dash.get("panels") or []:
                    for item in [panel] + list(panel.get("targets") or []):
                        ds = item.get("datasource")
                        if isinstance(ds, dict) and ds.get("type") == "prometheus" and ds.get("uid") not in datasource_uids:
                            self.problem(f"grafana: {self.rel(f)} panel {panel.get('title')!r} uses data source uid {ds.get('uid')!r}, which is not provisioned")
                    if panel.get("type") != "row" and not panel.get("targets"):
                        self.problem(f"grafana: {self.rel(f)} panel {panel.get('title')!r} has no query")
        home = self.env_map(graf).get("GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH")
        if home:
            host = self.container_to_host(graf, home)
            if host is None or not host.is_file():
                self.problem(f"grafana: home dashboard {home} is not a mounted repository file")


def check(compose_path: Path) -> Checker:
    c = Checker(compose_path)
    c.run()
    return c


# -------------------------------------------------------------------- self-test
def self_test() -> tuple[int, list[str]]:
    """Breaks a copy in one way at a time; returns how many and those the check missed."""
    base = check(REPO / "compose.yml")
    compose = yaml.safe_load((REPO / "compose.yml").read_text(encoding="utf-8"))
    copy_paths = {"compose.yml", ENV_EXAMPLE, "Dockerfile", DEFAULTS_TOML, NATS_CONF}
    for svc in compose["services"].values():
        for kind, src, _ in base.mounts(svc):
            if kind == "bind" and src.startswith("./"):
                copy_paths.add(src[2:])

    def edit(rel: str, old: str, new: str):
        def apply(root: Path) -> None:
            p = root / rel
            text = p.read_text(encoding="utf-8")
            if old not in text:
                raise AssertionError(f"{old!r} is not in {rel}; update the self-test")
            p.write_text(text.replace(old, new, 1), encoding="utf-8")
        return apply

    def remove(rel: str):
        def apply(root: Path) -> None:
            p = root / rel
            shutil.rmtree(p) if p.is_dir() else p.unlink()
        return apply

    # (what is broken, how, a fragment the report must contain)
    cases = [
        ("missing bind-mounted file", remove("nats/compose.conf"), "compose.conf"),
        ("missing bind-mounted folder", remove("infra/grafana/provisioning"), "provisioning"),
        ("undefined variable", edit(ENV_EXAMPLE, "POSTGRES_PASSWORD=", "#POSTGRES_PASSWORD="), "${POSTGRES_PASSWORD}"),
        ("undeclared volume", edit("compose.yml", "  nats-data:\n", ""), "'nats-data'"),
        ("depends_on unknown", edit("compose.yml", "      mailpit:\n        condition: service_started",
                                    "      smtp:\n        condition: service_started"), "'smtp'"),
        ("bad subcommand", edit("compose.yml", 'command: ["audit"]', 'command: ["auditor"]'), "'auditor'"),
        ("operator command as a service", edit("compose.yml", 'command: ["worker"]', 'command: ["replay"]'), "'replay'"),
        ("duplicate key", edit("compose.yml", "      RELAIS_NATS__NAME: relais-edge\n",
                               "      RELAIS_NATS__NAME: relais-edge\n      RELAIS_NATS__NAME: relais-edge2\n"),
         "duplicate key 'RELAIS_NATS__NAME'"),
        ("no image or build", edit("compose.yml", "    image: postgres:16-bookworm\n", ""), "neither image nor build"),
        ("unknown config key", edit("compose.yml", "RELAIS_EDGE__LISTEN:", "RELAIS_EDGE__LISTEN_ADDR:"), "edge.listen_addr"),
        ("unknown config section", edit("compose.yml", "RELAIS_TELEMETRY__LOG_FORMAT:", "RELAIS_TELEMETRI__LOG_FORMAT:"), "[telemetri]"),
        ("wrong NATS password", edit("compose.yml", "RELAIS_NATS__PASSWORD: ${RELAIS_NATS_WORKER_PASSWORD",
                                     "RELAIS_NATS__PASSWORD: ${RELAIS_NATS_EDGE_PASSWORD"), "RELAIS_NATS_WORKER_PASSWORD"),
        ("wrong inbox prefix", edit("compose.yml", "_INBOX_audit", "_INBOX_edge"), "inbox prefix"),
        ("no healthcheck", edit("compose.yml", '      test: ["CMD-SHELL", "pg_isready', '      test_: ["CMD-SHELL", "pg_isready'),
         "'postgres': long-running service without a healthcheck"),
        ("unscraped metrics port", edit("compose.yml", "METRICS_ADDR: 0.0.0.0:9466", "METRICS_ADDR: 0.0.0.0:9499"), "port 9499"),
        ("bad Dockerfile target", edit("compose.yml", "target: runtime-cuda", "target: runtime-gpu"), "'runtime-gpu'"),
        ("Prometheus YAML broken", edit("infra/prometheus/prometheus.yml", "scrape_configs:", "scrape_configs: ["), "prometheus.yml"),
        ("alert rules YAML broken", edit("infra/prometheus/alerts.yml", "groups:", "groups: {"), "alerts.yml"),
        ("alert without description", edit("infra/prometheus/alerts.yml", "description: >-", "descr: >-"), "description annotation"),
        ("dashboard JSON broken", edit("infra/grafana/dashboards/relais-overview.json", "{", "{,"), "relais-overview.json"),
        ("unknown data source", edit("infra/grafana/dashboards/relais-training.json", '"uid": "prometheus"', '"uid": "prom"'), "'prom'"),
    ]
    missed = []
    with tempfile.TemporaryDirectory() as tmp:
        for what, apply, expect in cases:
            root = Path(tmp) / re.sub(r"\W+", "-", what)
            for rel in copy_paths:
                src, dst = REPO / rel, root / rel
                dst.parent.mkdir(parents=True, exist_ok=True)
                if src.is_dir():
                    shutil.copytree(src, dst, dirs_exist_ok=True)
                elif src.exists():
                    shutil.copy2(src, dst)
            try:
                apply(root)
            except (AssertionError, FileNotFoundError) as e:
                missed.append(f"{what}: could not plant the breakage: {e}")
                continue
            c = Checker(root / "compose.yml", use_promtool=False)
            c.run()
            if not any(expect in p for p in c.problems):
                missed.append(f"{what}: expected a problem mentioning {expect!r}, got {c.problems or 'none'}")
    return len(cases), missed


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--compose", type=Path, default=REPO / "compose.yml", help="the compose file (default: the repository's)")
    ap.add_argument("--quick", action="store_true", help="skip the self-test")
    args = ap.parse_args()

    c = check(args.compose.resolve())
    for note in c.notes:
        print(f"note: {note}")
    if c.problems:
        for p in c.problems:
            print(f"error: {p}", file=sys.stderr)
        print(f"check-compose: {len(c.problems)} problem(s) in {args.compose}", file=sys.stderr)
        return 1
    print(f"check-compose: {args.compose.name} and the files it uses are consistent")
    if args.quick or args.compose.resolve() != (REPO / "compose.yml").resolve():
        return 0
    planted, missed = self_test()
    if missed:
        for m in missed:
            print(f"error: self-test: {m}", file=sys.stderr)
        return 1
    print(f"check-compose: self-test: all {planted} planted breakages were caught")
    return 0


if __name__ == "__main__":
    sys.exit(main())
