"""Train a SimMIM face model: self-supervised, the photo's own landmarks are its condition.

One loop for a laptop CPU, one GPU or several (launch with `torchrun --nproc_per_node N -m pipelines
train-simmim ...`: each process takes its own GPU and batches, gradients are averaged by DDP, rank 0
writes; on a CPU the processes average over gloo, which is how the tests run the multi-process path). On CUDA
it runs in bfloat16 autocast with `torch.compile`. Everything that must survive a restart lives in
`<out>/checkpoint/` as safetensors + JSON (no pickle): the float32 weights, the AdamW moments and the step;
`--resume` picks up from there. The finished model is written as `<out>/config.json` + `<out>/model.safetensors`,
the folder `SimMIMFace.from_pretrained` reads.
"""

from __future__ import annotations

import gc
import json
import math
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from pipelines.errors import InputError
from pipelines.face.simmim.adversarial import PatchDiscriminator, discriminator_loss, generator_loss
from pipelines.face.simmim.config import SimMIMFaceConfig
from pipelines.face.simmim.data import Augment, FaceCache, batches, build_cache, fixed_batch
from pipelines.face.simmim.model import SimMIMFace, patch_mask_to_pixels

CHECKPOINT_DIR = "checkpoint"
SAMPLES_DIR = "samples"
SAMPLE_FACES = 8  # faces per sample grid
DISCRIMINATOR_FILE = "discriminator.safetensors"
DISCRIMINATOR_OPTIMIZER_FILE = "discriminator_optimizer.safetensors"


@dataclass
class TrainConfig:
    out: str  # folder for the final model, checkpoint/ and samples/
    data: list[str] | None = None  # folders of face photos (only needed to build the cache)
    exclude: tuple[str, ...] = ()  # file-name globs never trained on (people kept for evaluation, e.g. "P008_*")
    cache: str | None = None  # the .npz face cache (built from `data` when missing); default <out>/faces.npz
    public_domain_only: bool = False  # skip files MANIFEST.csv marks research_only
    model: SimMIMFaceConfig = field(default_factory=SimMIMFaceConfig)
    # Where the weights start: a hub id of a public SimMIM checkpoint (needs internet), or a local SimMIMFace folder
    # (config.json + model.safetensors, e.g. weights/simmim-mouth) to fine-tune with a fresh optimiser and schedule;
    # the folder's architecture replaces `model`'s.
    init_from: str | None = None
    batch_size: int = 64  # per process
    lr: float = 5e-4  # peak AdamW learning rate (scaled by nothing: set it for your total batch)
    min_lr: float = 1e-5  # the cosine schedule ends here
    warmup_steps: int = 500
    weight_decay: float = 0.05
    steps: int | None = None  # total optimiser steps; None: fill --max-minutes (measured after a few steps)
    max_minutes: float | None = None  # stop (and save) after this much training time
    edge_loss: float = 0.5  # weight of the L1 loss on image gradients (sharp lips and lids, no flat blocks)
    adv_loss: float = 0.0  # weight of the patch discriminator's term (adversarial.py); 0: no discriminator
    # Share of the run's steps before that term joins the generator's loss: the sharpening then refines a model
    # that has learnt the shapes first (as the CPU recipes did in two runs). The critic itself trains from step 0,
    # so it is no novice when its term joins, and every step costs the same (--max-minutes plans from the first).
    adv_start: float = 0.0
    sample_every: int = 1000  # steps between sample grids
    checkpoint_every: int = 2000  # steps between checkpoints
    seed: int = 0
    device: str = "auto"
    compile: bool = True  # torch.compile on CUDA
    save_dtype: str = "float16"  # dtype of the shipped model.safetensors (float16 halves it; loads as float32)
    resume: bool = False
    augment: Augment = field(default_factory=Augment)
    progress: bool = True
    workers: int | None = None  # data-loading processes; default: none on CPU, up to 8 with CUDA
    threads: int | None = None  # torch CPU threads (e.g. 1 to leave a shared machine's other cores free)


