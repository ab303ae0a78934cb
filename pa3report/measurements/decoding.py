"""From the classifier's distribution over colours to one colour per pixel (1.5, 2.2).

The networks give a probability for each palette colour. Taking the most likely colour
(argmax) keeps colours vivid but can flicker between neighbours; the mean colour of the
distribution is smooth but averages rival colours into grey, as regression does. The
annealed mean (softmax of the scores divided by a temperature T, then the mean) moves between
the two: T → 0 is the argmax, T = 1 the mean; T = 0.38 is the value Zhang, Isola and Efros
(ECCV 2016) chose. No training: the trained CNN and UNet are decoded three ways.

Where the distribution is spread the colour is ambiguous: the per-pixel entropy (bits; 0 is
certain, log2 24 ≈ 4.6 is uniform) and the two most likely colours show where.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from .. import data as data_mod
from .. import mosaics
from ..fields import Fields
from ..fsutil import content_key
from ..page import Item, Page, cell, table
from ..trained import delta_e2000, psnr
from . import Bench, Measurement, Network, Reads, register, seeded_row, spread
from .colourfulness import colourfulness

ANNEALED_T = 0.38
# (name, label, temperature); temperature 0 stands for the argmax.
DECODERS = (("argmax", "most likely colour (argmax)", 0.0),
            ("annealed", f"annealed mean, T = {ANNEALED_T}", ANNEALED_T),
            ("mean", "mean colour, T = 1", 1.0))
METRICS = ("delta_e", "psnr", "vivid", "chroma")
# the pixels the entropy is averaged over: all, and those whose most likely colour is right or wrong
PIXELS = ("all", "right", "wrong")
SHOWN = 4  # test images in the figure
BATCH = 250


def decode_scores(scores: torch.Tensor, palette: torch.Tensor, temperature: float) -> torch.Tensor:
    """(N, Q, H, W) scores -> (N, 3, H, W) colours: the annealed mean at `temperature` (0: argmax)."""
    if temperature <= 0:
        return data_mod.decode(scores.argmax(1), palette)
    weights = F.softmax(scores.float() / temperature, dim=1)
    return torch.einsum("nqhw,qc->nchw", weights, palette.float())


def entropy_bits(scores: torch.Tensor) -> torch.Tensor:
    """(N, Q, H, W) scores -> (N, H, W) entropy of each pixel's colour distribution, in bits."""
    logp = F.log_softmax(scores.float(), dim=1)
    return -(logp.exp() * logp).sum(1) / math.log(2)


@torch.inference_mode()
def scores_of(model: torch.nn.Module, grey: torch.Tensor) -> torch.Tensor:
    return torch.cat([model(grey[i:i + BATCH]).float() for i in range(0, len(grey), BATCH)])


def decoded(scores: torch.Tensor, truth: torch.Tensor, palette: torch.Tensor) -> dict[str, Any]:
    """Every decoder's colour error and colourfulness ({decoder: {metric: value}}), and how certain
    the network is: the mean entropy over the PIXELS (where the argmax is right or wrong against
    the truth snapped to the palette) and the share of the two most likely colours."""
    out: dict[str, Any] = {}
    for name, _, t in DECODERS:
        rgb = decode_scores(scores, palette, t)
        c = colourfulness(rgb)
        out[name] = {"delta_e": delta_e2000(rgb, truth), "psnr": psnr(rgb, truth),
                     "vivid": c["vivid"], "chroma": c["chroma"]}
    h = entropy_bits(scores)
    right = scores.argmax(1) == data_mod.quantize(truth, palette)
    top2 = F.softmax(scores, dim=1).topk(2, dim=1).values.sum(1)
    out["entropy"] = dict(zip(PIXELS, (float(h.mean()), float(h[right].mean()), float(h[~right].mean()))))
    out["top_two_share"] = 100.0 * float(top2.mean())
    return out


def compute(bench: Bench) -> dict[str, Any]:
    truth, grey, palette = bench.truth, bench.grey, bench.palette
    out: dict[str, Any] = {"test_images": len(truth)}
    shown: dict[str, Any] = {}

    def measure(run) -> dict[str, float]:
        scores = scores_of(bench.model(run), grey)
        if run.experiment.base not in shown:  # the first seed's pictures
            s = scores[:SHOWN]
            second = s.topk(2, dim=1).indices[:, 1]
            shown[run.experiment.base] = {
                "run": run.name, "entropy": entropy_bits(s).half(),
                "second": data_mod.decode(second, palette).half(),
                **{name: decode_scores(s, palette, t).half() for name, _, t in DECODERS}}
        return decoded(scores, truth, palette)

    out.update(bench.over_networks(measure))
    out["shown"] = shown
    out["images"] = {"grey": grey[:SHOWN].half(), "truth": truth[:SHOWN].half()}
    return out


