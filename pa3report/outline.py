"""The report's outline: problems, questions and which evidence each question shows.

Titles are the project's own short wording. Each evidence line names a kind: a shared
piece (pa3report/evidence/) or a measurement (pa3report/measurements/, one module each).
Shared pieces find runs by the question tags of the experiment list (experiments/*.toml),
never by run name, so a different list (a test's tiny one, a student's extra runs) still
lands in the right place; a measurement declares the runs it reads itself and shows as
pending while they are missing.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .config import QUESTIONS


@dataclass(frozen=True)
class Evidence:
    """One piece of evidence. kind names a registered evidence kind or measurement.

    tags: the runs tagged with any of these question ids (in list order, or sorted by `sort`).
    panels: curve panels (see figures.PANELS).
    """

    kind: str
    tags: tuple[str, ...] = ()
    panels: tuple[str, ...] = ()
    sort: str | None = None
    further: str = ""  # the title of the folded "Going further" part it belongs to ("" = unfolded)


@dataclass(frozen=True)
class Question:
    id: str
    title: str
    evidence: tuple[Evidence, ...] = ()

    @property
    def anchor(self) -> str:
        return "q" + self.id.replace(".", "-")


@dataclass(frozen=True)
class Problem:
    number: int
    title: str
    summary: str
    questions: tuple[Question, ...] = field(default_factory=tuple)

    @property
    def anchor(self) -> str:
        return f"p{self.number}"


def _e(kind: str, *tags: str, panels: tuple[str, ...] = (), sort: str | None = None,
       further: str = "") -> Evidence:
    return Evidence(kind, tuple(tags), panels, sort, further)


PROBLEMS: tuple[Problem, ...] = (
    Problem(1, "Colourization as regression",
            "A network maps the grey image straight to RGB values and is trained with squared error.", (
                Question("1.1", "What RegressionCNN is made of", (_e("architecture", "1.1"),)),
                Question("1.2", "How many epochs the default setting trains", (
                    _e("settings", "1.2"), _e("curves", "1.2", panels=("loss",)), _e("samples", "1.2"))),
                Question("1.3", "Training for fewer or more epochs", (
                    _e("curves", "1.3", panels=("loss", "val_mse"), sort="epochs"),
                    _e("samples", "1.3", sort="epochs"), _e("metrics", "1.3", sort="epochs"))),
                Question("1.4", "Why squared RGB distance is a poor measure of colour difference", (
                    _e("pairs"), _e("palette"))),
                Question("1.5", "What treating colour as a choice among classes fixes", (
                    _e("palette_swatch"), _e("samples", "1.5"), _e("colourfulness"),
                    _e("decoding", further="one distribution, three decodings"))),
            )),
    Problem(2, "Colourization as classification",
            "Each pixel is assigned one of a small set of k-means colours and trained with cross-entropy.", (
                Question("2.1", "The classification CNN built from MyConv2d", (_e("architecture", "2.1"),)),
                Question("2.2", "Classification CNN against the regression model", (
                    _e("curves", "1.2", "2.2", panels=("val_acc", "val_mse")),
                    _e("samples", "1.2", "2.2"), _e("metrics", "1.2", "2.2"), _e("colourfulness"), _e("edges"))),
            )),
    Problem(3, "Skip connections",
            "The UNet feeds each encoder output (and the grey input) forward to the decoder block of the same size.", (
                Question("3.1", "The UNet: the CNN plus skip connections", (_e("architecture", "3.1"),)),
                Question("3.2", "Do skip connections help? UNet against CNN", (
                    _e("curves", "2.2", "3.2", panels=("loss", "val_acc")),
                    _e("samples", "2.2", "3.2"), _e("metrics", "2.2", "3.2"), _e("edges"))),
                Question("3.3", "How the mini-batch size changes UNet training", (
                    _e("curves", "3.3", panels=("loss", "val_acc"), sort="batch_size"),
                    _e("samples", "3.3", sort="batch_size"),
                    _e("metrics", "3.3", sort="batch_size"),
                    _e("batch_scaling", further="learning rate scaled with the batch"),
                    _e("smoothness", further="smoothness of the curves"))),
            )),
    Problem(4, "Super-resolution",
            "The same networks learn to restore a 32×32 image from a 4× smaller version of it.", (
                Question("4.1", "Input and output resolution of the super-resolution data", (
                    _e("resolution", "4.1"),)),
                Question("4.2", "Learned upsampling against bilinear interpolation", (
                    _e("curves", "4.2", panels=("loss", "val_acc")), _e("samples", "4.2"),
                    _e("metrics", "4.2"), _e("sr_quality"))),
            )),
    Problem(5, "Intermediate activations",
            "What every block of a trained network outputs for a few test images, one tile per channel.", (
                Question("5.1", "Inside the colourization CNN", (
                    _e("gallery", "5.1"), _e("activations", further="block statistics"))),
                Question("5.2", "Inside the colourization UNet", (_e("gallery", "5.2"),)),
                Question("5.3", "Inside the super-resolution UNet", (_e("gallery", "5.3"),)),
            )),
    Problem(6, "Conceptual questions",
            "Short questions on tuning, layer order and image size, with small checks run on the trained models.", (
                Question("6.1", "Five hyper-parameters worth tuning", (
                    _e("hyper"), _e("sweep"), _e("rebalance", further="Weighting rare colours in the loss"),
                    _e("curves", "6.1", panels=("val_acc",)))),
                Question("6.2", "Swapping max-pooling and ReLU", (_e("relu_maxpool"),)),
                Question("6.3", "Colourizing images larger than 32×32", (
                    _e("large"), _e("receptive_field", further="The receptive field, layer by layer"))),
            )),
)


def questions(problems: tuple[Problem, ...] = PROBLEMS) -> tuple[Question, ...]:
    return tuple(q for p in problems for q in p.questions)


def kinds(problems: tuple[Problem, ...] = PROBLEMS) -> tuple[str, ...]:
    """Every evidence kind the outline shows, once, in page order."""
    return tuple(dict.fromkeys(ev.kind for q in questions(problems) for ev in q.evidence))


assert tuple(q.id for q in questions()) == QUESTIONS, "the outline must cover every question once, in order"