def masked_losses(pred: torch.Tensor, target: torch.Tensor, weight: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """L1 over weighted pixels, and L1 between the images' horizontal/vertical differences there."""
    pred, target, weight = pred.float(), target.float(), weight.float()
    l1 = ((pred - target).abs() * weight).sum() / (weight.sum() * pred.shape[1]).clamp_min(1.0)
    edges = []
    for dim in (2, 3):
        d_pred, d_target = torch.diff(pred, dim=dim), torch.diff(target, dim=dim)
        both = weight.narrow(dim, 1, weight.shape[dim] - 1) * weight.narrow(dim, 0, weight.shape[dim] - 1)
        edges.append(((d_pred - d_target).abs() * both).sum() / (both.sum() * pred.shape[1]).clamp_min(1.0))
    return l1, sum(edges) / 2


def learning_rate(step: int, total: int, cfg: TrainConfig) -> float:
    if step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    progress = min(1.0, (step - cfg.warmup_steps) / max(1, total - cfg.warmup_steps))
    return cfg.min_lr + 0.5 * (cfg.lr - cfg.min_lr) * (1 + math.cos(math.pi * progress))


# --- checkpoints (safetensors + JSON only) ----------------------------------------------------------------------
def _save_optimizer(path: Path, optimizer: torch.optim.Optimizer) -> list[dict]:
    """The AdamW moments as safetensors; returns the param groups (for the JSON)."""
    from safetensors.torch import save_file

    opt = optimizer.state_dict()
    tensors = {}
    for index, values in opt["state"].items():
        for name, value in values.items():
            tensors[f"{index}.{name}"] = torch.as_tensor(value).detach().cpu().contiguous()
    save_file(tensors, str(path))
    return opt["param_groups"]


def _load_optimizer(path: Path, optimizer: torch.optim.Optimizer, param_groups: list[dict]) -> None:
    from safetensors.torch import load_file

    if not path.is_file():
        print(f"note: {path} is missing; resuming the weights with fresh AdamW moments")
        return
    state: dict[int, dict] = {}
    for key, value in load_file(str(path)).items():
        index, name = key.split(".", 1)
        state.setdefault(int(index), {})[name] = value
    optimizer.load_state_dict({"state": state, "param_groups": param_groups})


def save_checkpoint(folder: Path, model: SimMIMFace, optimizer: torch.optim.Optimizer, state: dict,
                    critic: tuple[PatchDiscriminator, torch.optim.Optimizer] | None = None) -> None:  # fmt: skip
    """Weights, moments and step; with `critic` (the --adv-loss discriminator and its optimiser) those too."""
    from safetensors.torch import save_file

    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder)  # float32
    meta = {**state, "param_groups": _save_optimizer(folder / "optimizer.safetensors", optimizer)}
    if critic is not None:
        disc, disc_optimizer = critic
        save_file({k: v.detach().cpu().contiguous() for k, v in disc.state_dict().items()},
                  str(folder / DISCRIMINATOR_FILE))  # fmt: skip
        meta["discriminator_param_groups"] = _save_optimizer(folder / DISCRIMINATOR_OPTIMIZER_FILE, disc_optimizer)
    tmp = folder / "trainer.json.tmp"
    tmp.write_text(json.dumps(meta, indent=2))
    tmp.replace(folder / "trainer.json")  # written last: a checkpoint without it is incomplete


def load_checkpoint(folder: Path, optimizer: torch.optim.Optimizer,
                    critic: tuple[PatchDiscriminator, torch.optim.Optimizer] | None = None) -> dict:  # fmt: skip
    """Restores the moments (and the discriminator, when it was saved) in place; returns trainer.json."""
    from safetensors.torch import load_file

    meta = json.loads((folder / "trainer.json").read_text())
    _load_optimizer(folder / "optimizer.safetensors", optimizer, meta.get("param_groups", []))
    if critic is not None:
        disc, disc_optimizer = critic
        if (folder / DISCRIMINATOR_FILE).is_file():
            disc.load_state_dict(load_file(str(folder / DISCRIMINATOR_FILE)))
            _load_optimizer(folder / DISCRIMINATOR_OPTIMIZER_FILE, disc_optimizer,
                            meta.get("discriminator_param_groups", []))  # fmt: skip
        else:
            print(f"note: no discriminator in {folder}; the --adv-loss critic starts fresh")
    return meta


# --- pictures ---------------------------------------------------------------------------------------------------
def to_uint8(images: torch.Tensor) -> np.ndarray:
    """(N,3,S,S) in [-1,1] -> (N,S,S,3) uint8."""
    return ((images.detach().float().clamp(-1, 1) + 1) * 127.5).round().byte().permute(0, 2, 3, 1).cpu().numpy()


