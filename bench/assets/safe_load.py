"""Reading tensors from files a user or a download supplies, without running code from them.

Pickle (and so a full, not weights-only, ``torch.load``) runs whatever callable a file names, and
``torch.jit.load`` runs the TorchScript code an archive carries. Every checkpoint the bench
reads goes through here instead:

* ``load_torch``: ``torch.load(weights_only=True)``: tensors, containers and plain values;
* ``read_torchscript_state``: the tensors of a TorchScript archive (OpenAI's CLIP release
  files) by a restricted unpickler that builds tensors from the archive's storages and
  turns every scripted object into a plain record; no callable from the file is invoked.

Both raise ``BenchError`` naming the file on anything else.
"""

from __future__ import annotations

import io
import pickle
import re
import zipfile
from collections import OrderedDict
from pathlib import Path

from bench.errors import BenchError


class CheckpointError(BenchError):
    """A checkpoint that cannot be read safely (foreign, damaged or holding code)."""


def load_torch(source: str | Path | bytes, what: str = "checkpoint"):
    """``torch.load(weights_only=True)`` of a path or of bytes (the caller names the file
    then); ``CheckpointError`` saying what is wrong."""
    import torch

    where = "" if isinstance(source, bytes) else f" {source}"
    # torch.load hands a TorchScript archive to torch.jit.load, which runs its code: never let it.
    if is_torchscript(io.BytesIO(source) if isinstance(source, bytes) else source):
        raise CheckpointError(f"{what}{where} is a TorchScript archive, not a file saved with torch.save")
    try:
        return torch.load(io.BytesIO(source) if isinstance(source, bytes) else source, map_location="cpu",
                          weights_only=True)
    except FileNotFoundError:
        raise CheckpointError(f"{what} not found:{where}") from None
    except pickle.UnpicklingError as exc:
        # The weights-only unpickler names the global it refused; nothing was imported or run.
        named = re.search(r"GLOBAL ([\w.]+)", str(exc))
        refused = f"it names {named.group(1)}" if named else "refused by the weights-only unpickler"
        raise CheckpointError(f"{what}{where} holds more than tensors and plain values ({refused}); "
                              "it is not loaded because that could run code: re-save its state dict") from None
    except Exception as exc:  # a truncated or foreign file
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise CheckpointError(f"cannot read {what}{where}: {first}") from None


def load_state_dict_file(path: str | Path, what: str = "checkpoint") -> dict:
    """The tensors of a weights file: a TorchScript archive's state, or a torch.save'd state
    dict (unwrapped from ``{"state_dict": ...}`` and a DataParallel ``module.`` prefix)."""
    if is_torchscript(path):
        return read_torchscript_state(path)
    loaded = load_torch(path, what)
    state = loaded.get("state_dict", loaded) if isinstance(loaded, dict) else loaded
    if not isinstance(state, dict):
        raise CheckpointError(f"{path} holds no state dict")
    return {k.removeprefix("module."): v for k, v in state.items()}


def read_openai_clip_state(path: str | Path) -> dict:
    """The state dict of an OpenAI CLIP release file (a TorchScript archive), as its
    ``state_dict()`` gives it: the causal ``attn_mask`` of the text blocks is a plain
    attribute in OpenAI's code, not state, and is left out should the archive not say so."""
    return {k: v for k, v in read_torchscript_state(path).items() if not k.endswith("attn_mask")}


def is_torchscript(path: str | Path | io.BytesIO) -> bool:
    """True for a TorchScript archive (a zip holding ``constants.pkl``)."""
    try:
        with zipfile.ZipFile(path) as zf:
            return any(name.endswith("constants.pkl") for name in zf.namelist())
    except (zipfile.BadZipFile, OSError):
        return False


def read_torchscript_state(path: str | Path) -> dict:
    """``{dotted.name: tensor}``: what TorchScript loading then ``.state_dict()`` returns (the
    parameters and buffers of the module tree), read without compiling or running the
    archive's code: its class files are only scanned for their member declarations."""
    try:
        with zipfile.ZipFile(path) as zf:
            names = zf.namelist()
            data_pkl = next((n for n in names if n.endswith("/data.pkl") or n == "data.pkl"), None)
            if data_pkl is None:
                raise CheckpointError(f"{path} is not a TorchScript archive (no data.pkl)")
            prefix = data_pkl[: -len("data.pkl")]
            root = _ScriptUnpickler(io.BytesIO(zf.read(data_pkl)), zf, prefix, path).load()
            members = _declared_members(zf, prefix)
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise CheckpointError(f"cannot read TorchScript archive {path}: {exc}") from None
    except pickle.UnpicklingError as exc:
        raise CheckpointError(f"{path}: {exc}") from None
    if not isinstance(root, _ScriptObject):
        raise CheckpointError(f"{path} is not a TorchScript module archive")
    state: dict = OrderedDict()
    _collect(root, "", state, members)
    if not state:
        raise CheckpointError(f"{path} holds no tensors")
    return state


