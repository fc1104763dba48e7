"""notebooks/05-audit.ipynb: parameterised, stored without outputs, thin over lib/, and it
executes and renders (papermill + the report package's nbconvert helpers)."""

from __future__ import annotations

import json

import nbformat

from proxylab.audit import nb
from proxylab.audit.synth import SynthOptions, write_log
from proxylab.cli import main


def test_notebook_is_clean_and_parameterised():
    book = nbformat.read(str(nb.notebook_path()), as_version=4)
    code = [c for c in book.cells if c.cell_type == "code"]
    assert "parameters" in code[0].metadata.get("tags", [])
    for c in code:
        assert c.outputs == [] and c.execution_count is None
        assert len(c.source.splitlines()) <= 6  # thin: the work is in proxylab.audit.nb


def test_timeline_png_single_and_many_buckets(tmp_path):
    log = tmp_path / "a.log"
    write_log(str(log), SynthOptions(lines=500, seed=2))
    res = nb.audit([str(log)], bucket_seconds=5, check_botocore=False)
    assert res.timeline["bucket"].nunique() > 1
    assert nb.timeline_png(res, "requests", "region")[:4] == b"\x89PNG"
    one = nb.audit([str(log)], bucket_seconds=86400, check_botocore=False)
    assert nb.timeline_png(one, "bytes", "service")[:4] == b"\x89PNG"


def _buckets(n: int, tmp_path):
    log = tmp_path / "a.log"
    write_log(str(log), SynthOptions(lines=3000, seed=3))
    for b in (60, 20, 10, 5, 2, 1):
        res = nb.audit([str(log)], bucket_seconds=b, check_botocore=False)
        if res.timeline["bucket"].nunique() >= n:
            return res
    raise AssertionError("the synthetic log spans too little time")


def test_timeline_draws_no_trend_between_few_buckets_and_keeps_colours(tmp_path):
    """A few buckets are bars (an area would draw a slope between two counts); many are
    steps, flat within each bucket. A region has one colour in every chart; the legend
    is below the axes, over no data."""
    import matplotlib.pyplot as plt
    from matplotlib.collections import PolyCollection

    few = _buckets(2, tmp_path)
    assert few.timeline["bucket"].nunique() <= nb.BARS_UP_TO
    colour = nb.colours(few, "region")
    figs = [nb.timeline_figure(few, m, "region") for m in ("bytes", "requests")]
    for fig in figs:
        ax = fig.axes[0]
        assert not [c for c in ax.collections if isinstance(c, PolyCollection)]
        bars = {}
        for cont in ax.containers:
            bars[cont.get_label()] = cont.patches[0].get_facecolor()
        import matplotlib.colors as mc

        for name, face in bars.items():
            assert mc.to_hex(face) == colour[name].lower(), name
        fig.canvas.draw()
        legend = fig.legends[0].get_window_extent()
        assert legend.y1 <= ax.get_window_extent().y0  # below the plot, hiding nothing
        plt.close(fig)
    many = _buckets(nb.BARS_UP_TO + 1, tmp_path)
    fig = nb.timeline_figure(many, "requests", "region")
    assert [c for c in fig.axes[0].collections if isinstance(c, PolyCollection)]
    plt.close(fig)


def test_cli_report_renders_html_and_markdown(tmp_path, capfd):
    log = tmp_path / "access.log.gz"
    write_log(str(log), SynthOptions(lines=2000, seed=3))
    out = tmp_path / "rep"
    assert main(["audit", str(log), "--format", "json", "--bucket", "600",
                 "--report", str(out)]) == 0
    # the kernel's transport warning and shutdown chatter go to kernel.log, not the terminal
    err = capfd.readouterr().err
    assert "IPKernelApp" not in err and "WARNING" not in err and "KeyboardInterrupt" not in err
    assert (out / "kernel.log").is_file()
    executed = nbformat.read(str(out / "05-audit.ipynb"), as_version=4)
    errors = [o for c in executed.cells if c.cell_type == "code" for o in c.get("outputs", [])
              if o.get("output_type") == "error"]
    assert not errors, json.dumps(errors)[:2000]
    html = (out / "audit.html").read_text()
    assert html.count("data:image/png;base64") >= 4 and "NO_PROXY=" in html
    md = (out / "audit.md").read_text()
    assert "s3.ap-northeast-1.amazonaws.com" in md
    assert len(list((out / "audit_files").glob("*.png"))) >= 4
