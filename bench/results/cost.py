"""What a row cost and what it ran on: per-image seconds, training seconds, peak memory, and
the machine facts that decide whether a rerun is bitwise identical (BLAS, CPU, threads).

Nothing here imports torch: the accelerator's peak is read only when the run already
loaded torch (``sys.modules``), so the cheap rows stay cheap.
"""

from __future__ import annotations

import os
import platform
import re
import sys
from pathlib import Path

from bench.registry import get_method_info

MB = 1024 * 1024
ISA_FLAGS = ("sse4_2", "avx", "avx2", "fma", "avx512f", "avx512_vnni", "amx_tile", "neon", "asimd")


def peak_memory() -> dict:
    """Peak resident memory of this process (MB) and, where torch is loaded with CUDA in use,
    the peak GPU memory torch allocated (MB)."""
    out = {"peak_rss_mb": _peak_rss_mb()}
    torch = sys.modules.get("torch")
    try:
        if torch is not None and torch.cuda.is_initialized():
            out["peak_gpu_mb"] = round(torch.cuda.max_memory_allocated() / MB, 1)
    except Exception:  # a broken CUDA install costs only this figure
        pass
    return {k: v for k, v in out.items() if v is not None}


def reset_peak() -> None:
    """Start this process's peaks afresh (Linux: /proc/self/clear_refs resets VmHWM; CUDA:
    torch's counters), so that a row does not show the peak of the row run before it in the
    same process. Best effort: elsewhere the peaks are the process's since it started."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass
    torch = sys.modules.get("torch")
    try:
        if torch is not None and torch.cuda.is_initialized():
            torch.cuda.reset_peak_memory_stats()
    except Exception:
        pass


def _peak_rss_mb() -> float | None:
    try:  # VmHWM: the peak resident set since the last reset_peak
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except (OSError, ValueError, IndexError):
        pass
    try:
        import resource
    except ImportError:  # Windows: psutil's peak working set, where psutil is installed
        try:
            import psutil
        except ImportError:
            return None
        peak = getattr(psutil.Process().memory_info(), "peak_wset", None)
        return round(peak / MB, 1) if peak else None
    kilobytes = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(kilobytes / (1024 if sys.platform != "darwin" else MB), 1)  # macOS reports bytes


def thread_count() -> dict:
    """Threads the numeric libraries may use: torch's intra-op threads (when loaded), the CPUs
    this process may run on, and the machine's."""
    out = {"cpu_count": os.cpu_count()}
    if hasattr(os, "sched_getaffinity"):
        out["affinity"] = len(os.sched_getaffinity(0))
    torch = sys.modules.get("torch")
    if torch is not None:
        out["torch"] = torch.get_num_threads()
    return out


def compute_threads() -> dict:
    """The threads this process computes with: ``pid`` (to count the processes that did),
    torch's intra-op threads (when loaded) and each BLAS/OpenMP pool's (threadpoolctl)."""
    out = {"pid": os.getpid()}
    torch = sys.modules.get("torch")
    if torch is not None:
        out["torch"] = torch.get_num_threads()
    for info in blas_info():
        out.setdefault(info["internal_api"], info.get("num_threads"))
    return out


def cpu_model() -> str:
    """The CPU's model name (/proc/cpuinfo on Linux, else platform's)."""
    for line in _cpuinfo().splitlines():
        if line.lower().startswith(("model name", "hardware")):
            return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def isa_flags() -> list[str]:
    """The vector instruction sets among ISA_FLAGS the CPU reports (Linux), e.g. avx2, avx512f:
    BLAS and torch pick kernels by them, so they decide low-order bits."""
    for line in _cpuinfo().splitlines():
        if line.lower().startswith(("flags", "features")):
            present = set(line.split(":", 1)[1].split())
            return [flag for flag in ISA_FLAGS if flag in present]
    return []


def _cpuinfo() -> str:
    try:
        return Path("/proc/cpuinfo").read_text(errors="replace")
    except OSError:
        return ""


def blas_info() -> list[dict]:
    """The BLAS/OpenMP libraries loaded and their versions and threads (threadpoolctl, when
    installed); ``library`` names the file and the package folder that shipped it (numpy and
    scipy each bring an OpenBLAS, of different versions)."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return []
    keys = ("internal_api", "version", "num_threads", "threading_layer", "architecture")
    return [{**{k: info[k] for k in keys if info.get(k) is not None}, **_library(info.get("filepath"))}
            for info in threadpool_info()]


def _library(filepath: str | None) -> dict:
    """The library's path inside site-packages (e.g. ``torch/lib/libgomp.so.1``), else its folder and name."""
    parts = Path(filepath or "").parts
    if not parts:
        return {}
    inside = parts[len(parts) - parts[::-1].index("site-packages"):] if "site-packages" in parts else parts[-2:]
    return {"library": "/".join(inside)}


