"""Training and evaluation batches read from the decoded-image cache (``bench.train.image_cache``).

The sampler, in the loading process, draws each epoch's order, flips and crop offsets from
one seeded generator, so a run's augmentations do not depend on how many loader workers
the machine gives it. Samples stay uint8 HxWx3 (a quarter of float32's bytes to copy, pin
and transfer); ``to_model_input`` turns a batch into the network's float input on the device,
with the same operations as ``ToTensor`` + ``Normalize`` (bit-identical on the CPU).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from bench.errors import BenchError
from bench.train.image_cache import ImageCache
from bench.train.loop import prompts_and_targets


class AugmentingSampler(torch.utils.data.Sampler):
    """Yields (index, flip, top, left) per sample; a new draw every epoch."""

    def __init__(self, n: int, size: int, shuffle: bool, flip: bool, crop: int | None, seed: int):
        if crop is not None and crop > size:
            raise BenchError(f"train crop {crop} is larger than the image size {size}")
        self.n, self.size, self.shuffle, self.flip, self.crop = n, size, shuffle, flip, crop
        self.generator = torch.Generator().manual_seed(seed)

    def __len__(self):
        return self.n

    def __iter__(self):
        g = self.generator
        order = torch.randperm(self.n, generator=g) if self.shuffle else torch.arange(self.n)
        flips = torch.rand(self.n, generator=g) < 0.5 if self.flip else torch.zeros(self.n, dtype=torch.bool)
        if self.crop:
            tops, lefts = torch.randint(0, self.size - self.crop + 1, (2, self.n), generator=g)
        else:
            tops = lefts = torch.zeros(self.n, dtype=torch.long)
        for i, flip, top, left in zip(order.tolist(), flips.tolist(), tops.tolist(), lefts.tolist()):
            yield i, flip, top, left


class CachedImageDataset:
    """Rows of a frame as {"image" (uint8 HxWx3), "prompt", "target"} from the image cache."""

    def __init__(self, frame: pd.DataFrame, cache: ImageCache, targets: np.ndarray | None = None,
                 mean_std: tuple | None = None, crop: int | None = None):
        self.rows = cache.rows(frame["path"].tolist())
        self.cache, self.mean_std, self.crop = cache, mean_std, crop
        self.prompts, self.targets = prompts_and_targets(frame, targets)
        self._pixels = None  # the memory map, opened in whichever process reads
        self._output = None  # the storage of the last float batch made on the CPU, reused once free

    def __len__(self):
        return len(self.rows)

    def __getstate__(self):  # loader workers reopen the map instead of receiving a copy
        return {**self.__dict__, "_pixels": None, "_output": None}

    def __getitem__(self, key):
        batch = self.__getitems__([key])
        return {"image": batch["image"][0], "prompt": batch["prompt"][0], "target": batch["target"][0]}

    def __getitems__(self, keys: list) -> dict:
        """A whole batch, gathered with numpy copies into one array (the DataLoader hands it to
        ``pass_batch``): no per-sample tensors to stack, and no torch op, whose threads wait for
        each other on a busy machine (a torch flip per image cost 30x more there)."""
        if self._pixels is None:
            self._pixels = self.cache.pixels()
        side = self.crop or self.cache.size
        images = np.empty((len(keys), side, side, 3), np.uint8)
        indices = []
        for j, key in enumerate(keys):
            i, flip, top, left = key if isinstance(key, tuple) else (key, False, 0, 0)
            pixels = self._pixels[self.rows[i]]
            if self.crop:
                pixels = pixels[top:top + self.crop, left:left + self.crop]
            if flip:  # mirrored as whole 3-byte pixels: numpy copies a uint8 one byte at a time, 2x slower
                images[j].view("V3")[:] = pixels.view("V3")[:, ::-1]
            else:
                images[j] = pixels
            indices.append(i)
        return {"image": torch.from_numpy(images), "prompt": [self.prompts[i] for i in indices],
                "target": torch.from_numpy(self.targets[indices])}

    def to_model_input(self, images, channels_last: bool = False):
        """uint8 (B, H, W, 3) on the device -> float (B, 3, H, W) in [0, 1], normalised: ToTensor's
        and Normalize's arithmetic, in place on one buffer (a third of the passes over memory)."""
        b, h, w, c = images.shape
        layout = torch.channels_last if channels_last else torch.contiguous_format
        x = self._float_buffer((b, c, h, w), layout, images.device)
        x.copy_(images.permute(0, 3, 1, 2)).div_(255)
        if self.mean_std is not None:
            mean, std = (torch.as_tensor(v, dtype=x.dtype, device=x.device).view(1, -1, 1, 1) for v in self.mean_std)
            x.sub_(mean).div_(std)
        return x


    def _float_buffer(self, shape: tuple, layout, device):
        """On the CPU, the previous batch's memory once nothing holds it any more (no tensor, view,
        array or autograd graph): a fresh 126 MB buffer (512 px, batch 40) is first touched 4 kB
        at a time, ~30,000 page faults that cost twice the conversion itself. Else a new one
        (an accelerator's caching allocator already reuses its memory)."""
        stride = torch.empty(shape, device="meta", memory_format=layout).stride()
        needed = 4 * int(np.prod(shape))
        if device.type == "cpu" and self._output is not None and self._output.nbytes() >= needed \
                and _held_only_here(self._output):
            return torch.empty(0, dtype=torch.float32).set_(self._output, 0, shape, stride)
        x = torch.empty(shape, dtype=torch.float32, device=device, memory_format=layout)
        if device.type == "cpu":
            self._output = x.untyped_storage()
        return x


def _held_only_here(storage) -> bool:
    """Whether the handle given is the storage's only holder (torch's count; without it, never)."""
    count = getattr(torch._C, "_storage_Use_Count", None)
    return count is not None and count(storage._cdata) == 1


def make_cached_loader(dataset: CachedImageDataset, batch_size: int, train: bool, flip: bool, seed: int,
                       workers: int, pin_memory: bool):
    size = dataset.cache.size
    sampler = AugmentingSampler(len(dataset), size, shuffle=train, flip=train and flip,
                                crop=dataset.crop if train else None, seed=seed)
    # A lone sample in a training batch breaks BatchNorm over 1x1 maps (e.g. DBCNN's S-CNN).
    drop_last = train and len(dataset) > batch_size
    return torch.utils.data.DataLoader(dataset, batch_size=batch_size, sampler=sampler, drop_last=drop_last,
                                       num_workers=workers, persistent_workers=workers > 0 and train,
                                       pin_memory=pin_memory, collate_fn=pass_batch)


def pass_batch(batch: dict) -> dict:
    """The collate step for ``CachedImageDataset``, whose ``__getitems__`` builds the batch."""
    return batch
