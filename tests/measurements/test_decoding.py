"""Decoding the classifier's colour distribution: argmax, annealed mean and mean, on known scores."""

import math

import torch

from pa3report.measurements import decoding

from ..runkit import run, runs

PALETTE = torch.tensor([[0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])


def scores() -> torch.Tensor:
    s = torch.randn(2, 3, 4, 4, generator=torch.Generator().manual_seed(1))
    return s


def test_a_cold_temperature_gives_the_argmax_and_t1_the_mean():
    s = scores()
    argmax = decoding.decode_scores(s, PALETTE, 0.0)
    assert torch.equal(argmax, PALETTE[s.argmax(1)].permute(0, 3, 1, 2))
    cold = decoding.decode_scores(s, PALETTE, 1e-4)
    assert torch.allclose(cold, argmax, atol=1e-5)
    mean = decoding.decode_scores(s, PALETTE, 1.0)
    want = torch.einsum("nqhw,qc->nchw", s.softmax(1), PALETTE)
    assert torch.allclose(mean, want, atol=1e-6)
    annealed = decoding.decode_scores(s, PALETTE, decoding.ANNEALED_T)
    # the annealed mean lies between the two: closer to the argmax than the mean is
    assert (annealed - argmax).abs().mean() < (mean - argmax).abs().mean()


def test_entropy_in_bits():
    certain = torch.tensor([100.0, 0.0, 0.0]).reshape(1, 3, 1, 1)
    uniform = torch.zeros(1, 3, 1, 1)
    assert decoding.entropy_bits(certain).item() < 1e-6
    assert math.isclose(decoding.entropy_bits(uniform).item(), math.log2(3), rel_tol=1e-6)


def test_decoded_reports_every_decoder_and_where_it_is_unsure():
    truth = torch.zeros(1, 3, 2, 2)
    truth[:, 0, 0] = 1.0  # top row red, bottom row black
    s = torch.zeros(1, 3, 2, 2)
    s[0, 1, 0] = 10.0  # sure of red on the top row (right)
    s[0, 2, 1] = 0.5  # unsure between the three on the bottom row, blue ahead (wrong)
    out = decoding.decoded(s, truth, PALETTE)
    assert out["argmax"]["psnr"] < 100 and out["entropy"]["wrong"] > out["entropy"]["right"]
    assert all(set(out[d]) == set(decoding.METRICS) for d, _, _ in decoding.DECODERS)
    assert set(out["entropy"]) == set(decoding.PIXELS) and 0 < out["top_two_share"] <= 100


def test_view_pairs_the_decoders_of_one_network():
    raw = {d: {m: [1.0, 2.0] for m in decoding.METRICS} for d, _, _ in decoding.DECODERS}
    raw["entropy"] = {"all": [1.0, 1.2], "right": [0.5, 0.7], "wrong": [1.0, 1.5]}
    raw["top_two_share"] = [60.0, 70.0]
    raw["pairing"] = {"model": "CNN", "seeds": [0, 1]}
    rs = runs(run("cnn", model="CNN", measured=(("decoding", "CNN"),)), run("unet", measured=(("decoding", "UNet"),)))
    v = decoding.view({"cnn": raw}, decoding.MEASUREMENT.networks(rs))
    assert v["cnn"]["annealed"]["seeds"] == 2 and v["cnn"]["annealed"]["pairing"]["model"] == "CNN"
    assert not v["unet"]["argmax"]["available"] and math.isnan(v["unet"]["wrong"]["entropy"])
    assert v["cnn"]["wrong"]["entropy"] == 1.25 and v["cnn"]["right"]["pairing"]["seeds"] == (0, 1)
    assert v["cnn"]["all"]["top_two_share"] == 65.0
