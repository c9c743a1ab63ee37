#!/usr/bin/env python3
"""Train a small CLIP on Flickr8k on the CPU: a test instrument, never a product model.

No pretrained CLIP weights can be downloaded where Glimpse is developed, so
ranking quality could not be measured at all. A small open_clip model trained
here from scratch on the Flickr8k training split (6,134 photos, 5 captions
each) ranks far worse than a real CLIP but far better than chance, which is
enough to test that retrieval works end to end and to compare changes.

    python scripts/train_small_clip.py --out /tmp/small-clip          # train
    python scripts/train_small_clip.py --out /tmp/small-clip --resume # continue
    python scripts/train_small_clip.py --out /tmp/x --epochs 3 --config my.json

Every epoch prints recall@1/5/10 for text->image retrieval on flickr8k-1k
(each of the 5 captions of each photo is a query over the 1,000 photos) and
writes a checkpoint to --out; --resume continues from the last one with the
same data order. The final weights are written as an fp16 state dict that
open_clip's `create_model(ARCH, pretrained=PATH)` loads (--export).

The architecture is an open_clip config JSON (--config); its file stem is
the architecture name. Training images are decoded once into a uint8 tensor
in memory, so an epoch is pure compute.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import random
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from tqdm import tqdm

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
# Training photos are kept at this size; random crops of them are resized to the model's.
TRAIN_SOURCE_PX = 128
DEFAULT_CONFIG = ROOT / "tests" / "assets" / "flickr-small-clip" / "GlimpseFlickrSmall.json"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--train", type=Path, default=SHARED / "data" / "flickr8k-train-128")
    p.add_argument("--eval", type=Path, default=SHARED / "data" / "flickr8k-1k")
    p.add_argument("--config", type=Path, default=DEFAULT_CONFIG, help="open_clip model config JSON")
    p.add_argument("--out", type=Path, required=True, help="folder for checkpoints and the log")
    p.add_argument("--export", type=Path, help="also write the final fp16 weights here")
    p.add_argument("--resume", action="store_true", help="continue from the last checkpoint in --out")
    p.add_argument("--epochs", type=int, default=14)
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--weight-decay", type=float, default=0.1)
    p.add_argument("--warmup-epochs", type=float, default=3.0)
    p.add_argument("--min-crop", type=float, default=0.5, help="smallest random crop, fraction of area")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--eval-every", type=int, default=1, help="epochs between evaluations (0: only at the end)")
    p.add_argument("--keep", type=int, default=2, help="epoch checkpoints to keep")
    return p.parse_args(argv)


# ---------------------------------------------------------------- data


def read_captions(path: Path) -> dict[str, list[str]]:
    captions: dict[str, list[str]] = defaultdict(list)
    with open(path, newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            captions[row["image"]].append(row["caption"].strip())
    return dict(captions)


def decode_square(path: Path, size: int) -> np.ndarray:
    """Shortest side to `size`, centre crop: the same view open_clip's preprocess takes."""
    with Image.open(path) as im:
        im.draft("RGB", (size, size))  # JPEG: decode at a reduced scale, much faster
        im = im.convert("RGB")
        w, h = im.size
        scale = size / min(w, h)
        nw, nh = max(size, round(w * scale)), max(size, round(h * scale))
        im = im.resize((nw, nh), Image.Resampling.BICUBIC)
        left, top = (nw - size) // 2, (nh - size) // 2
        im = im.crop((left, top, left + size, top + size))
        return np.asarray(im, dtype=np.uint8).transpose(2, 0, 1).copy()


def load_split(root: Path, size: int, desc: str) -> tuple[list[str], torch.Tensor, dict[str, list[str]]]:
    captions = read_captions(root / "captions.csv")
    names = sorted(n for n in captions if (root / "images" / n).is_file())
    pixels = torch.empty((len(names), 3, size, size), dtype=torch.uint8)
    for i, name in enumerate(tqdm(names, desc=f"decode {desc}", unit="img", leave=False)):
        pixels[i] = torch.from_numpy(decode_square(root / "images" / name, size))
    return names, pixels, captions


class Normalizer:
    def __init__(self, mean: tuple[float, ...], std: tuple[float, ...]):
        self.mean = torch.tensor(mean).view(1, 3, 1, 1)
        self.std = torch.tensor(std).view(1, 3, 1, 1)

    def __call__(self, pixels: torch.Tensor) -> torch.Tensor:
        return (pixels.float() / 255.0 - self.mean) / self.std


