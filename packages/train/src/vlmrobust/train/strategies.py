"""FSDP2 (``torch.distributed.fsdp.fully_shard``) for every recipe, via Lightning's ``ModelParallelStrategy``.

``--trainer.strategy vlmrobust.train.strategies.FSDP2Strategy`` shards any LightningModule of this repo
without the module implementing ``configure_model``: the strategy finds the transformer blocks
(:func:`find_blocks`), shards each, then the LightningModule itself as the FSDP root, and routes every
``*_step`` call through the root's ``__call__`` so FSDP's hooks all-gather the root's own parameters
(embeddings, projections, final norms) for the step. It runs on CPU with gloo (``accelerator="cpu"``,
``process_group_backend="gloo"``) as on CUDA with NCCL.

Block rule (:func:`find_blocks`), applied top-down, never descending into a block once found:

- every open_clip ``ResidualAttentionBlock`` / ``CustomResidualAttentionBlock``, wherever it sits;
- every child of an ``nn.ModuleList`` or ``nn.Sequential`` whose children are all of one class and are each a
  module with submodules and parameters (``resblocks``, ``layers``, ``h``, ``blocks`` of open_clip, Hugging
  Face and timm models; a ``Sequential(Linear, GELU, Linear)`` or a list of bare ``Linear`` layers is not).

FSDP2 cannot shard 0-dim parameters (open_clip's ``logit_scale``): :func:`shard_blocks` re-registers each as a
``[1]`` parameter (same value and name), sharded, cast and reduced like every other one (``x.exp()``,
``x * features``, ``clamp_`` broadcast alike). Consolidated checkpoints of ``FSDP2Strategy`` get the 0-dim
shapes back (model and optimizer states), so they match a single-process/DDP checkpoint exactly, and are
reshaped again on load; sharded checkpoint folders keep ``[1]`` (they load into FSDP2 only, like any sharded
one).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import lightning.pytorch as pl
import torch
import torch.distributed as dist
from lightning.fabric.plugins.collectives.torch_collective import default_pg_timeout
from lightning.fabric.utilities.init import _materialize_distributed_module
from lightning.fabric.utilities.optimizer import _optimizers_to_device
from lightning.pytorch.strategies import ModelParallelStrategy, StrategyRegistry
from lightning.pytorch.trainer.states import TrainerFn
from lightning.pytorch.utilities.rank_zero import rank_zero_warn
from torch import nn
from torch.distributed.algorithms._checkpoint.checkpoint_wrapper import CheckpointWrapper, checkpoint_wrapper
from torch.distributed.checkpoint.state_dict import (
    StateDictOptions,
    get_model_state_dict,
    get_optimizer_state_dict,
    set_model_state_dict,
    set_optimizer_state_dict,
)
from torch.distributed.fsdp import FSDPModule, FullyShardedDataParallel, MixedPrecisionPolicy, fully_shard

if TYPE_CHECKING:
    from torch.distributed.device_mesh import DeviceMesh

MixedPrecision = Literal["fp32", "bf16"]

__all__ = ["FSDP2Strategy", "find_blocks", "shard_blocks"]


# --- block detection --------------------------------------------------------------------------------------
def _known_block_types() -> tuple[type[nn.Module], ...]:
    """open_clip's transformer block classes (empty when open_clip is not installed)."""
    try:
        from open_clip import transformer
    except ImportError:  # pragma: no cover - open_clip is a dependency of vlmrobust-models
        return ()
    names = ("ResidualAttentionBlock", "CustomResidualAttentionBlock")
    return tuple(getattr(transformer, n) for n in names if hasattr(transformer, n))


def _is_composite_with_params(module: nn.Module) -> bool:
    return next(module.children(), None) is not None and next(module.parameters(), None) is not None


def _is_block_stack(module: nn.Module) -> bool:
    """An ``nn.ModuleList``/``nn.Sequential`` of same-class modules, each with submodules and parameters."""
    if not isinstance(module, (nn.ModuleList, nn.Sequential)) or len(module) == 0:
        return False
    children = list(module.children())
    return len({type(c) for c in children}) == 1 and all(_is_composite_with_params(c) for c in children)


