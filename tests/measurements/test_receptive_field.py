"""The measured receptive field of networks whose receptive field is known by construction."""

import torch.nn as nn

from pa3report.measurements import receptive_field as rf
from pa3report.models import CNN


def convs(*kernels: int) -> nn.Module:
    return nn.Sequential(*(nn.Conv2d(1, 1, k, padding=k // 2) for k in kernels))


def test_stacked_convolutions_add_their_kernels():
    assert rf.receptive_field(convs(3), 1, size=33) == 3
    assert rf.receptive_field(convs(3, 3), 1, size=33) == 5
    assert rf.receptive_field(convs(3, 3, 3), 1, size=33) == 7
    assert rf.receptive_field(convs(5, 3), 1, size=33) == 7


def test_pooling_doubles_what_follows():
    # conv3 at full size (3), pool 2 (+1), conv3 at half size (2 pixels per step: +4)
    net = nn.Sequential(nn.Conv2d(1, 1, 3, padding=1), nn.MaxPool2d(2), nn.Conv2d(1, 1, 3, padding=1),
                        nn.Upsample(scale_factor=2))
    assert rf.receptive_field(net, 1, size=32) in (7, 8)  # where the centre sits in its 2×2 cell


def test_the_cnn_grows_with_its_kernel():
    small, large = rf.receptive_field(CNN(3, 4), 1), rf.receptive_field(CNN(5, 4), 1)
    assert 10 < small < large <= 96