def sample_grid(columns: list[np.ndarray]) -> np.ndarray:
    """Faces down, columns across (each (N,S,S,3) uint8), 2 px white gutters."""
    n, size = columns[0].shape[:2]
    gutter = 2
    grid = np.full((n * (size + gutter) + gutter, len(columns) * (size + gutter) + gutter, 3), 255, np.uint8)
    for c, column in enumerate(columns):
        for r in range(n):
            y, x = gutter + r * (size + gutter), gutter + c * (size + gutter)
            grid[y:y + size, x:x + size] = column[r]
    return grid


def condition_picture(condition: torch.Tensor) -> np.ndarray:
    """(N,C,S,S) -> (N,S,S,3) uint8: lips red, eyes green, brows blue, the rest grey."""
    c = condition.detach().float().cpu()
    rgb = torch.stack([c[:, 0].maximum(c[:, 1]), c[:, 2].maximum(c[:, 3]), c[:, 4]], dim=1)
    rgb = rgb.maximum(c[:, 5:6] * 0.5)
    return (rgb.clamp(0, 1) * 255).round().byte().permute(0, 2, 3, 1).numpy()


def reconstruction_columns(model: SimMIMFace, batch: dict, autocast) -> list[np.ndarray]:
    """image | masked input | model output pasted into the mask | condition map."""
    model.eval()
    with torch.no_grad(), autocast():
        out = model(batch["pixel_values"], batch["bool_masked_pos"], batch["condition"]).float()
    model.train()
    mask = patch_mask_to_pixels(batch["bool_masked_pos"], model.config.grid, model.config.patch_size)
    shown = torch.where(mask, torch.full_like(batch["pixel_values"], -0.4), batch["pixel_values"])
    pasted = torch.where(mask, out.clamp(-1, 1), batch["pixel_values"])
    return [to_uint8(batch["pixel_values"]), to_uint8(shown), to_uint8(pasted), condition_picture(batch["condition"])]


def write_png(path: Path, image: np.ndarray) -> None:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(image).save(path)


# --- the loop ---------------------------------------------------------------------------------------------------
def resolve_cache(cfg: TrainConfig) -> Path:
    """The cache file to use, building it from --data when it does not exist yet."""
    cache = Path(cfg.cache) if cfg.cache else Path(cfg.out) / "faces.npz"
    if not cache.is_file():
        if not cfg.data:
            raise InputError(f"No face cache at {cache}; pass --data DIR (a folder of face photos) to build it.")
        print(f"building the {cfg.model.region} cache {cache} from {', '.join(cfg.data)} (MediaPipe, once) ...")
        report = build_cache(cfg.data, cache, image_size=cfg.model.image_size, public_domain_only=cfg.public_domain_only,
                             progress=cfg.progress, region=cfg.model.region, exclude=tuple(cfg.exclude))  # fmt: skip
        print(f"cached {report['faces']} faces from {report['photos']} photos ({len(report['skipped'])} skipped)")
    return cache


def training_faces(cache: FaceCache, public_domain_only: bool) -> FaceCache:
    keep = ~cache.held_out
    if public_domain_only:
        keep &= ~cache.research_only
    if not keep.any():
        raise InputError("No training faces left after removing the held-out split (and research-only files).")
    return cache.select(keep)


def _distributed() -> tuple[int, int, int]:
    """(rank, local rank, world size) under torchrun; (0, 0, 1) otherwise."""
    return int(os.environ.get("RANK", 0)), int(os.environ.get("LOCAL_RANK", 0)), int(os.environ.get("WORLD_SIZE", 1))