def augment(pixels: torch.Tensor, out_size: int, min_area: float, gen: torch.Generator) -> torch.Tensor:
    """Random resized crop (area min_area..1, aspect 3/4..4/3) and horizontal flip.

    Per-sample crops on the small uint8 tensors cost little beside the model.
    """
    n, _, h, w = pixels.shape
    out = torch.empty((n, 3, out_size, out_size), dtype=torch.float32)
    r = torch.rand((n, 5), generator=gen)
    for i in range(n):
        area = (min_area + (1 - min_area) * r[i, 0].item()) * h * w
        aspect = math.exp(math.log(3 / 4) + (math.log(4 / 3) - math.log(3 / 4)) * r[i, 1].item())
        cw = min(w, max(8, round(math.sqrt(area * aspect))))
        ch = min(h, max(8, round(math.sqrt(area / aspect))))
        x0 = int(r[i, 2].item() * (w - cw + 1))
        y0 = int(r[i, 3].item() * (h - ch + 1))
        crop = pixels[i : i + 1, :, y0 : y0 + ch, x0 : x0 + cw].float()
        crop = F.interpolate(crop, size=(out_size, out_size), mode="bilinear", antialias=True, align_corners=False)
        if r[i, 4].item() < 0.5:
            crop = crop.flip(-1)
        out[i] = crop[0]
    return out.clamp_(0, 255)


# ---------------------------------------------------------------- evaluation


@torch.inference_mode()
def recall_at(
    model: torch.nn.Module, images: torch.Tensor, tokens: torch.Tensor, targets: torch.Tensor, batch: int = 500
) -> dict[str, float]:
    """Text->image recall@1/5/10: each caption a query over all evaluation photos."""
    model.eval()
    img = torch.cat([model.encode_image(images[i : i + batch], normalize=True) for i in range(0, len(images), batch)])
    txt = torch.cat([model.encode_text(tokens[i : i + batch], normalize=True) for i in range(0, len(tokens), batch)])
    sims = txt @ img.T
    own = sims[torch.arange(len(targets)), targets].unsqueeze(1)
    ranks = (sims > own).sum(dim=1) + 1  # 1 = the caption's own photo ranks first
    return {f"R@{k}": float((ranks <= k).float().mean()) for k in (1, 5, 10)}


# ---------------------------------------------------------------- training


