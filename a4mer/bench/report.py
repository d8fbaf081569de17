"""Markdown tables, plots and the ``docs/benchmarks.md`` section of the heads benchmark."""
from __future__ import annotations

import json
import re
from pathlib import Path

from ..io.outputs import write_atomic, write_text_atomic

SECTION = "## Heads I"


def _f(x, nd=1):
    return "—" if x is None else f"{x:.{nd}f}"


def _exact(row: dict) -> str:
    """Whether every kept frame (or key) came out exact; "—" for a row without windows."""
    v = row.get("kept_frames_exact")
    return "—" if v is None else str(v)


def _methods(block: dict) -> list[str]:
    return [k for k, v in block.items() if isinstance(v, dict) and "windows" in v]


def _ratio(value: float | None, base: float | None) -> float | None:
    """``value / base``, or None when either is missing or the base is ~0."""
    return value / base if base and base > 1e-6 and value is not None else None


def _clips(block: dict) -> str:
    """"n (≥ F)": how many clips a setting used and the frames a clip needs for it."""
    need = block.get("min_clip_frames")
    return f"{block['clips']}" + (f" (≥ {need})" if need is not None else "")


def _none_fits(key: str, block: dict, columns: int) -> str | None:
    """The one row of a setting no clip is long enough for (instead of a row of dashes per method)."""
    if block.get("clips"):
        return None
    return f"| {key} | {_clips(block)} | no clip is long enough |" + " — |" * (columns - 3)


def too_short(res: dict, what: str, limit: int = 6) -> str:
    """One line per setting of ``res`` that some clips are too short for: which ones (up to ``limit``
    names) and how many frames it needs; "" when every clip served every setting."""
    lines = []
    for key, block in res.items():
        names = block.get("too_short") or []
        if names:
            shown = ", ".join(f"`{n}`" for n in names[:limit]) + (f" and {len(names) - limit} more" if len(names) > limit else "")
            lines.append(f"- {what} {key}: {len(names)} clip{'s' if len(names) > 1 else ''} under "
                         f"{block.get('min_clip_frames')} frames at 30 fps, not used: {shown}")
    return "\n".join(["Clips too short for a setting (all of them in the JSON's `too_short`):", ""] + lines) if lines else ""


