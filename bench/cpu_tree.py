"""CPU time of a command and everything it starts, by kind of process (Linux).

    .venv/bin/python bench/cpu_tree.py env -u PYTHONDONTWRITEBYTECODE \
        .venv/bin/python -m pytest -n 0 -q tests/browser -p no:randomly

``/usr/bin/time`` only counts children that were waited for, and most of Chromium's
processes are not: this samples /proc every half second instead and keeps each process's
last user+system time (what a process spends after the last sample is lost: < 0.5 s each).
On a machine shared with other work, CPU time says more than the wall clock.
"""
from __future__ import annotations

import collections
import os
import subprocess
import sys
import time

TICK = os.sysconf("SC_CLK_TCK")


def _processes() -> dict[int, tuple[int, int, str]]:
    found = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as fh:
                stat = fh.read()
            with open(f"/proc/{name}/cmdline") as fh:
                cmd = fh.read().replace("\0", " ")[:300]
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        found[int(name)] = (int(fields[1]), int(fields[11]) + int(fields[12]), cmd)
    return found


def _kind(cmd: str) -> str:
    if "chromium" in cmd:
        return "chromium " + (cmd.split("--type=")[1].split()[0] if "--type=" in cmd else "browser")
    for word in ("gunicorn", "pytest", "flask", "playwright"):
        if word in cmd:
            return word
    return cmd[:60] or "?"


def main(argv: list[str]) -> int:
    proc = subprocess.Popen(argv)
    seen: dict[int, tuple[int, str]] = {}
    while proc.poll() is None:
        procs = _processes()
        tree, grew = {proc.pid}, True
        while grew:
            grew = False
            for pid, (ppid, _, _) in procs.items():
                if ppid in tree and pid not in tree:
                    tree.add(pid)
                    grew = True
        for pid in tree & procs.keys():
            _, ticks, cmd = procs[pid]
            seen[pid] = (ticks, cmd or seen.get(pid, (0, ""))[1])  # an exiting process has no cmdline
        time.sleep(0.5)
    kinds = collections.Counter()
    for ticks, cmd in seen.values():
        kinds[_kind(cmd)] += ticks / TICK
    for kind, seconds in kinds.most_common():
        print(f"{seconds:8.1f} s  {kind}", file=sys.stderr)
    print(f"{sum(kinds.values()):8.1f} s  total CPU", file=sys.stderr)
    return proc.returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