def train(cfg: TrainConfig) -> Path:
    """Run training; returns the output folder (config.json + model.safetensors)."""
    from pipelines.device import pick_device

    rank, local_rank, world = _distributed()
    is_main = rank == 0
    device = pick_device(cfg.device)
    if world > 1:
        backend = "nccl" if device == "cuda" else "gloo"
        torch.distributed.init_process_group(backend)
        if is_main:
            print(f"training in {world} processes ({backend})")
        if device == "cuda":
            device = f"cuda:{local_rank}"
            torch.cuda.set_device(local_rank)
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    checkpoint = out / CHECKPOINT_DIR
    torch.manual_seed(cfg.seed + rank)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    cuda = device.startswith("cuda")
    if cuda:
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True

    cache_path = Path(cfg.cache) if cfg.cache else out / "faces.npz"
    if world > 1 and not cache_path.is_file():
        raise InputError(f"Build the face cache {cache_path} in one process first (train-simmim --steps 0), then launch torchrun.")
    cache = FaceCache.load(resolve_cache(cfg))
    resuming = cfg.resume and (checkpoint / "trainer.json").is_file()

    # 1. model: resumed, from a local model folder or a public SimMIM checkpoint, or fresh
    if resuming:
        model = SimMIMFace.from_pretrained(checkpoint)
    elif cfg.init_from and (Path(cfg.init_from) / "config.json").is_file():
        model = SimMIMFace.from_pretrained(cfg.init_from)
        if is_main:
            print(f"starting from the weights in {cfg.init_from}")
    elif cfg.init_from:
        model = SimMIMFace.from_hub(cfg.init_from, image_size=cfg.model.image_size)
    else:
        model = SimMIMFace(cfg.model)
    if cache.image_size != model.config.image_size:
        raise InputError(f"The cache holds {cache.image_size} px faces but the model wants "
                         f"{model.config.image_size} px.")  # fmt: skip
    if cache.region != model.config.region:
        raise InputError(f"The cache holds {cache.region} crops but the model paints the {model.config.region}; "
                         "use another --cache.")  # fmt: skip
    faces = training_faces(cache, cfg.public_domain_only)
    shown = cache.select(cache.held_out) if cache.held_out.any() else faces
    model.to(device).train()
    decay = [p for n, p in model.named_parameters() if p.ndim >= 2 and "token" not in n and "position" not in n]
    no_decay = [p for n, p in model.named_parameters() if not (p.ndim >= 2 and "token" not in n and "position" not in n)]
    optimizer = torch.optim.AdamW(
        [{"params": decay, "weight_decay": cfg.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
        lr=cfg.lr, betas=(0.9, 0.95), fused=cuda,
    )  # fmt: skip
    critic = None  # (discriminator, its optimiser) when --adv-loss is on
    if cfg.adv_loss > 0:
        disc = PatchDiscriminator(model.config.cond_channels).to(device).train()
        critic = (disc, torch.optim.AdamW(disc.parameters(), lr=cfg.lr, betas=(0.5, 0.99), weight_decay=0.0))
    step, total = 0, cfg.steps
    if resuming:
        meta = load_checkpoint(checkpoint, optimizer, critic)
        step, total = meta["step"], cfg.steps or meta.get("total_steps")
        if total is not None and step >= total and cfg.max_minutes and not cfg.steps:
            # The checkpoint's schedule is done: the time budget is time to train on (a warm restart of the
            # schedule, planned from the resumed step), as a run of several CPU sessions needs.
            total = None
        if is_main:
            print(f"resuming from {checkpoint} at step {step}")
    elif cfg.resume and is_main:
        print(f"--resume: no checkpoint in {checkpoint} yet, starting fresh")

    def across_processes(module: torch.nn.Module) -> torch.nn.Module:
        """`module` whose gradients DDP averages over the processes (itself in a single process)."""
        if world == 1:
            return module
        return torch.nn.parallel.DistributedDataParallel(module, device_ids=[local_rank] if cuda else None)

    net = across_processes(model)
    forward = torch.compile(net) if (cuda and cfg.compile) else net
    # The discriminator's own step goes through DDP across processes, so every rank's copy agrees.
    judge = None if critic is None else across_processes(critic[0])

    def autocast():
        return torch.autocast("cuda", dtype=torch.bfloat16, enabled=cuda)

    workers = cfg.workers if cfg.workers is not None else (min(8, (os.cpu_count() or 1) - 1) if cuda else 0)
    stream = batches(faces, model.config.patch_size, cfg.batch_size, cfg.augment, seed=cfg.seed + 1000 * rank,
                     start=step, workers=workers)  # fmt: skip
    preview_batch = {k: v.to(device) for k, v in fixed_batch(shown, model.config.patch_size, SAMPLE_FACES).items()}

    bar = None
    if is_main and cfg.progress:
        from tqdm import tqdm

        bar = tqdm(total=total, initial=step, desc="train-simmim", unit="step", dynamic_ncols=True)
    started, first_step = time.monotonic(), step  # a resumed run plans its time from where it resumed
    timed_from = None
    history: list[dict] = []
    while total is None or step < total:
        lr = learning_rate(step, total or 10**9, cfg)
        for group in optimizer.param_groups + (critic[1].param_groups if critic else []):
            group["lr"] = lr
        batch = {k: v.to(device, non_blocking=True) for k, v in next(stream).items()}
        real, condition = batch["pixel_values"], batch["condition"]
        with autocast():
            pred = forward(real, batch["bool_masked_pos"], condition)
        mask = patch_mask_to_pixels(batch["bool_masked_pos"], model.config.grid, model.config.patch_size)
        mask = mask & batch["valid"]
        l1, edge = masked_losses(pred, real, mask)
        loss = l1 + cfg.edge_loss * edge
        if critic is not None:
            painted = torch.where(mask, pred.float(), real)
            critic[0].requires_grad_(False)  # the generator's step moves only the generator (and skips DDP's sync)
            sharpening = cfg.adv_start <= 0 or (total is not None and step >= cfg.adv_start * total)
            with autocast(), torch.set_grad_enabled(sharpening):  # before --adv-start it is only logged
                adv = generator_loss(critic[0], painted, mask, condition)
            if sharpening:
                loss = loss + cfg.adv_loss * adv
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        if critic is not None:
            critic[0].requires_grad_(True)
            with autocast():
                d_loss = discriminator_loss(judge, real, painted, mask, condition)
            critic[1].zero_grad(set_to_none=True)
            d_loss.backward()
            critic[1].step()
        step += 1
        losses = {"l1": l1, "edge": edge, **({"adv": adv, "disc": d_loss} if critic else {})}
        elapsed = (time.monotonic() - started) / 60
        if total is None and cfg.max_minutes:  # fill the time budget: measure 20 steps after warm-up/compile
            if step - first_step == 10:
                timed_from = time.monotonic()
            elif step - first_step == 30:
                per_step = (time.monotonic() - timed_from) / 20
                left = cfg.max_minutes * 60 - (time.monotonic() - started)
                total = step + max(1, int(0.95 * left / per_step))
                if bar is not None:
                    bar.total = total
                if is_main:
                    print(f"\n{per_step * 1000:.0f} ms/step: planning {total} steps to fit {cfg.max_minutes} min", flush=True)
        if bar is not None:
            bar.update(1)
            if step % 20 == 0:
                bar.set_postfix(**{k: f"{v.item():.4f}" for k, v in losses.items()}, lr=f"{lr:.1e}")
        if step % 100 == 0 and is_main:
            history.append({"step": step, **{k: round(v.item(), 5) for k, v in losses.items()}, "minutes": round(elapsed, 2)})
            if bar is None and step % 1000 == 0:
                print(history[-1], flush=True)
        out_of_time = cfg.max_minutes is not None and elapsed >= cfg.max_minutes
        finished = (total is not None and step >= total) or out_of_time
        if is_main and (step % cfg.sample_every == 0 or finished):
            write_png(out / SAMPLES_DIR / f"step_{step:06d}.png", sample_grid(reconstruction_columns(model, preview_batch, autocast)))
        if is_main and (step % cfg.checkpoint_every == 0 or finished):
            save_checkpoint(checkpoint, model, optimizer, {"step": step, "total_steps": total, "train": _jsonable(cfg)},
                            critic)  # fmt: skip
        if out_of_time:
            break
    if bar is not None:
        bar.close()
    if is_main:
        model.eval()
        model.save_pretrained(out, dtype=getattr(torch, cfg.save_dtype))
        log = out / "train_log.json"
        previous = json.loads(log.read_text()) if (cfg.resume and log.is_file()) else []
        log.write_text(json.dumps(previous + history, indent=1))
        print(f"saved {out / 'model.safetensors'} after {step} steps ({(time.monotonic() - started) / 60:.1f} min)")
    if world > 1:
        # DDP's wrappers go before their process group: left to the interpreter's exit, a wrapper still holding gloo
        # work aborted rank 1 now and then ("terminate called without an active exception": 3 of 28 CPU runs; 0 of 52
        # so).
        del net, forward, judge
        gc.collect()
        torch.distributed.destroy_process_group()
    return out


def _jsonable(cfg: TrainConfig) -> dict:
    data = asdict(cfg)
    data["augment"]["random_ratio"] = list(cfg.augment.random_ratio)
    return data
