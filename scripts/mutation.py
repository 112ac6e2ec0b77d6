"""`make mutation`: mutmut over the modules where a silent bug costs most (docs/testing.md).

Each group of ``[tool.mutmut.groups]`` in pyproject.toml runs on its own, one after the
other, in ``var/mutation/<group>/`` (a fresh directory each run: links to src/, tests/ and
migrations/, and a pyproject.toml whose ``[tool.mutmut]`` is the shared settings plus the
group's ``only_mutate`` and its tests), so mutmut mutates the group's modules only and runs
only the group's tests against each mutant, two at a time.

A mutant that survives is either killed by a test or listed in tests/mutation/equivalent.toml
with the reason no test can tell it from the real code, and the line it changes (checked
against the mutant, so a renumbered mutant is never justified by another's reason). This
script fails when a survivor is not listed, when a listed mutant no longer exists, changes
another line or is killed after all, or when any module scores under 95 % killed-or-justified.

    .venv/bin/python scripts/mutation.py              # every group
    .venv/bin/python scripts/mutation.py phones outbox  # some groups
    .venv/bin/python scripts/mutation.py --report     # the table of the last run, no run
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / "var" / "mutation"
EQUIVALENTS = ROOT / "tests" / "mutation" / "equivalent.toml"
LINKED = ("src", "tests", "migrations")
MIN_SCORE = 95.0
MAX_CHILDREN = 2
# tests/conftest.py: the SQLite databases are migrated once per group and copied per session.
SQLITE_TEMPLATE_ENV = "OVENAI_TEST_SQLITE_TEMPLATE"
# tests/conftest.py: the report of each test that fails against a mutant, one file per mutant.
FAILURES_ENV = "OVENAI_MUTATION_FAILURES"
FAILURES = "failures"
# Each mutant's session writes its SQLite pair and temporary files under TMPDIR (pytest's
# tmp_path_factory and tempfile read it): there, in memory when the machine has a tmpfs, a
# commit waits for no disk, and the tests' wall time was ~30 % shorter (docs/testing.md).
MEMORY_TMP = Path("/dev/shm")
# mutmut's statuses (mutmut.stats.status_by_exit_code) as this script counts them: a
# mutant the tests stop by timing out or crashing was told apart from the real code; one
# mypy --strict rejects could never pass `make lint`. Every other status is a survivor.
KILLED = {"killed", "timeout", "segfault"}
TYPED = "caught by type check"


@dataclass
class Group:
    name: str
    modules: list[str]
    tests: list[str]


@dataclass
class Module:
    path: str
    mutants: int = 0
    killed: int = 0
    typed: int = 0
    justified: int = 0
    survived: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def score(self) -> float:
        caught = self.killed + self.typed + self.justified
        return 100.0 * caught / self.mutants if self.mutants else 100.0


def load_groups(pyproject: dict[str, Any]) -> tuple[dict[str, Any], list[Group]]:
    settings = dict(pyproject["tool"]["mutmut"])
    table = settings.pop("groups")
    groups = [Group(name, list(g["modules"]), list(g["tests"])) for name, g in table.items()]
    return settings, groups


def _toml_value(value: Any) -> str:
    # Strings, numbers, booleans and lists of them: JSON spells them as TOML does.
    return json.dumps(value, ensure_ascii=False)


def group_pyproject(text: str, settings: dict[str, Any], group: Group) -> str:
    """The repository's pyproject.toml with [tool.mutmut] narrowed to one group."""
    kept: list[str] = []
    skipping = False
    for line in text.splitlines():
        if line.startswith("["):
            skipping = line.strip("[] ").startswith("tool.mutmut")
        if not skipping:
            kept.append(line)
    mutmut = dict(settings)
    mutmut["only_mutate"] = group.modules
    if "type_check_command" in mutmut:
        # Run in mutants/ on the group's modules; its cache is shared by the groups and runs.
        cache = ["--cache-dir", str(WORK / "mypy-cache")]
        mutmut["type_check_command"] = [*mutmut["type_check_command"], *cache, *group.modules]
    mutmut["pytest_add_cli_args_test_selection"] = group.tests
    kept.append("\n[tool.mutmut]")
    kept += [f"{key} = {_toml_value(value)}" for key, value in mutmut.items()]
    return "\n".join(kept) + "\n"