def torch_build() -> dict:
    """Where the process loaded torch: what picks its CPU kernels, which threadpoolctl does not
    see (torch links its BLAS statically): the instruction set it dispatches to
    (``cpu_capability``), its BLAS and LAPACK, the MKL and oneDNN builds, its inter-op threads."""
    torch = sys.modules.get("torch")
    if torch is None:
        return {}
    out = {}
    try:
        out["cpu_capability"] = torch.backends.cpu.get_cpu_capability()
        shown = torch.__config__.show()
        out["interop_threads"] = torch.get_num_interop_threads()
    except Exception:  # a torch without these costs only these facts
        return out
    for key, pattern in (("blas", r"\bBLAS_INFO=(\w+)"), ("lapack", r"\bLAPACK_INFO=(\w+)"),
                         ("mkl", r"Math Kernel Library Version (\S+)"), ("onednn", r"MKL-DNN (v[\w.]+)")):
        found = re.search(pattern, shown)
        if found:
            out[key] = found.group(1)
    return out


def machine() -> dict:
    """What decides bitwise reproducibility besides the code and the package versions."""
    out = {"platform": platform.platform(), "cpu": cpu_model(), "isa": isa_flags(),
           "threads": thread_count(), "blas": blas_info()}
    torch = torch_build()
    return {**out, "torch": torch} if torch else out


def row_cost(manifest, peak: dict | None = None) -> dict:
    """The manifest's ``cost``: seconds per image (feature extraction when the row computed
    features, else prediction), training seconds per split and per epoch (trained rows), peak
    memory (the run's, and the largest any split's worker reported), device, threads, image size."""
    splits = list(manifest.splits.values())
    features = manifest.features or {}
    cost: dict = {}
    if features.get("computed") and features.get("seconds"):
        cost["seconds_per_image"] = round(features["seconds"] / features["computed"], 6)
        cost["measured_on"] = "features"
    else:
        timed = [s for s in splits if s.predict_s is not None and s.n_test]
        if timed:
            cost["seconds_per_image"] = round(sum(s.predict_s for s in timed) / sum(s.n_test for s in timed), 6)
            cost["measured_on"] = "prediction"
    if manifest.features and cost.get("measured_on") != "features":
        previous = manifest.cost or {}
        if previous.get("measured_on") == "features":  # features cached by an earlier run: keep its figure
            cost.update({k: previous[k] for k in ("seconds_per_image", "measured_on")})
    trained = [s for s in splits if s.fit_s is not None]
    if trained and _trains(manifest):
        cost["train_s_per_split"] = round(sum(s.fit_s for s in trained) / len(trained), 3)
        epochs = [(s.fit_s, _epochs(s.report)) for s in trained]
        epochs = [(seconds, n) for seconds, n in epochs if n]
        if epochs:
            cost["train_s_per_epoch"] = round(sum(s for s, _ in epochs) / sum(n for _, n in epochs), 3)
    peaks = [s.peak or {} for s in splits] + [manifest.cost or {}, peak or {}]
    for key in ("peak_rss_mb", "peak_gpu_mb"):
        values = [p[key] for p in peaks if p.get(key) is not None]
        if values:
            cost[key] = max(values)
    cost["device"] = manifest.device or manifest.config.get("device") or "cpu"
    cost["threads"] = thread_count()
    if manifest.config.get("image_size") is not None:
        cost["image_size"] = manifest.config["image_size"]
    return cost


def _trains(manifest) -> bool:
    """A row whose method trains per split (a training-free row's "fit" only stores targets)."""
    try:
        return get_method_info(manifest.method).trains
    except Exception:  # a plugin no longer installed: judge by its splits' training reports
        return any(_epochs(s.report) for s in manifest.splits.values())


def _epochs(report: dict | None) -> int:
    """Epochs a split trained: its training report's loss list, or the sum over its models."""
    report = report or {}
    if isinstance(report.get("epoch_loss"), list):  # a model's last stage, and its earlier stages (DBCNN's)
        own = len(report["epoch_loss"]) - int(report.get("resumed_at_epoch") or 0)
        return own + sum(_epochs(s) for s in (report.get("stages") or {}).values() if isinstance(s, dict))
    return sum(_epochs(m) for m in (report.get("models") or {}).values() if isinstance(m, dict))
