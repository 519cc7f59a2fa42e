"""Results of a benchmark run: the table people read and the JSON machines keep.

Ratios compare throughput: ``ratio = floor objects/s / k8ssnap objects/s``,
which is the ratio of times when both handled the same objects, and stays
fair when the restore also writes objects the floor does not (system objects
it finds already existing). Sizes are
decimal megabytes (10^6 bytes).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

MB = 1_000_000

SNAPSHOT_TARGET = 2.0
RESTORE_TARGET = 1.15
RSS_TARGET_MB = 200.0
RSS_TARGET_OBJECTS = 100_000
IDLE_RSS_TARGET_MB = 80.0
PEER_SNAPSHOT_TARGET = 10.0
"""k8ssnap's snapshot objects/s over Velero's backup objects/s, at least."""
PEER_RESTORE_TARGET = 20.0
"""k8ssnap's restore objects/s over Velero's restore objects/s, at least."""


@dataclass(frozen=True, slots=True)
class Measure:
    """Objects handled in seconds."""

    objects: int
    seconds: float

    @property
    def rate(self) -> float:
        return self.objects / self.seconds if self.seconds > 0 else 0.0


def ratio(measured: Measure, floor: Measure) -> float:
    """How many times slower than the floor, per object."""
    return floor.rate / measured.rate if measured.rate > 0 else float("inf")


@dataclass(slots=True)
class ScaleResult:
    """Everything measured at one scale."""

    scale: int
    requested_objects: int
    population: dict[str, int]
    fill: Measure
    cluster_objects: int
    list_floor: Measure
    list_floor_runs: list[float]
    list_floor_exact_rv: Measure
    snapshot: Measure
    snapshot_phases: dict[str, float]
    archive_bytes: int
    create_floor: Measure
    restore: Measure
    restore_phases: dict[str, float]
    restore_outcomes: dict[str, int]
    rss_baseline: int
    rss_peak_snapshot: int
    rss_peak: int
    rss_timeline: list[tuple[float, float]] = field(default_factory=list)
    rss_marks: dict[str, float] = field(default_factory=dict)
    cpu_seconds: dict[str, float] = field(default_factory=dict)
    load_average: list[float] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    encrypted: dict[str, float] = field(default_factory=dict)
    """``--encrypted``: the age-encrypted snapshot's figures beside the plain one's."""
    peer: dict[str, Any] = field(default_factory=dict)
    """``--peer velero``: Velero's backup and restore (``bench.velero.PeerResult.to_json``)."""

    def peer_measure(self, step: str) -> Measure | None:
        """The peer's ``backup`` or ``restore`` as objects in seconds, if it ran."""
        if not self.peer:
            return None
        run = self.peer[step]
        return Measure(int(run["objects"]), float(run["seconds"]))

    @property
    def snapshot_ratio(self) -> float:
        return ratio(self.snapshot, self.list_floor)

    @property
    def restore_ratio(self) -> float:
        return ratio(self.restore, self.create_floor)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        for name in ("fill", "list_floor", "list_floor_exact_rv", "snapshot", "create_floor", "restore"):
            data[name]["objects_per_second"] = round(getattr(self, name).rate, 1)
        data["snapshot_ratio"] = round(self.snapshot_ratio, 3)
        data["restore_ratio"] = round(self.restore_ratio, 3)
        return data


@dataclass(slots=True)
class Run:
    """A whole run: settings and one result per scale."""

    started: str
    settings: dict[str, Any]
    machine: dict[str, Any]
    results: list[ScaleResult] = field(default_factory=list)

    def verdicts(self) -> list[tuple[str, bool | None, str]]:
        """(target, met (None: not measured), evidence), for the table and the JSON."""
        out: list[tuple[str, bool | None, str]] = []
        for r in self.results:
            out.append((
                f"x{r.scale} snapshot within {SNAPSHOT_TARGET}x of the list floor",
                r.snapshot_ratio <= SNAPSHOT_TARGET,
                f"{r.snapshot_ratio:.2f}x",
            ))  # fmt: skip
            out.append((
                f"x{r.scale} restore within {RESTORE_TARGET}x of the create floor",
                r.restore_ratio <= RESTORE_TARGET,
                f"{r.restore_ratio:.2f}x",
            ))  # fmt: skip
        for r in self.results:
            out += _peer_verdicts(r)
        out.append((
            f"controller idle RSS under {IDLE_RSS_TARGET_MB:.0f} MB",
            max(r.rss_baseline for r in self.results) / MB < IDLE_RSS_TARGET_MB,
            ", ".join(f"x{r.scale}: {r.rss_baseline / MB:.1f} MB" for r in self.results),
        ))  # fmt: skip
        big = [r for r in self.results if r.cluster_objects >= RSS_TARGET_OBJECTS]
        if big:
            worst = max(big, key=lambda r: r.rss_peak)
            out.append((
                f"peak RSS under {RSS_TARGET_MB:.0f} MB at >= {RSS_TARGET_OBJECTS} objects",
                worst.rss_peak / MB < RSS_TARGET_MB,
                f"{worst.rss_peak / MB:.0f} MB at {worst.cluster_objects} objects",
            ))  # fmt: skip
        else:
            out.append((f"peak RSS under {RSS_TARGET_MB:.0f} MB at {RSS_TARGET_OBJECTS} objects", None,
                        "no scale reached that many objects"))  # fmt: skip
        if len(self.results) >= 2:
            small, large = self.results[0], self.results[-1]
            size_growth = large.cluster_objects / small.cluster_objects
            rss_growth = large.rss_peak / small.rss_peak
            net_growth = (large.rss_peak - large.rss_baseline) / max(1, small.rss_peak - small.rss_baseline)
            out.append((
                "peak RSS grows sublinearly with the cluster",
                rss_growth < size_growth,
                f"objects x{size_growth:.2f}, peak RSS x{rss_growth:.2f}, above baseline x{net_growth:.2f}",
            ))  # fmt: skip
        return out

    def to_json(self) -> dict[str, Any]:
        return {
            "started": self.started,
            "settings": self.settings,
            "machine": self.machine,
            "results": [r.to_json() for r in self.results],
            "targets": [{"target": t, "met": met, "evidence": e} for t, met, e in self.verdicts()],
        }

    def write(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_json(), indent=2) + "\n")


