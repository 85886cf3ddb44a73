"""Data-parallel training on several processes with ``torch.distributed`` (DDP).

Launch the same script on every process with ``torchrun``; each calls ``model.fit(...)`` with
the same parameters and the same data, and ``fit`` trains data-parallel by itself when it runs
in a process group of more than one process (``skmixsynth.distributed.data_parallel`` chooses
otherwise):

- the seeds are drawn on rank 0 and broadcast, so every rank builds the same modules (their
  parameters and buffers are broadcast from rank 0 too, as DDP does);
- the encoder is fitted once, on rank 0 (on the whole table: in memory, or in one pass over a
  Parquet stream), and its JSON state is broadcast: every rank encodes alike;
- each rank trains on its shard: the rows of a DataFrame at positions ``rank``, ``rank +
  world``, ... of a permutation drawn from the shared seed, or its share of a stream's row
  groups (whole row groups when there are at least as many as ranks, else every ``world``-th
  row);
- ``batch_size`` stays the batch of one optimisation step over all ranks: each rank takes
  ``batch_size / world`` rows per step, every rank takes the same number of steps, and after
  every ``backward`` the gradients are averaged over the ranks in one ``all_reduce`` (the
  moment ``DistributedDataParallel`` does it, before gradient clipping and the optimizer
  step), so the ranks keep identical parameters;
- the epoch losses in ``history_`` are averaged over the ranks, so a non-finite loss stops
  every rank alike;
- at the end, the buffers (batch-norm running statistics, GTCoder's latent sampler fitted on
  rank 0's shard) are broadcast from rank 0: every rank holds the same model. Save it on rank
  0 (:func:`is_main_process`).

Only the gradient path is data-parallel: MixGAN and GTCoder. The mixture model (stochastic EM
statistics, a data-dependent start and early stopping on a held-out slice) and the
independent model (counts, one pass) fit the whole table on every rank instead, from the
shared seeds, so the ranks agree; rank 0 warns.

Wrapping the modules in :class:`torch.nn.parallel.DistributedDataParallel` would need every
model to call its modules through ``forward`` only; the models call methods of their modules
(``decoder.output``, ``gtcoder.losses``), so the gradients are averaged with autograd hooks
instead, queued at the end of ``backward`` as DDP's reducer queues its own.
"""

from __future__ import annotations

import contextlib
import os
import warnings

import torch

__all__ = ["data_parallel", "is_main_process"]

#: the choice of the innermost ``data_parallel`` block: None (detect), False, or a group
_CHOICE = []


@contextlib.contextmanager
def data_parallel(enabled=True, *, group=None):
    """Choose whether the ``fit`` calls inside the block train data-parallel.

    By default (outside any block) ``fit`` trains data-parallel when ``torch.distributed``
    has an initialised default process group of more than one process, or when ``torchrun``'s
    environment (``WORLD_SIZE`` > 1, ``RANK``, ``MASTER_ADDR``) is set without one, in which
    case ``fit`` initialises the default group itself (``nccl`` for a CUDA model, ``gloo``
    otherwise) and leaves it initialised for the process's later fits (a default group
    destroyed and initialised again on the same rendezvous store can hang).

    Parameters
    ----------
    enabled : bool, default=True
        ``False``: every process fits on its own (no communication), whatever the
        environment. ``True``: as outside a block, or over ``group``.
    group : torch.distributed.ProcessGroup, default=None
        A group to train over (made with ``torch.distributed.new_group``, for instance to
        fit several models side by side on subsets of the processes); only its members may
        call ``fit`` inside the block. ``None``: the default group, detected as above.

    Examples
    --------
    >>> from skmixsynth import IndependentSynthesizer
    >>> from skmixsynth.datasets import make_mixed
    >>> from skmixsynth.distributed import data_parallel
    >>> with data_parallel(False):  # a local fit, even under torchrun
    ...     model = IndependentSynthesizer(random_state=0).fit(make_mixed(100, random_state=0))
    >>> model.n_iter_
    1
    """
    _CHOICE.append(False if not enabled else group)
    try:
        yield
    finally:
        _CHOICE.pop()


def is_main_process():
    """Whether this process is rank 0 of the default group (or not in one): the one to save.

    Returns
    -------
    main : bool

    Examples
    --------
    >>> from skmixsynth.distributed import is_main_process
    >>> is_main_process()
    True
    """
    dist = _dist()
    if dist is not None and dist.is_initialized():
        return dist.get_rank() == 0
    return int(os.environ.get("RANK", "0")) == 0


def _dist():
    if not torch.distributed.is_available():
        return None
    return torch.distributed


def _torchrun_env():
    env = os.environ
    return (int(env.get("WORLD_SIZE", "1")) > 1 and "RANK" in env and "MASTER_ADDR" in env)


