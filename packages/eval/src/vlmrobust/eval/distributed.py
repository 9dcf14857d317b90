"""The ranks of an evaluation job (``torchrun``, ``fabric run``, ``srun``), or one process.

Evaluation needs only three collectives, all on Python objects: broadcast a plan from rank 0, gather rows
to rank 0, and a barrier. With ``WORLD_SIZE`` > 1 in the environment the default process group is
initialised from it (NCCL on CUDA, else gloo); without, every call is the identity.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import torch


@dataclass(frozen=True)
class Ranks:
    """This process's place in the job.

    Attributes:
        rank: global rank.
        world: number of processes.
        local_rank: rank on this node (selects the GPU).
    """

    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @classmethod
    def from_env(cls) -> Ranks:
        """Read ``RANK``/``WORLD_SIZE``/``LOCAL_RANK``; initialise the process group when world > 1."""
        world = int(os.environ.get("WORLD_SIZE", "1"))
        if world <= 1:
            return cls()
        import torch.distributed as dist

        if not dist.is_initialized():
            dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
        return cls(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", "0")))

    @property
    def is_main(self) -> bool:
        """Whether this is global rank 0 (the only writer of the results store)."""
        return self.rank == 0

    def device(self, name: str) -> torch.device:
        """``cuda`` becomes this rank's local GPU; anything else is taken as given."""
        if name == "cuda" and self.world > 1:
            return torch.device("cuda", self.local_rank)
        return torch.device(name)

    def broadcast(self, value: Any) -> Any:
        """Rank 0's ``value`` on every rank."""
        if self.world == 1:
            return value
        import torch.distributed as dist

        box = [value]
        dist.broadcast_object_list(box, src=0)
        return box[0]

    def gather(self, rows: list[Any]) -> list[Any]:
        """Every rank's ``rows`` concatenated in rank order on rank 0 (``[]`` elsewhere)."""
        if self.world == 1:
            return rows
        import torch.distributed as dist

        out: list[list[Any]] | None = [None] * self.world if self.is_main else None  # type: ignore[list-item]
        dist.gather_object(rows, out, dst=0)
        return [r for part in out for r in part] if out is not None else []

    def barrier(self) -> None:
        """Wait for every rank."""
        if self.world > 1:
            import torch.distributed as dist

            dist.barrier()
