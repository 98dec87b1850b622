"""Pictures: `sco-etl plot` PNGs and the rates run's board artifact, over the synthetic history."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa
import pytest
from matplotlib.image import imread
from typer.testing import CliRunner

from sco_etl.flows.cli import app
from sco_etl.schemas import CURRENCIES, RATES
from sco_etl.schemas.errors import NoDataError
from sco_etl.tasks import plot
from sco_etl.tasks.cbr.board import board_for, board_markdown
from sco_etl.warehouse import Warehouse, reports

D = dt.date
IDS = {"R01375": "CNY", "R01335": "KZT", "R01270": "INR"}


@pytest.fixture(scope="module")
def stored(tmp_path_factory, cbr_history) -> Warehouse:
    """CNY, KZT and INR from June 1997 to the end of 2021, as CBR published them."""
    warehouse = Warehouse(tmp_path_factory.mktemp("plot") / "data", lock_timeout=5)
    loaded = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
    rows = []
    for cbr_id, code in IDS.items():
        for day, (nominal, value) in cbr_history.values[cbr_id].items():
            if D(1997, 6, 1) <= day <= D(2021, 12, 31):
                rows.append({"rate_date": day, "cbr_id": cbr_id, "char_code": code,
                             "num_code": cbr_history.by_id[cbr_id].num_code, "nominal": nominal,
                             "value": value, "unit_rate": value / nominal,
                             "frequency": "daily", "loaded_at": loaded, "run_id": "test"})
    directory = [{"cbr_id": cbr_id, "parent_id": None, "char_code": code,
                  "num_code": cbr_history.by_id[cbr_id].num_code,
                  "name_ru": cbr_history.by_id[cbr_id].name_ru,
                  "name_en": cbr_history.by_id[cbr_id].name_en, "nominal": 1,
                  "frequency": "daily", "source": "directory"} for cbr_id, code in IDS.items()]
    with warehouse.write() as writer:
        writer.upsert(RATES, pa.Table.from_pylist(rows, schema=RATES.arrow_schema))
        writer.replace(CURRENCIES, pa.Table.from_pylist(directory, schema=CURRENCIES.arrow_schema))
    return warehouse


def test_the_figure_has_one_line_per_currency_indexed_to_100(stored):
    table = reports.rate_series(stored, ["CNY", "KZT", "INR"], D(2020, 1, 1), D(2021, 12, 31))
    figure = plot.rates_figure(plot.series_from_table(table))
    (axes,) = figure.axes
    lines = [line for line in axes.get_lines() if not line.get_label().startswith("_")]
    assert [line.get_label() for line in lines] == ["CNY", "INR", "KZT"]
    for line in lines:
        days, values = line.get_data()
        assert values[0] == pytest.approx(100.0)
        # Calendar-filled: a value on every day, the first day (a holiday) included.
        assert (days[0], days[-1], len(days)) == (D(2020, 1, 1), D(2021, 12, 31), 731)
    assert [t.get_text() for t in axes.get_legend().get_texts()] == ["CNY", "INR", "KZT"]


def test_per_unit_values_cross_1998_without_a_thousandfold_jump(stored):
    table = reports.rate_series(stored, ["CNY"], D(1997, 12, 20), D(1998, 1, 20))
    values = table.column("rub_per_unit").to_pylist()
    assert max(values) / min(values) < 1.2  # restated in post-1998 rubles
    figure = plot.rates_figure(plot.series_from_table(table), per_unit=True)
    assert figure.axes[0].get_ylabel() == "rubles per one unit"


def test_per_unit_uses_a_log_axis_when_magnitudes_differ():
    days = (D(2025, 4, 1), D(2025, 4, 2))
    cny, kzt = plot.Series("CNY", days, (11.5, 11.4)), plot.Series("KZT", days, (0.17, 0.16))
    assert plot.rates_figure([cny, kzt], per_unit=True).axes[0].get_yscale() == "log"
    assert plot.rates_figure([cny], per_unit=True).axes[0].get_yscale() == "linear"


def test_the_plot_command_writes_a_png_with_the_lines_drawn(stored, tmp_path, monkeypatch):
    monkeypatch.setenv("SCO_ETL_DATA_DIR", str(stored.root))
    output = tmp_path / "chart.png"
    result = CliRunner().invoke(app, ["plot", "--currencies", "CNY,KZT,INR,MVR", "--start",
                                      "2020-01-01", "--end", "2021-12-31", "--output",
                                      str(output)])
    assert result.exit_code == 0, result.output
    assert "CNY, KZT, INR, 2020-01-01..2021-12-31" in result.output
    assert "no rates stored for: MVR" in result.output  # an SCO currency CBR does not quote
    assert 20_000 < output.stat().st_size < 500_000
    pixels = imread(output)
    width, height = plot.FIGURE_SIZE[0] * plot.DPI, plot.FIGURE_SIZE[1] * plot.DPI
    assert pixels.shape[:2] == (round(height), round(width))
    rgb = pixels[..., :3]
    assert (rgb < 0.9).any(axis=-1).mean() > 0.01  # not blank: lines, text, axes
    # The three line colours of the default cycle (blue, orange, green) are all drawn.
    for colour in ((0.122, 0.467, 0.706), (1.0, 0.498, 0.055), (0.173, 0.627, 0.173)):
        assert (np.abs(rgb - colour).max(axis=-1) < 0.02).sum() > 200


def test_plotting_currencies_with_no_rates_is_a_clear_error(stored, tmp_path):
    with pytest.raises(NoDataError, match=r"no rates stored for TJS from 2020-01-01"):
        plot.plot_rates(stored, ["TJS"], D(2020, 1, 1), output=tmp_path / "x.png")
    assert not (tmp_path / "x.png").exists()


def test_defaults_are_the_members_currencies_over_five_years():
    assert plot.member_currency_codes(D(2025, 1, 1)) == [
        "CNY", "KZT", "KGS", "TJS", "UZS", "INR", "PKR", "IRR", "BYN"]
    assert plot.member_currency_codes(D(2010, 1, 1)) == ["CNY", "KZT", "KGS", "TJS", "UZS"]
    assert plot.default_start(D(2025, 4, 1)) == D(2020, 4, 1)
    assert plot.default_start(D(2024, 2, 29)) == D(2019, 2, 28)


def test_the_board_markdown_lists_the_days_rates(stored, cbr_history):
    markdown = board_for(stored, D(2021, 12, 31))
    assert markdown.startswith("### SCO currencies / ruble, effective 2021-12-31\n")
    assert "| Country | Code | Currency | Den. | Rate | Set for | Status |" in markdown
    nominal, value = cbr_history.values["R01375"][D(2021, 12, 31)]
    assert f"| China | CNY | China Yuan | {nominal} | {value} | 2021-12-31 | member |" in markdown
    assert "| Russia |" not in markdown  # the ruble is the base, not a row
    assert board_markdown(pa.table({}), None).endswith("No rates stored yet.\n")


def test_the_board_is_published_as_a_markdown_artifact(prefect_harness, stored):
    from prefect import flow, get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    from sco_etl.tasks.cbr.board import ARTIFACT_KEY, publish_board

    @flow
    def rates_run() -> str:
        return publish_board(stored)

    markdown = rates_run()
    assert "effective 2021-12-31" in markdown  # the newest stored date by default
    with get_client(sync_client=True) as client:
        artifacts = client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[ARTIFACT_KEY])))
    artifact = max(artifacts, key=lambda a: a.created)
    assert artifact.type == "markdown"
    assert artifact.data == markdown