def prepare(group: Group, settings: dict[str, Any]) -> Path:
    folder = WORK / group.name
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    for name in LINKED:
        (folder / name).symlink_to(ROOT / name, target_is_directory=True)
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    (folder / "pyproject.toml").write_text(group_pyproject(text, settings, group), "utf-8")
    return folder


def _scratch_parent() -> str | None:
    """Where the group's temporary files go: the tmpfs if there is one, else TMPDIR's."""
    if MEMORY_TMP.is_dir() and os.access(MEMORY_TMP, os.W_OK):
        return str(MEMORY_TMP)
    return None


def run_mutmut(folder: Path) -> tuple[int, float]:
    mutmut = str(Path(sys.executable).with_name("mutmut"))
    (folder / FAILURES).mkdir()
    # mutmut runs the type checker by its bare name ("mypy"), so this venv's comes first.
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="ovenai-mutation-", dir=_scratch_parent()) as scratch:
        template = Path(scratch) / "sqlite-template"
        template.mkdir()
        env = {
            **os.environ,
            SQLITE_TEMPLATE_ENV: str(template),
            FAILURES_ENV: str(folder / FAILURES),
            "TMPDIR": scratch,
            "PATH": path,
        }
        with (folder / "mutmut.log").open("w", encoding="utf-8") as log:
            done = subprocess.run(
                [mutmut, "run", "--max-children", str(MAX_CHILDREN)],
                cwd=folder,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                check=False,
            )
    return done.returncode, time.monotonic() - started


def _changed_lines(diff: str) -> str:
    lines = diff.splitlines()[2:]  # the two file headers
    added = [line[1:].strip() for line in lines if line.startswith("+")]
    # A mutant that only removes a line (an argument dropped) is named by the line it removes.
    removed = [line[1:].strip() for line in lines if line.startswith("-")]
    return "\n".join(added or removed)


@dataclass
class Verdicts:
    modules: list[Module]
    problems: list[str]


def judge(folder: Path, group: Group, equivalents: dict[str, dict[str, str]]) -> Verdicts:
    """Count each module's mutants and hold every survivor against the equivalents."""
    from mutmut.configuration import reset_config
    from mutmut.mutation.data import SourceFileMutationData
    from mutmut.mutation.diff_apply import get_diff_for_mutant
    from mutmut.stats import status_by_exit_code

    here = Path.cwd()
    os.chdir(folder)
    reset_config()
    try:
        modules: list[Module] = []
        problems: list[str] = []
        seen: set[str] = set()
        dotted = {_dotted(path): path for path in group.modules}
        for path in group.modules:
            data = SourceFileMutationData(path=path)
            data.load()
            module = Module(path=path, seconds=sum(data.durations_by_key.values()))
            for name, code in data.exit_code_by_key.items():
                seen.add(name)
                module.mutants += 1
                status = status_by_exit_code[code]
                listed = equivalents.get(name)
                if status in KILLED or status == TYPED:
                    if status == TYPED:
                        module.typed += 1
                    else:
                        module.killed += 1
                    if listed is not None:
                        problems.append(
                            f"{name}: listed as equivalent but {status}; remove it"
                            + _failed_test(folder, name)
                        )
                elif listed is None:
                    module.survived.append(f"{name} ({status})")
                else:
                    changed = _changed_lines(get_diff_for_mutant(name, path=path))
                    if listed["mutant"].strip() not in changed:
                        problems.append(
                            f"{name}: listed for `{listed['mutant']}` but now changes `{changed}`"
                        )
                        module.survived.append(f"{name} ({status}, listed for another line)")
                    else:
                        module.justified += 1
            modules.append(module)
        for name in equivalents:
            if _module_of(name) in dotted and name not in seen:
                problems.append(f"{name}: listed as equivalent but no such mutant any more")
        return Verdicts(modules, problems)
    finally:
        os.chdir(here)
        reset_config()


