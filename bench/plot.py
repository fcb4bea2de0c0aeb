"""The CLINC150 plot: in-scope accuracy vs out-of-scope recall for every system compared."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Dict

from bench.clinc import TARGET

MARKERS = {"oos-train": "o", "oos-threshold": "s", "oos-train+threshold": "D"}
COLOURS = {"ours": "tab:blue", "default": "tab:orange", "paper": "tab:gray"}


def _colour(system: str, index: int) -> str:
    if system == "rasa-default":
        return COLOURS["default"]
    palette = ["tab:blue", "tab:green", "tab:purple", "tab:red", "tab:cyan"]
    return palette[index % len(palette)]


def plot_clinc(data: Dict[str, Any], path: Path) -> Path:
    """A PNG: the paper's rows (grey), our measured rows, our threshold curves (test split)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 6.5), dpi=110)
    ax.fill_between([100 * TARGET[1], 100], 100 * TARGET[0], 100, color="tab:green", alpha=0.08,
                    label=f"target: in-scope ≥ {100 * TARGET[0]:.0f} %, OOS recall ≥ {100 * TARGET[1]:.0f} %")
    for row in data["paper"]:
        ax.scatter(100 * row["oos_recall"], 100 * row["inscope_acc"], marker=MARKERS[row["scheme"]],
                   color=COLOURS["paper"], s=40, zorder=3)
        ax.annotate(f"{row['classifier']}", (100 * row["oos_recall"], 100 * row["inscope_acc"]),
                    textcoords="offset points", xytext=(4, -9) if row["scheme"] == "oos-train" else (4, 4),
                    fontsize=7, color="dimgray")
    systems = []
    for result in data["results"]:
        if result["system"] not in systems:
            systems.append(result["system"])
    for result in data["results"]:
        colour = _colour(result["system"], systems.index(result["system"]))
        scheme0 = result["rows"][0]["scheme"]
        xs = [100 * r for _, _, r in result["curve"]]
        ys = [100 * a for _, a, _ in result["curve"]]
        ax.plot(xs, ys, color=colour, alpha=0.35, linewidth=1,
                linestyle="-" if scheme0 == "oos-train" else ":")
        for row in result["rows"]:
            ax.scatter(100 * row["oos_recall"], 100 * row["inscope_acc"], marker=MARKERS[row["scheme"]],
                       color=colour, s=70, edgecolors="black", linewidths=0.6, zorder=4,
                       label=f"{result['label']} · {row['scheme']}")
    ax.scatter([], [], marker="o", color=COLOURS["paper"], label="Larson et al. 2019 · oos-train")
    ax.scatter([], [], marker="s", color=COLOURS["paper"], label="Larson et al. 2019 · oos-threshold")
    ax.set_xlabel("out-of-scope recall on test (%)")
    ax.set_ylabel("in-scope accuracy on test (%)")
    ax.set_title("CLINC150 data_full: in-scope accuracy vs out-of-scope recall\n"
                 "(lines: our models over thresholds 0–1; solid oos-train, dotted oos-threshold)", fontsize=10)
    ax.set_xlim(0, 100)
    low = min([100 * r["inscope_acc"] for r in data["paper"]] +
              [100 * row["inscope_acc"] for res in data["results"] for row in res["rows"]] + [85.0])
    ax.set_ylim(max(0.0, low - 2), 100)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="lower left")
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path
