"""Model files and checkpoints: safetensors + JSON, atomic writes, no pickle.

- :func:`save` / :func:`load` (also ``rg.save`` / ``rg.load``): a whole model, rebuilt from
  a registry of known layer classes (:func:`register_module` adds your own).
- :func:`save_state_dict` / :func:`load_state_dict_file`: just the weights (a plain
  safetensors file PyTorch reads), as ``{name: ndarray}``.
- :func:`save_checkpoint` / :func:`load_checkpoint` and :class:`CheckpointManager`:
  everything an exact resume needs (weights, optimizer, scheduler, RNG, your state).
- :func:`atomic_write_bytes`: the write-temp-fsync-rename helper every writer uses.

Hostile or damaged files raise :class:`retrograd.ModelFileError`. See docs/model-files.md.

Example::

    >>> import tempfile, pathlib, retrograd as rg
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "mlp.safetensors"
    >>> net = rg.nn.Sequential(rg.nn.Linear(2, 8), rg.nn.ReLU(), rg.nn.Linear(8, 1))
    >>> _ = rg.save(net, path)
    >>> x = rg.randn(4, 2)
    >>> bool((rg.load(path)(x).data == net(x).data).all())
    True
"""

from ..errors import ModelFileError
from ._common import FORMAT_VERSION
from .atomic import atomic_write_bytes, atomic_write_text, remove_stale_temporaries
from .checkpoint import CheckpointManager, latest_checkpoint, load_checkpoint, save_checkpoint
from .model import load, load_state_dict_file, save, save_state_dict
from .registry import (
    attrs,
    config_to_module,
    module_to_config,
    register_module,
    registered_modules,
    unregister_module,
)

__all__ = [
    "FORMAT_VERSION",
    "ModelFileError",
    "atomic_write_bytes",
    "atomic_write_text",
    "remove_stale_temporaries",
    "save",
    "load",
    "load_state_dict_file",
    "save_state_dict",
    "save_checkpoint",
    "load_checkpoint",
    "CheckpointManager",
    "latest_checkpoint",
    "register_module",
    "unregister_module",
    "registered_modules",
    "attrs",
    "module_to_config",
    "config_to_module",
]