def view(found: dict[str, Any] | None, networks: tuple[Network, ...]) -> Fields:
    found = found or {}

    def rows(base: str) -> Fields:
        raw = found.get(base)
        pairing = {"pairing": raw["pairing"]} if raw else {}
        per = {name: seeded_row(f"analysis.decoding.{base}.{name}", {**raw[name], **pairing} if raw else None,
                                METRICS) for name, _, _ in DECODERS}
        # the entropy over each kind of pixel as rows of one metric, so answers compare the pixels
        # where the argmax is right and where it is wrong seed by seed like any two rows
        for part in PIXELS:
            values = ({"entropy": raw["entropy"][part], "top_two_share": raw["top_two_share"], **pairing}
                      if raw else None)
            per[part] = seeded_row(f"analysis.decoding.{base}.{part}", values, ("entropy", "top_two_share"))
        return Fields(f"analysis.decoding.{base}", per)

    return Fields("analysis.decoding", {"temperature": ANNEALED_T, **{n.name: rows(n.name) for n in networks}})


def show(page: Page, found: dict[str, Any], v: Fields, networks: tuple[Network, ...]) -> list[Item]:
    nets = [(n.name, n.label) for n in networks if n.name in found]
    if not nets:
        return []
    rows = []
    for base, label in nets:
        best = {m: (min if m == "delta_e" else max)((n for n, _, _ in DECODERS), key=lambda n: v[base][n][m])
                for m in ("delta_e", "psnr")}
        for name, dec_label, _ in DECODERS:
            row = v[base][name]
            rows.append([cell(label), cell(dec_label), cell(row["seeds"], numeric=True)]
                        + [spread(row, m, best=best.get(m) == name) for m in METRICS])
    items: list[Item] = [table(
        f"One trained network, three ways to turn its colour probabilities into a colour, over all "
        f"{found['test_images']:,} test images; mean ± standard deviation over the seeds (the best decoding of "
        "each network highlighted for ΔE2000, lower is better, and PSNR). Clearly coloured: CIELAB chroma "
        "above 20.",
        ["Network", "Decoding", ("Seeds", True), ("ΔE2000", True), ("PSNR", True),
         ("Clearly coloured pixels", True), ("Mean chroma", True)], rows)]
    certainty = []
    for base, label in nets:
        certainty.append([cell(label), cell(v[base]["all"]["seeds"], numeric=True)]
                         + [spread(v[base][part], "entropy") for part in PIXELS]
                         + [cell(f"{v[base]['all']['top_two_share']:.1f}%", numeric=True)])
    items.append(table(
        "How sure the networks are: the mean entropy of each pixel's colour distribution (bits; 0 is "
        f"certain, {math.log2(data_mod.NUM_COLOURS):.2f} is all {data_mod.NUM_COLOURS} colours equally "
        "likely), over all pixels and over the pixels whose most likely colour is right or wrong (against "
        "the truth snapped to the palette), and the mean probability of the two most likely colours together",
        ["Network", ("Seeds", True), ("Entropy, all pixels", True), ("… where right", True),
         ("… where wrong", True), ("Top two colours' probability", True)], certainty))
    items.append(_figure(page, found, nets))
    return items


def _figure(page: Page, found: dict[str, Any], nets: list[tuple[str, str]]) -> Item:
    top = math.log2(data_mod.NUM_COLOURS)
    columns = ["grey input", "truth", "argmax", f"T = {ANNEALED_T}", "mean (T = 1)", "2nd most likely",
               "entropy"]

    def draw(path: Path) -> None:
        rows = []
        for base, label in nets:
            s = found["shown"][base]
            for i in range(len(s["entropy"])):
                rows.append((f"{label}, image {i}", [
                    found["images"]["grey"][i].float(), found["images"]["truth"][i].float(),
                    s["argmax"][i].float(), s["annealed"][i].float(), s["mean"][i].float(),
                    s["second"][i].float(), mosaics.heat_image(s["entropy"][i], top)]))
        mosaics.image_table(path, rows, columns, tile=128,
                            legend=("entropy (bits)", "0 (sure)", f"{top:.1f} (all alike)"))

    runs = ", ".join(found["shown"][base]["run"] for base, _ in nets)
    return page.maker.make(
        "img/decoding.png", {"decoding": content_key({"shown": found["shown"], "images": found["images"]}),
                             "rows": nets},
        draw, alt="one classifier's output decoded three ways, with its second choice and entropy",
        caption=f"{runs} on the first {SHOWN} test images: the colour distribution decoded by argmax, by the "
                f"annealed mean and by the mean; the second most likely colour; and the entropy of each "
                f"pixel's distribution (dark: sure, yellow: {top:.1f} bits, every colour equally likely).")


MEASUREMENT = register(Measurement("decoding", compute, view, show, reads=Reads()))