def _failed_test(folder: Path, mutant: str) -> str:
    """The test that failed against the mutant, as tests/conftest.py recorded it."""
    record = folder / FAILURES / f"{mutant}.txt"
    if not record.exists():
        return ""  # a timeout or a crash: no test reported
    first = record.read_text(encoding="utf-8").splitlines()[0]
    return f" (failed: {first}; see {record.relative_to(ROOT)})"


def _dotted(path: str) -> str:
    return path.removeprefix("src/").removesuffix(".py").replace("/", ".")


def _module_of(mutant: str) -> str:
    from mutmut.utils.format_utils import get_module_from_key

    return get_module_from_key(mutant.rsplit("__mutmut_", 1)[0])


def load_equivalents() -> dict[str, dict[str, str]]:
    table = tomllib.loads(EQUIVALENTS.read_text(encoding="utf-8"))
    for name, entry in table.items():
        if not isinstance(entry, dict) or not entry.get("reason") or not entry.get("mutant"):
            raise SystemExit(f"{EQUIVALENTS}: {name} needs a `mutant` line and a `reason`")
    return table


def table(rows: list[tuple[str, Module, float]]) -> str:
    out = [
        "| group | module | mutants | killed by tests | rejected by mypy | justified | survived "
        "| score | mutant time | group wall time |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for group, m, wall in rows:
        out.append(
            f"| {group} | {m.path.removeprefix('src/ovenai/')} | {m.mutants} | {m.killed} | "
            f"{m.typed} | {m.justified} | {len(m.survived)} | {m.score:.1f} % | "
            f"{m.seconds:.0f} s | {wall:.0f} s |"
        )
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("groups", nargs="*", help="groups to run (default: every group)")
    parser.add_argument("--report", action="store_true", help="judge the last run again, no run")
    args = parser.parse_args(argv)

    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    settings, groups = load_groups(pyproject)
    unknown = set(args.groups) - {g.name for g in groups}
    if unknown:
        parser.error(f"no such group: {', '.join(sorted(unknown))}")
    chosen = [g for g in groups if not args.groups or g.name in args.groups]
    equivalents = load_equivalents()

    rows: list[tuple[str, Module, float]] = []
    problems: list[str] = []
    started = time.monotonic()
    walls = _read_walls()
    for group in chosen:
        folder = WORK / group.name
        if not args.report:
            say(f"mutation: {group.name} ({', '.join(group.modules)})")
            folder = prepare(group, settings)
            code, walls[group.name] = run_mutmut(folder)
            _write_walls(walls)
            if code != 0:
                problems.append(f"{group.name}: mutmut failed ({code}); see {folder}/mutmut.log")
                continue
        verdicts = judge(folder, group, equivalents)
        problems += verdicts.problems
        rows += [(group.name, m, walls.get(group.name, 0.0)) for m in verdicts.modules]

    say("\n" + table(rows))
    total = Counter[str]()
    for _, m, _ in rows:
        total.update(mutants=m.mutants, killed=m.killed, typed=m.typed, justified=m.justified)
    say(
        f"\n{total['mutants']} mutants: {total['killed']} killed by tests, {total['typed']} "
        f"rejected by mypy, {total['justified']} justified; "
        f"wall time {time.monotonic() - started:.0f} s"
    )
    for _, m, _ in rows:
        for name in m.survived:
            problems.append(f"{name}: kill it with a test or list it in {EQUIVALENTS.name}")
        if m.score < MIN_SCORE:
            problems.append(f"{m.path}: {m.score:.1f} % killed or justified, under {MIN_SCORE:g}")
    for problem in problems:
        say(f"  {problem}")
    return 1 if problems else 0


def say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def _read_walls() -> dict[str, float]:
    path = WORK / "walls.json"
    return json.loads(path.read_text()) if path.exists() else {}


def _write_walls(walls: dict[str, float]) -> None:
    (WORK / "walls.json").write_text(json.dumps(walls, indent=1))


if __name__ == "__main__":
    sys.exit(main())