def param_groups(model: torch.nn.Module, weight_decay: float) -> list[dict]:
    """No weight decay on gains, biases, embeddings and the logit scale (as in CLIP)."""
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        if p.ndim < 2 or "embedding" in name or "logit_scale" in name or "bn" in name or "ln" in name:
            no_decay.append(p)
        else:
            decay.append(p)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def lr_at(step: int, total: int, warmup: int, base: float) -> float:
    if step < warmup:
        return base * (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    return 0.5 * base * (1 + math.cos(math.pi * min(1.0, progress)))


def fp16_state_dict(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: (v.half() if v.is_floating_point() else v).clone() for k, v in model.state_dict().items()}


def checkpoints(out: Path) -> list[Path]:
    return sorted(out.glob("epoch_*.pt"))


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    import open_clip

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    random.seed(args.seed)
    np.random.seed(args.seed)
    args.out.mkdir(parents=True, exist_ok=True)
    open_clip.add_model_config(args.config)
    arch = args.config.stem
    model = open_clip.create_model(arch, pretrained=None)
    tokenizer = open_clip.get_tokenizer(arch)
    size = int(model.visual.image_size[0] if isinstance(model.visual.image_size, (tuple, list)) else model.visual.image_size)
    pp = model.visual.preprocess_cfg
    normalize = Normalizer(tuple(pp["mean"]), tuple(pp["std"]))
    n_params = sum(p.numel() for p in model.parameters())
    n_visual = sum(p.numel() for p in model.visual.parameters())
    print(f"{arch}: {n_params / 1e6:.2f}M parameters ({n_visual / 1e6:.2f}M image tower), {size}px", flush=True)

    t0 = time.monotonic()
    train_names, train_pixels, train_caps = load_split(args.train, TRAIN_SOURCE_PX, "train")
    eval_names, eval_pixels, eval_caps = load_split(args.eval, size, "eval")
    train_tokens = [tokenizer(train_caps[n]) for n in train_names]
    eval_queries = [(c, i) for i, n in enumerate(eval_names) for c in eval_caps[n]]
    eval_tokens = tokenizer([c for c, _ in eval_queries])
    eval_targets = torch.tensor([i for _, i in eval_queries])
    eval_images = normalize(eval_pixels)
    print(
        f"data: {len(train_names)} training photos, {sum(len(t) for t in train_tokens)} captions; "
        f"{len(eval_names)} evaluation photos, {len(eval_queries)} captions ({time.monotonic() - t0:.1f}s)",
        flush=True,
    )

    steps_per_epoch = len(train_names) // args.batch_size
    total_steps = steps_per_epoch * args.epochs
    warmup = max(1, round(args.warmup_epochs * steps_per_epoch))
    optimizer = torch.optim.AdamW(param_groups(model, args.weight_decay), lr=args.lr, betas=(0.9, 0.98), eps=1e-6)
    start_epoch, elapsed = 0, 0.0
    if args.resume and checkpoints(args.out):
        last = checkpoints(args.out)[-1]
        state = torch.load(last, map_location="cpu", weights_only=False)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        start_epoch, elapsed = state["epoch"], state["elapsed_s"]
        print(f"resumed from {last.name}: epoch {start_epoch}, {elapsed / 60:.1f} min trained", flush=True)

    log = open(args.out / "metrics.jsonl", "a", encoding="utf-8")
    metrics: dict[str, float] = {}
    for epoch in range(start_epoch, args.epochs):
        began = time.monotonic()
        model.train()
        # Data order and augmentation depend only on (seed, epoch): a resumed run sees the same batches.
        gen = torch.Generator().manual_seed(args.seed * 100_003 + epoch)
        order = torch.randperm(len(train_names), generator=gen)
        pick = torch.rand(len(train_names), generator=gen)
        bar = tqdm(range(steps_per_epoch), desc=f"epoch {epoch + 1}/{args.epochs}", unit="step", leave=False)
        losses = []
        for s in bar:
            step = epoch * steps_per_epoch + s
            for g in optimizer.param_groups:
                g["lr"] = lr_at(step, total_steps, warmup, args.lr)
            idx = order[s * args.batch_size : (s + 1) * args.batch_size]
            # One caption per photo per batch: two captions of one photo would be false negatives.
            tokens = torch.stack(
                [train_tokens[i][int(pick[i] * len(train_tokens[i]))] for i in idx.tolist()]
            )
            images = normalize(augment(train_pixels[idx], size, args.min_crop, gen))
            img = model.encode_image(images, normalize=True)
            txt = model.encode_text(tokens, normalize=True)
            logits = model.logit_scale.exp() * img @ txt.T
            labels = torch.arange(len(idx))
            loss = (F.cross_entropy(logits, labels) + F.cross_entropy(logits.T, labels)) / 2
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            with torch.no_grad():
                model.logit_scale.clamp_(0, math.log(100))
            losses.append(loss.item())
            bar.set_postfix(loss=f"{loss.item():.3f}", scale=f"{model.logit_scale.exp().item():.1f}")
        bar.close()
        elapsed += time.monotonic() - began
        done = epoch + 1
        metrics = {"epoch": done, "loss": float(np.mean(losses)), "train_min": elapsed / 60,
                   "logit_scale": model.logit_scale.exp().item()}
        if (args.eval_every and done % args.eval_every == 0) or done == args.epochs:
            metrics.update(recall_at(model, eval_images, eval_tokens, eval_targets))
        print(
            f"epoch {done}/{args.epochs} loss {metrics['loss']:.3f} scale {metrics['logit_scale']:.1f} "
            + " ".join(f"{k} {metrics[k]:.3f}" for k in ("R@1", "R@5", "R@10") if k in metrics)
            + f" | {elapsed / 60:.1f} min",
            flush=True,
        )
        log.write(json.dumps(metrics) + "\n")
        log.flush()
        ckpt = args.out / f"epoch_{done:03d}.pt"
        torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(), "epoch": done,
                    "elapsed_s": elapsed, "args": vars(args) | {k: str(v) for k, v in vars(args).items()
                                                                 if isinstance(v, Path)}}, ckpt)
        for old in checkpoints(args.out)[: -args.keep]:
            old.unlink()
    log.close()

    final = fp16_state_dict(model)
    targets = [args.out / f"{arch}_fp16.pt"] + ([args.export] if args.export else [])
    for path in targets:
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.save(final, path)
        print(f"wrote {path} ({path.stat().st_size / 2**20:.1f} MiB)", flush=True)
    if metrics:
        print("final: " + json.dumps(metrics), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
