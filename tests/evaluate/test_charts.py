"""The chart helpers: a chart that does not say what it shows is refused; the labels travel in the PNG; flat
zeros are drawn on a 0-100 scale; equal series are drawn once and named together; a missing value is marked,
not drawn as 0."""

import io

import pytest

from toolgym.analysis import Change, heatmap
from toolgym.evaluate import (
    MetricSummary,
    bar_figure,
    chart_labels,
    line_figure,
    pyplot,
    read_chart_labels,
    save_figure,
)
from toolgym.train.loop import plot_iterations

SCENARIOS = ("multi_hop", "parallel_multi_hop", "parallel_single_hop", "single_hop", "overall")


def test_a_chart_without_title_or_axis_labels_is_refused(tmp_path):
    plt = pyplot()
    fig, ax = plt.subplots()
    ax.plot([0, 1], [0, 1])
    ax.set_xlabel("step")
    with pytest.raises(ValueError, match="plot 0 has no y-axis label; plot 0 has no title"):
        save_figure(fig, tmp_path / "x.png")
    assert not (tmp_path / "x.png").exists()
    image = ax.imshow([[0, 1]])
    ax.set_ylabel("value")
    fig.suptitle("A figure title counts for every plot")
    fig.colorbar(image, ax=ax)
    with pytest.raises(ValueError, match="colour bar .* has no label"):
        chart_labels(fig)
    plt.close(fig)


def test_labels_are_written_into_the_png(tmp_path):
    fig = line_figure(["0", "1"], {"overall": [10.0, 20.0]}, title="T", xlabel="iteration", ylabel="Solve-F1 (%)")
    labels = chart_labels(fig)
    path = save_figure(fig, tmp_path / "c.png")
    assert read_chart_labels(path) == labels
    assert (labels.title, labels.axes[0].xlabel, labels.axes[0].ylabel) == ("T", "iteration", "Solve-F1 (%)")
    from PIL import Image

    with Image.open(path) as image:
        assert image.text["Title"] == "T" and image.text["Description"] == "T: Solve-F1 (%) by iteration"
        other = io.BytesIO()
        image.save(other, format="PNG")  # a PNG written elsewhere carries no labels
    assert read_chart_labels(other.getvalue()) is None


def test_flat_zeros_are_drawn_on_the_full_percent_scale_and_equal_lines_named_together(tmp_path):
    fig = line_figure(["0", "1", "2"], {s: [0.0, 0.0, 0.0] for s in SCENARIOS}, title="T", xlabel="x", ylabel="y")
    ax = fig.axes[0]
    low, high = ax.get_ylim()
    assert low <= 0 and high >= 100  # never -0.04..0.04
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == [", ".join(SCENARIOS) + " (equal)"] and len(ax.lines) == 1
    pyplot().close(fig)
    fig = line_figure(["0", "1"], {"a": [1.0, 2.0], "b": [1.0, 2.0], "overall": [3.0, None]}, title="T", xlabel="x",
                      ylabel="y")
    assert [t.get_text() for t in fig.axes[0].get_legend().get_texts()] == ["a, b (equal)", "overall"]
    assert len(fig.axes[0].lines[1].get_xdata()) == 1  # a missing point is not drawn
    pyplot().close(fig)


def test_the_loops_figure_five_names_every_line(tmp_path):
    rows = [{"iteration": k, "model": "m", **dict.fromkeys(SCENARIOS, 0.0)} for k in range(3)]
    path = plot_iterations(rows, tmp_path / "solve_f1.png")
    labels = read_chart_labels(path)
    assert labels.title.startswith("Solve-F1 per iteration") and labels.axes[0].ylabel == "Solve-F1 (%)"
    assert labels.axes[0].xlabel.startswith("iteration")


def test_a_missing_value_is_marked_and_a_real_zero_is_labelled():
    s = MetricSummary(0.5, 0.4, 0.6, 10)
    zero = MetricSummary(0.0, 0.0, 0.0, 10)
    empty = MetricSummary(float("nan"), float("nan"), float("nan"), 0)
    for horizontal in (True, False):
        fig = bar_figure(["a", "b", "c"], {"before": [s, None, zero], "after": [s, empty, s]}, title="T",
                         value_label="score (%)", category_label="item", horizontal=horizontal)
        ax = fig.axes[0]
        texts = [t.get_text() for t in ax.texts]
        assert texts.count("no result") == 2 and "0.0" in texts and texts.count("50.0") == 3
        assert len(ax.patches) == 4  # bars only for measured values
        assert "not a score of 0" in ax.get_title()
        pyplot().close(fig)


def test_the_heatmap_labels_both_axes_and_its_colour_bar(tmp_path):
    changes = [Change(layer, m, 0.01 * (layer + 1), 1.0, 1.0, 1) for layer in range(6) for m in ("mlp.up", "mlp.down")]
    labels = read_chart_labels(heatmap(changes, tmp_path / "w.png"))
    plot, bar = labels.axes
    assert (plot.xlabel, plot.ylabel) == ("module", "layer") and "relative change" in bar.ylabel
