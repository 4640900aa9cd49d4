"""Server-side SVG charts: valid SVG with a title, a description and the data as a table."""

from __future__ import annotations

from xml.etree import ElementTree

import pytest

from outreach.core.svgcharts import Series, bar_chart, line_chart, nice_max, stacked_bar_chart

SVG = "{http://www.w3.org/2000/svg}"


def parse(chart):
    return ElementTree.fromstring(str(chart.svg))


def test_bar_chart_has_title_desc_and_one_bar_per_value():
    chart = bar_chart(
        "Deliveries per day", ["1 Nov", "2 Nov", "3 Nov"], [Series("Sent", [4, 0, 10])]
    )
    root = parse(chart)
    assert root.get("role") == "img"
    assert root.find(f"{SVG}title").text == "Deliveries per day"
    assert "total 14, highest 10" in root.find(f"{SVG}desc").text
    bars = root.findall(f"{SVG}rect")
    assert [b.find(f"{SVG}title").text for b in bars] == [
        "1 Nov, Sent: 4",
        "2 Nov, Sent: 0",
        "3 Nov, Sent: 10",
    ]
    heights = [float(b.get("height")) for b in bars]
    assert heights[1] == 0 and heights[2] > heights[0] > 0
    assert chart.header == ["", "Sent"]
    assert chart.rows == [["1 Nov", "4"], ["2 Nov", "0"], ["3 Nov", "10"]]


def test_stacked_bars_add_up_and_the_table_has_totals():
    chart = stacked_bar_chart(
        "By type", ["A", "B"], [Series("NGO", [1, 3]), Series("NHRI", [2, 0])]
    )
    root = parse(chart)
    tips = [
        r.find(f"{SVG}title").text
        for r in root.findall(f"{SVG}rect")
        if r.find(f"{SVG}title") is not None
    ]
    assert tips == ["A, NGO: 1", "A, NHRI: 2", "B, NGO: 3"]
    assert chart.header == ["", "NGO", "NHRI", "Total"]
    assert chart.rows == [["A", "1", "2", "3"], ["B", "3", "0", "3"]]
    legend = [t.text for t in root.findall(f"{SVG}text")]
    assert "NGO" in legend and "NHRI" in legend


def test_line_chart_draws_one_line_per_series_and_escapes_names():
    chart = line_chart(
        "Subscribers", ["Mon", "Tue"], [Series("<en>", [1, 2]), Series("fr & es", [0, 5])]
    )
    root = parse(chart)
    assert len(root.findall(f"{SVG}polyline")) == 2
    points = [c.find(f"{SVG}title").text for c in root.findall(f"{SVG}circle")]
    assert points == ["Mon, <en>: 1", "Tue, <en>: 2", "Mon, fr & es: 0", "Tue, fr & es: 5"]
    assert "<en>" not in str(chart.svg)


def test_empty_chart_is_valid_and_says_so():
    chart = bar_chart("Nothing", [], [Series("Sent", [])])
    assert chart.empty
    assert parse(chart).find(f"{SVG}desc").text == "No data."


def test_values_must_match_labels():
    with pytest.raises(ValueError, match="2 values for 3 labels"):
        bar_chart("Bad", ["a", "b", "c"], [Series("x", [1, 2])])


@pytest.mark.parametrize(
    ("value", "top"), [(0, 1), (3, 5), (7, 10), (10, 10), (11, 20), (180, 200)]
)
def test_axis_top_is_a_round_number(value, top):
    assert nice_max(value) == top