def _block_slots(module: nn.Module) -> Iterator[tuple[nn.Module, str, nn.Module]]:
    """``(parent, attribute name, block)`` of every block under ``module`` (rule: the module docstring)."""
    known = _known_block_types()
    for name, child in module.named_children():
        if _is_block_stack(child):
            for index, block in child.named_children():
                yield child, index, block
        elif known and isinstance(child, known):
            yield module, name, child
        else:
            yield from _block_slots(child)


def find_blocks(module: nn.Module) -> list[nn.Module]:
    """The transformer blocks of ``module`` that :func:`shard_blocks` shards, in registration order.

    Args:
        module: any ``nn.Module`` (a LightningModule, an open_clip model, a Hugging Face model …).

    Returns:
        Every open_clip residual attention block, and every child of an ``nn.ModuleList``/``nn.Sequential``
        whose children are all one class with submodules and parameters; blocks are not searched inside.
    """
    return [block for _, _, block in _block_slots(module)]


# --- sharding ---------------------------------------------------------------------------------------------
def _mp_policy(mixed_precision: MixedPrecision) -> MixedPrecisionPolicy:
    if mixed_precision == "bf16":
        return MixedPrecisionPolicy(param_dtype=torch.bfloat16, reduce_dtype=torch.float32)
    if mixed_precision == "fp32":
        return MixedPrecisionPolicy()  # the default: no casts
    raise ValueError(f"unknown mixed_precision {mixed_precision!r}; valid: 'fp32', 'bf16'")


SCALARS_ATTR = "_fsdp2_unsqueezed_scalars"  # names of the 0-dim parameters shard_blocks made [1]-shaped


def _unsqueeze_scalar_params(module: nn.Module) -> tuple[str, ...]:
    """Re-register every 0-dim parameter of ``module`` as a ``[1]`` parameter under the same name (a parameter
    shared by several modules stays shared); return their state-dict names."""
    names: list[str] = []
    replaced: dict[int, nn.Parameter] = {}
    for owner_name, owner in module.named_modules():
        for name, param in list(owner.named_parameters(recurse=False)):
            if param.ndim != 0:
                continue
            if id(param) not in replaced:
                replaced[id(param)] = nn.Parameter(
                    param.detach().reshape(1), requires_grad=param.requires_grad
                )
            owner.register_parameter(name, replaced[id(param)])
            names.append(f"{owner_name}.{name}" if owner_name else name)
    return tuple(names)


def shard_blocks(
    module: nn.Module,
    mesh: DeviceMesh,
    *,
    mixed_precision: MixedPrecision = "bf16",
    activation_checkpointing: bool = False,
    reshard_after_forward: bool = True,
    allow_no_blocks: bool = False,
) -> nn.Module:
    """Apply FSDP2 to every transformer block of ``module`` (see :func:`find_blocks`), then to ``module``.

    Each block becomes its own FSDP group (one all-gather / reduce-scatter per block); ``module`` itself is
    sharded last and holds what no block holds (embeddings, projections, final norms). 0-dim parameters,
    which FSDP2 cannot shard, become ``[1]`` parameters first (their names are kept in the module attribute
    ``_fsdp2_unsqueezed_scalars``; see the module docstring).

    Args:
        module: the module to shard in place (a LightningModule or any ``nn.Module``).
        mesh: the data-parallel device mesh (1-D: FSDP; 2-D: HSDP).
        mixed_precision: ``bf16`` all-gathers and computes in bfloat16 and reduces gradients in float32
            (``MixedPrecisionPolicy(param_dtype=bfloat16, reduce_dtype=float32)``); ``fp32`` casts nothing.
        activation_checkpointing: wrap each block in ``checkpoint_wrapper`` (non-reentrant) before sharding,
            recomputing its activations in backward; state-dict keys are unchanged.
        reshard_after_forward: free each block's gathered parameters after its forward (re-gathered in
            backward); ``False`` keeps them until backward (more memory, fewer all-gathers). The root keeps
            FSDP's default (not resharded, as it is needed first in backward).
        allow_no_blocks: shard a module without blocks as one FSDP group instead of raising.

    Returns:
        ``module``, now an ``FSDPModule``.

    Raises:
        ValueError: if ``module`` has no transformer blocks (unless ``allow_no_blocks``) or is already
            (partly) sharded with FSDP2.
    """
    name = type(module).__name__
    if any(isinstance(m, FSDPModule) for m in module.modules()):
        raise ValueError(f"{name} already has FSDP2-sharded modules; shard_blocks applies fully_shard itself")
    slots = list(_block_slots(module))
    if not slots and not allow_no_blocks:
        raise ValueError(
            f"shard_blocks found no transformer blocks in {name}: expected open_clip ResidualAttentionBlock "
            "modules, or an nn.ModuleList/nn.Sequential of same-class modules with parameters (such as "
            "`resblocks`, `layers`, `h`, `blocks`)"
        )
    policy = _mp_policy(mixed_precision)
    scalars = _unsqueeze_scalar_params(module)  # before wrapping blocks: names without wrapper prefixes
    for parent, attr, block in slots:
        if activation_checkpointing and not isinstance(block, CheckpointWrapper):
            block = checkpoint_wrapper(block)
            setattr(parent, attr, block)  # ModuleList/Sequential children are named "0", "1", …
        fully_shard(block, mesh=mesh, reshard_after_forward=reshard_after_forward, mp_policy=policy)
    fully_shard(module, mesh=mesh, mp_policy=policy)
    setattr(module, SCALARS_ATTR, scalars)
    return module


