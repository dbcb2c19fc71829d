"""What the numbers mean: DAQI bands, the WHO guideline and the humidity corrections, at their edges."""

from __future__ import annotations

import numpy as np
import pytest

from walks.air import daqi_band, daqi_index, epa_pm25, kohler_dry, who_exceeded


@pytest.mark.parametrize(("pollutant", "value", "index", "band"), [
    ("pm25", 0, 1, "low"), ("pm25", 11, 1, "low"), ("pm25", 11.4, 1, "low"), ("pm25", 11.5, 2, "low"), ("pm25", 35, 3, "low"),
    ("pm25", 36, 4, "moderate"), ("pm25", 53, 6, "moderate"), ("pm25", 54, 7, "high"), ("pm25", 70, 9, "high"),
    ("pm25", 71, 10, "very_high"), ("pm25", 900, 10, "very_high"),
    ("pm10", 16, 1, "low"), ("pm10", 17, 2, "low"), ("pm10", 50, 3, "low"), ("pm10", 51, 4, "moderate"), ("pm10", 100, 9, "high"),
    ("pm10", 101, 10, "very_high"),
])
def test_daqi_index_and_band_at_the_edges_of_defras_table(pollutant, value, index, band):
    assert daqi_index(pollutant, [value]).tolist() == [index]
    assert daqi_band(daqi_index(pollutant, [value])).tolist() == [band]


def test_a_missing_value_has_no_index_and_no_band():
    assert daqi_index("pm25", [np.nan]).tolist() == [0] and daqi_band([0]).tolist() == [""]


def test_the_who_guideline_is_exceeded_only_above_its_level():
    assert who_exceeded("pm25", [14.9, 15.0, 15.1]).tolist() == [False, False, True]
    assert who_exceeded("pm10", [45.0, 45.5]).tolist() == [False, True]


def test_the_epa_correction_is_the_published_formula_within_its_range():
    assert epa_pm25([20.0], [50.0]).round(4).tolist() == [round(0.524 * 20 - 0.0862 * 50 + 5.75, 4)]
    assert epa_pm25([0.0], [100.0]).tolist() == [0.0]  # never negative
    assert np.isnan(epa_pm25([400.0], [50.0])[0])  # beyond the fit's range: no value rather than a wrong one


def test_kohler_leaves_dry_air_alone_and_shrinks_wet_readings():
    assert kohler_dry([20.0], [0.0], kappa=0.4).tolist() == [20.0]
    assert kohler_dry([20.0], [80.0], kappa=0.4).round(4).tolist() == [round(20 / (1 + 0.4 * 0.8 / 0.2), 4)]
    assert np.isfinite(kohler_dry([20.0], [100.0], kappa=0.4)).all()  # capped, never infinite


def test_kohler_needs_a_stated_physical_kappa():
    with pytest.raises(ValueError, match="state the hygroscopicity"):
        kohler_dry([1.0], [50.0], kappa=0)