class _Context:
    """The process group of one data-parallel fit: rank, world size, collectives."""

    def __init__(self, group):
        dist = torch.distributed
        self.group = group
        self.rank = dist.get_rank(group)
        self.world = dist.get_world_size(group)
        self.src = dist.get_global_rank(group, 0) if group is not None else 0
        self.backend = dist.get_backend(group)

    def comm_device(self, device):
        """Where collectives' tensors live: the model's CUDA device for NCCL, else the CPU
        (gloo; a group with both backends sends CPU tensors through gloo)."""
        return device if self.backend == "nccl" else torch.device("cpu")

    def broadcast_object(self, obj, device):
        """Rank 0's ``obj`` on every rank (pickled; through ``device`` for NCCL)."""
        box = [obj if self.rank == 0 else None]
        torch.distributed.broadcast_object_list(box, src=self.src, group=self.group,
                                                device=self.comm_device(device))
        return box[0]

    def broadcast_tensors(self, tensors, device):
        """Broadcast ``tensors`` (in place) from rank 0, flattened into one message."""
        tensors = list(tensors)
        if not tensors:
            return
        by_dtype = {}
        for t in tensors:
            by_dtype.setdefault(t.dtype, []).append(t)
        for group in by_dtype.values():
            flat = torch.cat([t.detach().reshape(-1) for t in group]).to(
                self.comm_device(device))
            torch.distributed.broadcast(flat, src=self.src, group=self.group)
            flat = flat.to(group[0].device)
            pos = 0
            with torch.no_grad():
                for t in group:
                    t.copy_(flat[pos:pos + t.numel()].view_as(t))
                    pos += t.numel()

    def mean_(self, values, device):
        """Average a 1-D float tensor over the ranks (a new tensor)."""
        flat = values.detach().to(self.comm_device(device), torch.float64)
        torch.distributed.all_reduce(flat, group=self.group)
        return flat / self.world


def _context(device_type):
    """The ``_Context`` of a data-parallel fit, or None for a local one."""
    choice = _CHOICE[-1] if _CHOICE else None
    if choice is False:
        return None
    dist = _dist()
    if dist is None:
        return None
    if choice is not None:  # an explicit group
        return _Context(choice) if dist.get_world_size(choice) > 1 else None
    if dist.is_initialized():
        return _Context(None) if dist.get_world_size() > 1 else None
    if _torchrun_env():
        backend = "nccl" if device_type == "cuda" else "gloo"
        dist.init_process_group(backend=backend)
        return _Context(None)
    return None


def _wanted():
    """Whether ``fit`` would train data-parallel here (without initialising anything)."""
    choice = _CHOICE[-1] if _CHOICE else None
    if choice is False:
        return False
    if choice is not None:
        return True
    dist = _dist()
    if dist is None:
        return False
    if dist.is_initialized():
        return dist.get_world_size() > 1
    return _torchrun_env()


def _local_device(device):
    """Under a process group, a bare ``cuda`` device means this process's GPU
    (``LOCAL_RANK``)."""
    if device.type == "cuda" and device.index is None:
        return torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
    return device


class _GradientAverager:
    """Average the gradients of ``modules`` over the ranks after every ``backward``.

    A hook on every parameter notes that its gradient is ready; the first one of a backward
    queues a callback that runs when autograd has finished, and that callback averages the
    noted gradients, in the modules' fixed parameter order, in one ``all_reduce`` per dtype.
    The ranks run the same model code on their shards, so the same parameters get gradients
    on every rank and the messages match.
    """

    def __init__(self, context, modules, device):
        self.context = context
        self.device = device
        self.params = [p for p in modules.parameters()]
        self.ready = set()
        self.queued = False
        self.handles = [p.register_post_accumulate_grad_hook(self._note) for p in self.params]

    def _note(self, param):
        self.ready.add(id(param))
        if not self.queued:
            self.queued = True
            torch.autograd.Variable._execution_engine.queue_callback(self._average)

    def _average(self):
        grads = [p.grad for p in self.params if id(p) in self.ready and p.grad is not None]
        self.ready.clear()
        self.queued = False
        if not grads:
            return
        by_dtype = {}
        for g in grads:
            by_dtype.setdefault(g.dtype, []).append(g)
        for group in by_dtype.values():
            flat = torch.cat([g.reshape(-1) for g in group]).to(
                self.context.comm_device(self.device))
            torch.distributed.all_reduce(flat, group=self.context.group)
            flat = flat.div_(self.context.world).to(group[0].device)
            pos = 0
            for g in group:
                g.copy_(flat[pos:pos + g.numel()].view_as(g))
                pos += g.numel()

    def remove(self):
        for handle in self.handles:
            handle.remove()
        self.handles = []


def _warn_local(model, context):
    if context.rank == 0:
        warnings.warn(
            f"{type(model).__name__} does not train data-parallel (no gradient path to "
            f"average): every one of the {context.world} processes fits the whole table from "
            "the shared seeds, so they agree but none is faster.",
            UserWarning, stacklevel=4)