def _broadcast_module_state(module: nn.Module, device: torch.device, src: int = 0) -> None:
    """Copy rank ``src``'s parameters and buffers to every rank (what DDP does at wrap time), one tensor at a
    time through ``device`` (NCCL needs device tensors); meta tensors (materialised later) are skipped."""
    with torch.no_grad():
        for tensor in [*module.parameters(), *module.buffers()]:
            if tensor.is_meta:
                continue
            staged = tensor.detach().to(device)
            dist.broadcast(staged, src=src)
            if staged.data_ptr() != tensor.data_ptr():
                tensor.copy_(staged)


# --- consolidated checkpoints: original 0-dim shapes, torch.optim's own parameter ids ---------------------
_WRAPPER_PREFIX = "_checkpoint_wrapped_module."


def _param_names_in_optimizer_order(model: nn.Module, optimizer: torch.optim.Optimizer) -> list[str]:
    """State-dict names of ``optimizer``'s parameters in the order ``Optimizer.state_dict()`` numbers them
    (param group by param group)."""
    names = {id(p): n.replace(_WRAPPER_PREFIX, "") for n, p in model.named_parameters()}
    return [names[id(p)] for group in optimizer.param_groups for p in group["params"]]


def _reshape_entries(state: dict[str, Any], names: tuple[str, ...], shape: tuple[int, ...]) -> None:
    """Reshape, in place, the 1-element tensors of ``state`` under ``names`` (one per-parameter state each)
    to ``shape``; 0-dim tensors that are not per-element states (Adam's ``step``) stay as they are."""
    for name in names:
        entry = state.get(name)
        if isinstance(entry, torch.Tensor):
            state[name] = entry.reshape(shape)
        elif isinstance(entry, dict):
            for key, value in entry.items():
                if isinstance(value, torch.Tensor) and value.numel() == 1 and key != "step":
                    entry[key] = value.reshape(shape)


def _optimizer_state_by_ids(osd: dict[str, Any], scalars: tuple[str, ...]) -> dict[str, Any]:
    """A full optimizer state dict keyed by parameter names -> torch.optim's layout (integer ids numbered
    along the param groups), with the 0-dim parameters' states back to 0-dim."""
    _reshape_entries(osd["state"], scalars, ())
    ids: dict[str, int] = {}
    groups = [
        {**g, "params": [ids.setdefault(n, len(ids)) for n in g["params"]]} for g in osd["param_groups"]
    ]
    return {"state": {ids[n]: v for n, v in osd["state"].items()}, "param_groups": groups}