def gap_table(res: dict, ref: str = "hermite") -> str:
    """Markdown table of fixed-gap in-betweening: MPJPE (ratio to ``ref``), L2P, L2Q, NPSS, skate."""
    lines = ["| gap (frames @30fps) | clips (≥ frames) / windows | method | MPJPE mm | × Hermite | L2P | L2Q | NPSS | foot skate cm/s (truth) | kept frames exact |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for gap, block in res.items():
        base = block.get(ref, {}).get("mpjpe_mm")
        if (row := _none_fits(gap, block, 10)):
            lines.append(row)
            continue
        for m in _methods(block):
            r = block[m]
            ratio = _ratio(r["mpjpe_mm"], base)
            lines.append(f"| {gap} | {_clips(block)} / {r['windows']} | {m} | {_f(r['mpjpe_mm'])} | {_f(ratio, 2)} | "
                         f"{_f(r.get('l2p'), 3)} | {_f(r.get('l2q'), 3)} | {_f(r.get('npss'), 4)} | "
                         f"{_f(r['foot_skate_cm_s'])} ({_f(r.get('true_foot_skate_cm_s'))}) | {_exact(r)} |")
    return "\n".join(lines)


def blocking_table(res: dict, ref: str = "hermite") -> str:
    lines = ["| keys every N frames | clips (≥ frames) | method | MPJPE mm | × Hermite | foot skate cm/s | keys exact |",
             "|---|---|---|---|---|---|---|"]
    for n, block in res.items():
        base = block.get(ref, {}).get("mpjpe_mm")
        if (row := _none_fits(n, block, 7)):
            lines.append(row)
            continue
        for m in _methods(block):
            r = block[m]
            ratio = _ratio(r["mpjpe_mm"], base)
            lines.append(f"| {n} | {_clips(block)} | {m} | {_f(r['mpjpe_mm'])} | {_f(ratio, 2)} | "
                         f"{_f(r['foot_skate_cm_s'])} | {_exact(r)} |")
    return "\n".join(lines)


def extension_table(res: dict, ref: str = "constant_velocity") -> str:
    lines = ["| horizon | clips (≥ frames) / windows | method | MPJPE mm (mean over horizon) | × const. vel. | MPJPE at last frame |",
             "|---|---|---|---|---|---|"]
    for h, block in res.items():
        base = block.get(ref, {}).get("mpjpe_mm")
        if (row := _none_fits(f"{block['seconds']:.1f} s ({h})", block, 6)):
            lines.append(row)
            continue
        for m in _methods(block):
            r = block[m]
            ratio = _ratio(r["mpjpe_mm"], base)
            lines.append(f"| {block['seconds']:.1f} s ({h}) | {_clips(block)} / "
                         f"{r['windows']} | {m} | {_f(r['mpjpe_mm'])} | {_f(ratio, 2)} | {_f(r['final_mpjpe_mm'])} |")
    return "\n".join(lines)


def by_dataset_table(res: dict, key: str) -> str:
    """MPJPE per dataset for one setting ``key`` of a result block."""
    block = res.get(key, {})
    ms = _methods(block)
    ds = sorted({d for m in ms for d in block[m].get("by_dataset", {})})
    lines = ["| dataset | " + " | ".join(ms) + " |", "|---|" + "---|" * len(ms)]
    for d in ds:
        cells = [_f(block[m]["by_dataset"].get(d, {}).get("mpjpe_mm")) for m in ms]
        nw = max(block[m]["by_dataset"].get(d, {}).get("windows", 0) for m in ms)
        lines.append(f"| {d} ({nw} windows) | " + " | ".join(cells) + " |")
    return "\n".join(lines)


#: (results key, x axis) of each plot, drawn as ``<prefix>_<key>.png``
PLOTS = (("inbetween", "gap (frames at 30 fps)"), ("extension", "horizon (frames at 30 fps)"),
         ("blocking", "key spacing (frames)"))


def plot_names(prefix: str = "heads") -> list[str]:
    """The file names :func:`plot` may write (a new run removes the ones it does not write again)."""
    return [f"{prefix}_{key}.png" for key, _ in PLOTS]


#: the PNG text chunk (keyword, text) that marks a plot drawn by :func:`plot`: a file of a plot's name without
#: it is the user's own, which a4mer bench never replaces
PLOT_MARK = ("Software", "a4mer bench")


def is_our_plot(path: Path) -> bool:
    """Whether ``path`` is a PNG that carries :data:`PLOT_MARK`."""
    from PIL import Image
    try:
        with Image.open(path) as im:
            return im.format == "PNG" and im.text.get(PLOT_MARK[0]) == PLOT_MARK[1]
    except (OSError, ValueError, SyntaxError):  # not an image (PIL's UnidentifiedImageError is an OSError), torn
        return False


def plot(results: dict, out_dir: Path, prefix: str = "heads") -> list[Path]:
    """MPJPE-vs-gap and MPJPE-vs-horizon plots (PNG) under ``out_dir``; returns their paths."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    paths = []
    for (key, xlabel), fname in zip(PLOTS, plot_names(prefix)):
        res = results.get(key)
        if not res:
            continue
        fig, ax = plt.subplots(figsize=(5.5, 3.6))
        xs = [int(k) for k in res]
        ms = sorted({m for b in res.values() for m in _methods(b)})
        drawn = False
        for m in ms:
            ys = [res[k][m]["mpjpe_mm"] if m in res[k] else None for k in res]
            pts = [(x, y) for x, y in zip(xs, ys) if y is not None]
            if pts:
                ax.plot(*zip(*pts), marker="o", label=m)
                drawn = True
        ax.set_xlabel(xlabel)
        if drawn:
            ax.set_ylabel("MPJPE (mm, log scale)")
            ax.set_yscale("log")
            ax.grid(alpha=0.3)
            ax.legend(fontsize=8)
        else:  # say why the picture is empty, rather than show empty axes
            need = min(b.get("min_clip_frames", 0) for b in res.values())
            ax.text(0.5, 0.5, f"no clip is long enough for any setting\n(the shortest needs {need} frames at 30 fps)",
                    ha="center", va="center", transform=ax.transAxes)
        fig.tight_layout()
        p = out_dir / fname
        write_atomic(p, lambda tmp: fig.savefig(tmp, dpi=110, format="png", metadata=dict([PLOT_MARK])))
        plt.close(fig)
        paths.append(p)
    return paths


def markdown(results: dict, command: str, plots: list[str]) -> str:
    """The whole "Heads I" section as markdown."""
    parts = [SECTION, "", f"Reproduce: `{command}`", ""]
    meta = results.get("meta", {})
    if meta:
        found, cap = meta.get("clips_found") or {}, meta.get("max_clips")
        cut = {d: n for d, n in found.items() if cap and n > cap}
        parts += [f"Data: {meta.get('clips')} clips from `{meta.get('data')}` ({meta.get('datasets')}"
                  + (f"; at most {cap} per data set, evenly chosen: "
                     + ", ".join(f"{d} {cap} of {n}" for d, n in cut.items()) if cut else "") + "), "
                  "all at 30 fps; MPJPE = mean joint-position error (mm) of SMPL joints 0-21 from FK on the "
                  "neutral SMPL skeleton, over the generated frames only. L2P/L2Q/NPSS follow LaFAN1 "
                  "(positions/quaternions canonical at the last key before the gap; L2P normalised with "
                  "the benchmark data's own mean/std). Baselines: hermite = cubic Hermite through the "
                  "keys with velocities from the neighbouring frames (blocking: Catmull-Rom through the "
                  "keys, like Blender's auto handles); hermite2 = the same curve with second-order "
                  "one-sided key velocities from two frames on each side; hermite2_global = hermite2 with "
                  "the body rotations half-way to the same curve through the joints' global orientations "
                  "(where a gap MLP fades out at 31-40 frames; longer gaps start from hermite's key "
                  "velocities); min_jerk = the curve with the least squared jerk plus 0.2 x the squared "
                  "acceleration (per frame) through the keys and the three frames on each side, rotations "
                  "blended like hermite2_global (the heads' classical curve for gaps of up to 30 frames, "
                  "and where a gap MLP fades out there); "
                  "bezier_auto = every kept frame a key, tangents from "
                  "the neighbouring keys (Blender's auto handles on a clip keyed every frame); "
                  "natural_spline (blocking only) = the natural cubic spline through the keys (the heads' "
                  "curve for keys under 0.23 s apart, there also blended with the global curve); lerp_slerp; zero_velocity; extension against "
                  "zero_velocity, constant_velocity and damped_velocity (the last step's velocity decaying "
                  "as exp(-k / 10 frames): the base curve of the learned extension).", ""]
        for line in meta.get("notes", []):
            parts += [f"- {line}"]
        parts += [""]
    for task, title, table, what, key, per in (
            ("inbetween", "In-betweening (1 s context on each side)", gap_table, "gap", "30", "30-frame gaps"),
            ("blocking", "Blocking (only the keys are given)", blocking_table, "keys every", "20", "keys every 20 frames"),
            ("extension", "Extension (1 s of context)", extension_table, "horizon", "30", "1 s horizon")):
        if task not in results:
            continue
        res = results[task]
        parts += [f"### {title}", "", table(res), ""]
        if (short := too_short(res, what)):
            parts += [short, ""]
        if res.get(key, {}).get("clips"):
            parts += [f"Per dataset, {per} (MPJPE mm):", "", by_dataset_table(res, key), ""]
    if "speed" in results:
        parts += ["### Speed", "", "| what | seconds |", "|---|---|"]
        parts += [f"| {k} | {_f(v, 3)} |" for k, v in results["speed"].items()]
        parts += [""] + [f"- {n}" for n in results.get("speed_notes", [])] + ([""] if results.get("speed_notes") else [])
    for p in plots:
        parts += [f"![{Path(p).stem}]({p})"]
    return "\n".join(parts) + "\n"


def write_section(doc: Path, name: str, body: str, heading: str | None = None) -> None:
    """Replace the text between ``<!-- begin:NAME -->`` and ``<!-- end:NAME -->`` of the markdown file
    ``doc`` with ``body``; without the markers, the section under the line ``heading`` (up to the next
    heading of its level or above) when there is one, else the marked section is appended (a new file
    starts "# Benchmarks"). Every benchmark writes its own section of ``docs/benchmarks.md`` this way;
    the rest is kept."""
    doc = Path(doc)
    text = doc.read_text(encoding="utf-8") if doc.is_file() else "# Benchmarks\n"
    begin, end = f"<!-- begin:{name} -->", f"<!-- end:{name} -->"
    block = f"{begin}\n{body.rstrip()}\n{end}"
    pat = re.compile(re.escape(begin) + r".*?" + re.escape(end), re.S)
    if not pat.search(text) and heading:  # a section the user wrote (or copied) without the markers
        level = len(heading) - len(heading.lstrip("#"))
        pat = re.compile(rf"^{re.escape(heading)}[ \t]*\n.*?(?=^#{{1,{level}}} |\Z)", re.S | re.M)
        block += "\n\n"
    text = pat.sub(lambda _: block, text, count=1) if pat.search(text) else text.rstrip() + "\n\n" + block + "\n"
    doc.parent.mkdir(parents=True, exist_ok=True)
    # whole or not at all: it is the user's (through a link: the page it points at)
    write_text_atomic(doc.resolve(), text if text.endswith("\n") else text + "\n")


def update_doc(doc: Path, section_md: str) -> None:
    """Replace (or append) the heads benchmark's section (``heads-i`` markers, else its heading) of ``doc``."""
    write_section(doc, "heads-i", section_md, heading=SECTION)


def add_section_arguments(p, docs: Path, name: str) -> None:
    """``--json`` (default ``docs/bench/NAME.json``), ``--md`` (default ``docs/benchmarks.md``) and
    ``--render-only`` of a benchmark script that saves its numbers as JSON and one markdown section."""
    p.add_argument("--json", default=str(Path(docs) / "bench" / f"{name}.json"))
    p.add_argument("--md", default=str(Path(docs) / "benchmarks.md"))
    p.add_argument("--render-only", action="store_true", help="rebuild the markdown section from --json")


def render_saved(args, section: str, render) -> None:
    """Rewrite section ``section`` of ``args.md`` from the JSON saved at ``args.json`` (--render-only)."""
    write_section(Path(args.md), section, render(json.loads(Path(args.json).read_text(encoding="utf-8"))))
