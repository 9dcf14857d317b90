"""What a DataModule needs for exact mid-epoch resume (``vlmrobust.data.resumable``): its state in the
checkpoint says which epoch was under way and how many of its batches were trained on."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from torch.utils.data import DataLoader, Dataset

from vlmrobust.data.resumable import ResumableSampler, SeededView


class ResumableTrainData:
    """Mixin of LightningDataModules whose ``train_dataloader`` comes from :meth:`resumable_loader`.

    ``state_dict`` (written into every checkpoint by Lightning) records the epoch under way and the batches
    of it already processed; after ``load_state_dict`` (a resumed fit), the next training loader starts that
    epoch after those batches, with the same per-item augmentations. Exact for one process; under DDP,
    Lightning's distributed sampler re-splits the keys, so a resumed epoch is not the same one.
    """

    _resume: tuple[int, int] = (0, 0)  # (epoch, batches of it consumed) of the checkpoint resumed from

    def state_dict(self) -> dict[str, Any]:
        trainer = getattr(self, "trainer", None)  # LightningDataModule.trainer, set while a Trainer runs it
        if trainer is None:
            return {}
        loop = trainer.fit_loop
        done, total = loop.epoch_loop.batch_progress.current.processed, trainer.num_training_batches
        epoch = trainer.current_epoch
        if done >= total:  # a checkpoint at the end of the epoch: the next one starts afresh
            epoch, done = epoch + 1, 0
        return {"train_epoch": int(epoch), "train_batches_done": int(done)}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        if "train_epoch" in state_dict:
            self._resume = (int(state_dict["train_epoch"]), int(state_dict["train_batches_done"]))

    def resumable_loader(
        self,
        dataset: Dataset,
        batch_size: int,
        seed: int,
        collate_fn: Callable[[list[Any]], Any] | None = None,
        **kwargs: Any,
    ) -> DataLoader:
        """A shuffled training loader over ``dataset`` that resumes where the restored checkpoint stopped."""
        epoch, done = self._resume
        self._resume = (0, 0)
        size = len(dataset)  # type: ignore[arg-type]
        skip = min(done * batch_size, size)
        sampler = ResumableSampler(size, seed, shuffle=True, epoch=epoch, skip=skip)
        return DataLoader(SeededView(dataset, seed), batch_size=batch_size, sampler=sampler,
                          collate_fn=collate_fn, **kwargs)  # fmt: skip