def _peer_verdicts(r: ScaleResult) -> list[tuple[str, bool | None, str]]:
    backup, restore = r.peer_measure("backup"), r.peer_measure("restore")
    if backup is None or restore is None:
        return []
    faster_snapshot = r.snapshot.rate / backup.rate if backup.rate else float("inf")
    faster_restore = r.restore.rate / restore.rate if restore.rate else float("inf")
    partial = " (Velero's restore stopped early: its rate so far)" if r.peer["restore"]["partial"] else ""
    return [
        (f"x{r.scale} snapshot at least {PEER_SNAPSHOT_TARGET:.0f}x Velero's backup speed",
         faster_snapshot >= PEER_SNAPSHOT_TARGET, f"{faster_snapshot:.1f}x"),
        (f"x{r.scale} restore at least {PEER_RESTORE_TARGET:.0f}x Velero's restore speed",
         faster_restore >= PEER_RESTORE_TARGET, f"{faster_restore:.1f}x{partial}"),
    ]  # fmt: skip


def _row(cells: list[str], widths: list[int]) -> str:
    return (
        "| "
        + " | ".join(
            c.rjust(w) if i > 1 else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        )
        + " |"
    )


def table(run: Run) -> str:
    """The results as a Markdown table, then the targets."""
    header = ["scale", "measurement", "objects", "seconds", "objects/s", "ratio", "client CPU s",
              "peak RSS MB", "archive MB"]  # fmt: skip
    rows: list[list[str]] = []
    for r in run.results:
        scale = f"x{r.scale} (N={r.requested_objects})"
        cpu = {k: f"{v:.1f}" for k, v in r.cpu_seconds.items()}
        rows += [
            [scale, "list floor", *_cells(r.list_floor), "1.00", cpu.get("list_floor", ""), "", ""],
            [scale, "k8ssnap snapshot", *_cells(r.snapshot), f"{r.snapshot_ratio:.2f}",
             cpu.get("snapshot", ""), f"{r.rss_peak_snapshot / MB:.0f}", f"{r.archive_bytes / MB:.1f}"],
        ]  # fmt: skip
        if r.encrypted:
            e = r.encrypted
            sealed = Measure(r.snapshot.objects, e["seconds"])
            rows.append([scale, "k8ssnap snapshot, age", *_cells(sealed),
                         f"{ratio(sealed, r.list_floor):.2f}", f"{e['cpu_seconds']:.1f}",
                         f"{e['peak_rss_mb']:.0f} (window)", f"{e['archive_bytes'] / MB:.1f}"])  # fmt: skip
        rows += [
            [scale, "create floor", *_cells(r.create_floor), "1.00", cpu.get("create_floor", ""), "", ""],
            [scale, "k8ssnap restore", *_cells(r.restore), f"{r.restore_ratio:.2f}", cpu.get("restore", ""),
             f"{r.rss_peak / MB:.0f}", ""],
        ]  # fmt: skip
        backup, restore = r.peer_measure("backup"), r.peer_measure("restore")
        if backup is not None and restore is not None:
            partial = " (stopped)" if r.peer["restore"]["partial"] else ""
            rows += [
                [scale, "Velero backup", *_cells(backup), f"{ratio(backup, r.list_floor):.2f}", "",
                 f"{r.peer['backup_peak_rss'] / MB:.0f}", ""],
                [scale, f"Velero restore{partial}", *_cells(restore),
                 f"{ratio(restore, r.create_floor):.2f}", "", f"{r.peer['restore_peak_rss'] / MB:.0f}", ""],
            ]  # fmt: skip
    widths = [max(len(x) for x in column) for column in zip(header, *rows, strict=True)]
    lines = [_row(header, widths), "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    lines += [_row(row, widths) for row in rows]
    lines.append("")
    for target, met, evidence in run.verdicts():
        mark = "not measured" if met is None else ("met" if met else "MISSED")
        lines.append(f"- {target}: {mark} ({evidence})")
    for r in run.results:
        if r.encrypted:
            e = r.encrypted
            lines.append(
                f"- x{r.scale} age encryption: time x{e['time_ratio']:.2f}, "
                f"CPU {e['cpu_seconds']:.1f} s vs {e['plain_cpu_seconds']:.1f} s, "
                f"peak RSS in the snapshot's window {e['peak_rss_mb']:.0f} MB "
                f"vs {e['plain_peak_rss_mb']:.0f} MB (x{e['rss_ratio']:.2f})"
            )
    return "\n".join(lines)


def _cells(m: Measure) -> list[str]:
    return [str(m.objects), f"{m.seconds:.2f}", f"{m.rate:.0f}"]