# In each class file of an archive's code/ folder: "class Name(Module):" then its
# "__parameters__ = [...]" and "__buffers__ = [...]" lines.
# (Archives without a "__buffers__" line keep every tensor attribute of that class.)
_CLASS_RE = re.compile(r"^class (\w+)\(Module\):\n  __parameters__ = \[(.*?)\]\n(?:  __buffers__ = \[(.*?)\])?",
                       re.MULTILINE)


def _declared_members(zf: zipfile.ZipFile, prefix: str) -> dict[str, set[str]]:
    """{qualified class name: its parameter and buffer names}, parsed as text."""
    members = {}
    code = f"{prefix}code/"
    for name in zf.namelist():
        if not (name.startswith(code) and name.endswith(".py")):
            continue
        module = name[len(code):-len(".py")].replace("/", ".")
        for match in _CLASS_RE.finditer(zf.read(name).decode("utf-8", "replace")):
            cls, params, buffers = match.groups()
            if buffers is not None:
                members[f"{module}.{cls}"] = set(re.findall(r'"([^"]+)"', params + buffers))
    return members


class _ScriptObject:
    """Stand-in for a scripted module or class: keeps its attributes, runs nothing."""

    qualname = ""

    def __init__(self, *args):
        self.attributes = {}

    def __setstate__(self, state):
        self.attributes = state if isinstance(state, dict) else {}


def _collect(obj, prefix: str, state: dict, members: dict) -> None:
    import torch

    declared = members.get(obj.qualname)
    for key, value in obj.attributes.items():
        if isinstance(value, torch.Tensor) and (declared is None or key in declared):
            state[f"{prefix}{key}"] = value
        elif isinstance(value, _ScriptObject):
            _collect(value, f"{prefix}{key}.", state, members)


def _identity(value, *_):
    return value


class _ScriptUnpickler(pickle.Unpickler):
    """Resolves only tensor rebuilding, OrderedDict and TorchScript's list tags; any other
    global in the file is an error, and scripted classes become inert records."""

    def __init__(self, file, zf: zipfile.ZipFile, prefix: str, path):
        super().__init__(file)
        self.zf, self.prefix, self.path = zf, prefix, path

    def find_class(self, module, name):
        import torch

        if module == "__torch__" or module.startswith("__torch__."):
            return type(name, (_ScriptObject,), {"qualname": f"{module}.{name}"})
        if module == "torch._utils" and name in ("_rebuild_tensor_v2", "_rebuild_parameter"):
            return getattr(torch._utils, name)
        if module == "collections" and name == "OrderedDict":
            return OrderedDict
        if module == "torch.jit._pickle" and name in ("build_intlist", "build_doublelist", "build_boollist",
                                                       "build_tensorlist", "restore_type_tag"):
            return _identity
        if module == "torch":
            dtypes = {storage: dtype for dtype, storage in torch.storage._dtype_to_storage_type_map().items()}
            if name in dtypes:
                return _StorageDtype(dtypes[name])
        raise pickle.UnpicklingError(f"refused global {module}.{name}: this archive holds more than weights")

    def persistent_load(self, pid):
        import torch

        if not (isinstance(pid, tuple) and len(pid) >= 5 and pid[0] == "storage"
                and isinstance(pid[1], _StorageDtype)):
            raise pickle.UnpicklingError(f"unexpected persistent id {pid!r}")
        _, kind, key, _location, numel = pid[:5]
        raw = bytearray(self.zf.read(f"{self.prefix}data/{key}"))
        dtype = kind.dtype
        untyped = torch.frombuffer(raw, dtype=torch.uint8).untyped_storage() if raw else torch.UntypedStorage(0)
        if untyped.nbytes() != numel * torch.empty((), dtype=dtype).element_size():
            raise pickle.UnpicklingError(f"storage {key} has {untyped.nbytes()} bytes, expected {numel} elements")
        return torch.storage.TypedStorage(wrap_storage=untyped, dtype=dtype, _internal=True)


class _StorageDtype:
    def __init__(self, dtype):
        self.dtype = dtype