def _optimizer_state_by_names(
    osd: dict[str, Any], names: list[str], scalars: tuple[str, ...]
) -> dict[str, Any]:
    """Inverse of :func:`_optimizer_state_by_ids` for an optimizer whose parameters are ``names``, in order."""
    saved = sum(len(g["params"]) for g in osd["param_groups"])
    if saved != len(names):
        raise ValueError(
            f"the checkpoint's optimizer has {saved} parameters, the configured one {len(names)}"
        )
    state = {names[i]: dict(v) for i, v in osd["state"].items()}
    _reshape_entries(state, scalars, (1,))
    groups = [{**g, "params": [names[i] for i in g["params"]]} for g in osd["param_groups"]]
    return {"state": state, "param_groups": groups}


# --- strategy ---------------------------------------------------------------------------------------------
class FSDP2Strategy(ModelParallelStrategy):
    """FSDP2 for any LightningModule: shards its transformer blocks and itself over the data-parallel mesh.

    Lightning's ``ModelParallelStrategy`` requires the LightningModule to implement ``configure_model`` and
    shard itself there. This subclass shards the module with :func:`shard_blocks` in ``setup`` when the module
    has not sharded itself (no ``FSDPModule`` in it after ``configure_model``), so every recipe of this repo
    runs unchanged, and calls ``training_step``/``validation_step``/``test_step``/``predict_step`` through
    the root's ``forward`` so that FSDP all-gathers the root's parameters for each step. During validation,
    test and predict the root's parameters stay gathered from the strategy's ``on_*_start`` to ``on_*_end``,
    so epoch-level hooks (zero-shot heads built from the text tower) see them; during training they are
    gathered only inside the training step (hooks between steps see the local shards, as ``DTensor`` s).

    Checkpoints: ``save_distributed_checkpoint=True`` writes a folder of per-rank shards (torch distributed
    checkpoint) plus Lightning's metadata file; ``False`` gathers a single ``.ckpt`` on rank 0 whose state
    dict has the keys and shapes of the unsharded module (loadable with ``weights_only=True``). Both resume
    with ``ckpt_path``.

    Args:
        mixed_precision: ``bf16``: gather and compute in bfloat16, reduce in float32; ``fp32``: no casts.
        activation_checkpointing: recompute each transformer block's activations in backward (less memory).
        reshard_after_forward: free each block's gathered parameters after forward (re-gathered in backward).
        sync_module_states: broadcast rank 0's parameters and buffers before sharding (as DDP does).
        data_parallel_size: ranks sharding the model (``auto``: world size // ``tensor_parallel_size``).
        tensor_parallel_size: the mesh's ``tensor_parallel`` size; 1 unless ``configure_model`` applies TP.
        save_distributed_checkpoint: write sharded checkpoint folders (``False``: one consolidated file).
        process_group_backend: ``gloo`` or ``nccl`` (``None``: gloo on CPU, NCCL on CUDA).
        timeout: timeout of collective operations.
    """

    def __init__(
        self,
        mixed_precision: MixedPrecision = "bf16",
        activation_checkpointing: bool = False,
        reshard_after_forward: bool = True,
        sync_module_states: bool = True,
        data_parallel_size: Literal["auto"] | int = "auto",
        tensor_parallel_size: int = 1,
        save_distributed_checkpoint: bool = True,
        process_group_backend: str | None = None,
        timeout: timedelta | None = default_pg_timeout,
    ) -> None:
        _mp_policy(mixed_precision)  # validate early, with the accepted values in the error
        super().__init__(
            data_parallel_size=data_parallel_size,
            tensor_parallel_size=tensor_parallel_size,
            save_distributed_checkpoint=save_distributed_checkpoint,
            process_group_backend=process_group_backend,
            timeout=timeout,
        )
        self.mixed_precision: MixedPrecision = mixed_precision
        self.activation_checkpointing = activation_checkpointing
        self.reshard_after_forward = reshard_after_forward
        self.sync_module_states = sync_module_states
        self._root_gathered = False

    # --- environment ---------------------------------------------------------------------------------
    def setup_environment(self) -> None:
        # ModelParallelStrategy's "auto": data parallel over nodes, tensor parallel inside one. Here: FSDP over all.
        if self._data_parallel_size == "auto":
            world = self.num_nodes * self.num_processes
            tp = int(self._tensor_parallel_size)
            if world % tp:
                raise ValueError(f"tensor_parallel_size={tp} does not divide the world size ({world})")
            self._data_parallel_size = world // tp
        super().setup_environment()

    # --- setup: shard instead of requiring configure_model -------------------------------------------
    def setup(self, trainer: pl.Trainer) -> None:
        """Shard the module (unless its ``configure_model`` did), then what ``ModelParallelStrategy.setup``
        does after ``configure_model``: materialise meta tensors, move to the device, build optimizers."""
        assert self.model is not None and self.accelerator is not None
        self.accelerator.setup(trainer)
        if any(isinstance(m, FullyShardedDataParallel) for m in self.model.modules()):
            raise TypeError(
                f"{type(self).__name__} is FSDP2 (fully_shard); found FSDP1 FullyShardedDataParallel"
            )
        if not any(isinstance(m, FSDPModule) for m in self.model.modules()):
            if self.sync_module_states:
                _broadcast_module_state(self.model, self.root_device)
            if not find_blocks(self.model):  # e.g. a linear probe: FSDP2 still works, as a single group
                rank_zero_warn(
                    f"{type(self).__name__}: {type(self.model).__name__} has no transformer blocks; it is "
                    "sharded as one FSDP group (all its parameters gathered at once)"
                )
            shard_blocks(
                self.model,
                self.device_mesh["data_parallel"],
                mixed_precision=self.mixed_precision,
                activation_checkpointing=self.activation_checkpointing,
                reshard_after_forward=self.reshard_after_forward,
                allow_no_blocks=True,
            )
        _materialize_distributed_module(self.model, self.root_device)
        self.model = self.precision_plugin.convert_module(self.model)
        self.model_to_device()
        self.barrier()
        fitting = trainer.state.fn == TrainerFn.FITTING
        if fitting:
            self.setup_optimizers(trainer)
        self.setup_precision_plugin()
        if fitting:
            _optimizers_to_device(self.optimizers, self.root_device)
        self._init_root()

    def _root_is_sharded(self) -> bool:
        return isinstance(self.model, FSDPModule)

    def _init_root(self) -> None:
        """Run one empty forward through the root so FSDP's lazy init makes the LightningModule the root (a
        block reached first from a hook outside any step would otherwise claim it); then reshard the root."""
        if not self._root_is_sharded():
            return
        module = self.model
        module.forward = lambda *args, **kwargs: None  # an instance attribute shadows the class's forward
        try:
            with torch.no_grad():
                module()
        finally:
            del module.forward
        module.reshard()

    # --- steps through the root's forward (FSDP's hooks) ---------------------------------------------
    def _through_root(self, method: str, context: Any, *args: Any, **kwargs: Any) -> Any:
        assert self.lightning_module is not None and self.model is not None
        with context:
            if self._root_is_sharded():
                return self._forward_redirection(self.model, self.lightning_module, method, *args, **kwargs)
            return getattr(self.lightning_module, method)(*args, **kwargs)

    def training_step(self, *args: Any, **kwargs: Any) -> Any:
        return self._through_root(
            "training_step", self.precision_plugin.train_step_context(), *args, **kwargs
        )

    def validation_step(self, *args: Any, **kwargs: Any) -> Any:
        context = self.precision_plugin.val_step_context()
        return self._through_root("validation_step", context, *args, **kwargs)

    def test_step(self, *args: Any, **kwargs: Any) -> Any:
        return self._through_root("test_step", self.precision_plugin.test_step_context(), *args, **kwargs)

    def predict_step(self, *args: Any, **kwargs: Any) -> Any:
        context = self.precision_plugin.predict_step_context()
        return self._through_root("predict_step", context, *args, **kwargs)

    # --- checkpoints -------------------------------------------------------------------------------------
    def _scalar_names(self) -> tuple[str, ...]:
        return tuple(getattr(self.model, SCALARS_ATTR, ()))

    def lightning_module_state_dict(self) -> dict[str, Any]:
        """Sharded: this rank's ``DTensor`` shards. Consolidated: the full state dict on rank 0 (empty
        elsewhere), with the keys and shapes of the unsharded module."""
        state = super().lightning_module_state_dict()
        if not self._save_distributed_checkpoint:
            _reshape_entries(state, self._scalar_names(), ())
        return state

    def optimizer_state(self, optimizer: torch.optim.Optimizer) -> dict[str, Any]:
        """Sharded: this rank's optimizer shards keyed by parameter name. Consolidated (rank 0): the layout of
        ``torch.optim.Optimizer.state_dict()`` on the unsharded module (ids along the param groups, as a
        single-process or DDP checkpoint has; Lightning numbers them in ``model.parameters()`` order)."""
        if self._save_distributed_checkpoint:
            return super().optimizer_state(optimizer)
        optimizer = getattr(optimizer, "_optimizer", optimizer)  # a LightningOptimizer wraps it
        options = StateDictOptions(full_state_dict=True, cpu_offload=True)
        osd = get_optimizer_state_dict(self.model, optimizer, options=options)
        if self.global_rank != 0 or not osd:
            return osd
        return _optimizer_state_by_ids(osd, self._scalar_names())

    def consolidated_state_dict(self) -> dict[str, torch.Tensor]:
        """The full model state dict on rank 0 (empty elsewhere), with the unsharded module's keys and shapes,
        whatever ``save_distributed_checkpoint`` is (to export weights); a collective: call it on all ranks."""
        options = StateDictOptions(full_state_dict=True, cpu_offload=True)
        state = get_model_state_dict(self.model, options=options)
        _reshape_entries(state, self._scalar_names(), ())
        return state

    def load_checkpoint(self, checkpoint_path: Any, weights_only: bool | None = None) -> dict[str, Any]:
        """Load a sharded checkpoint folder (Lightning's loader) or a full checkpoint file: a consolidated one
        of this strategy, or a single-process/DDP one (0-dim shapes and ``torch.optim`` ids)."""
        path = Path(self.broadcast(checkpoint_path))
        if not path.is_file() or not self._root_is_sharded():
            return super().load_checkpoint(path, weights_only=weights_only)
        assert self.lightning_module is not None
        checkpoint = torch.load(path, map_location="cpu", mmap=True, weights_only=weights_only)
        scalars = self._scalar_names()
        model_state = checkpoint.pop("state_dict")
        _reshape_entries(model_state, scalars, (1,))
        strict = self.lightning_module.strict_loading
        set_model_state_dict(
            self.model, model_state, options=StateDictOptions(full_state_dict=True, strict=strict)
        )
        for optimizer, osd in zip(self.optimizers, checkpoint.get("optimizer_states", []), strict=False):
            names = _param_names_in_optimizer_order(self.model, optimizer)
            osd = _optimizer_state_by_names(osd, names, scalars)
            set_optimizer_state_dict(
                self.model, optimizer, osd, options=StateDictOptions(full_state_dict=True, strict=strict)
            )
        return checkpoint

    # --- evaluation: keep the root gathered for epoch-level hooks ------------------------------------
    def _gather_root(self) -> None:
        if self._root_is_sharded() and not self._root_gathered:
            self.model.unshard()
            self._root_gathered = True

    def _release_root(self) -> None:
        if self._root_gathered:
            self.model.reshard()
            self._root_gathered = False

    # Strategy's on_*_start/end hooks run after the module's and callbacks' on_*_start, before any epoch hook.
    def on_validation_start(self) -> None:
        self._gather_root()

    def on_validation_end(self) -> None:
        self._release_root()

    def on_test_start(self) -> None:
        self._gather_root()

    def on_test_end(self) -> None:
        self._release_root()

    def on_predict_start(self) -> None:
        self._gather_root()

    def on_predict_end(self) -> None:
        self._release_root()

    def teardown(self) -> None:
        self._release_root()
        super().teardown()


# ``--trainer.strategy fsdp2``, and the bare class path (jsonargparse passes it on as a string when no
# ``--trainer.strategy.<arg>`` follows; Lightning lower-cases it), resolve once this module is imported.
for _name in ("fsdp2", f"{__name__}.{FSDP2Strategy.__name__}".lower()):
    if _name not in StrategyRegistry:
        StrategyRegistry.register(_name, FSDP2Strategy, description="FSDP2 (fully_shard) of every block")
