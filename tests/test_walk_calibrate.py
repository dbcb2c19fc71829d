"""Corrected values next to the raw ones: device calibration, kit agreement in the co-location window, humidity."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from hardware.calibration import Fit, to_toml
from walks.calibrate import (MIN_MINUTES, apply_calibration, apply_ratios, colocation_ratios, humidity_correction,
                             load_fits)

MIN = 60 * 1_000_000_000
LINEAR = Fit(model="linear", slope=2.0, intercept=1.0, n=200, r2=0.9, rmse=1.5, raw_min=0.0, raw_max=10.0)
WITH_RH = Fit(model="linear_rh", slope=0.5, intercept=5.0, rh_coef=-0.1, n=200, r2=0.8, rmse=2.5, raw_min=0.0, raw_max=50.0)


def _readings(**columns) -> pd.DataFrame:
    return pd.DataFrame({"kit": ["kit-a", "kit-a", "kit-b"], "t": np.arange(3, dtype=np.int64) * MIN, **columns})


def _report(kit, field, fit, n_calibrated, n_extrapolated=0, n_missing_rh=0) -> dict:
    entry = {"kit": kit, "field": field, "model": fit.model if fit else None}
    if fit:
        entry.update(slope=fit.slope, intercept=fit.intercept, rh_coef=fit.rh_coef if fit.model == "linear_rh" else None,
                     r2=fit.r2, raw_range=[fit.raw_min, fit.raw_max])
    entry.update(n_calibrated=n_calibrated, n_extrapolated=n_extrapolated, n_missing_rh=n_missing_rh)
    return entry


# --- device calibration ---

def test_calibration_adds_a_cal_column_and_leaves_the_raw_columns_as_they_were():
    readings = _readings(pm25=[1.0, 2.0, 3.0], temp=[20.0, 21.0, 22.0])
    before = readings.copy()
    out, _ = apply_calibration(readings, {"kit-a": {"pm25": LINEAR}, "kit-b": {"pm25": LINEAR}})
    pd.testing.assert_frame_equal(readings, before)
    pd.testing.assert_frame_equal(out, before.assign(pm25_cal=[3.0, 5.0, 7.0]))


def test_a_kit_without_a_fit_gets_nan_and_the_report_says_it_has_no_model():
    out, report = apply_calibration(_readings(pm25=[1.0, 2.0, 3.0]), {"kit-a": {"pm25": LINEAR}, "kit-b": {}})
    assert out["pm25_cal"].tolist()[:2] == [3.0, 5.0] and np.isnan(out["pm25_cal"].iloc[2])
    assert report == [_report("kit-a", "pm25", LINEAR, 2), _report("kit-b", "pm25", None, 0)]


def test_a_humidity_fit_uses_each_readings_rh_and_gives_nan_where_rh_is_missing():
    readings = _readings(pm25=[10.0, 10.0, 10.0], rh=[50.0, np.nan, 80.0])
    out, report = apply_calibration(readings, {"kit-a": {"pm25": WITH_RH}, "kit-b": {"pm25": WITH_RH}})
    expected = [0.5 * 10 + 5 - 0.1 * 50, np.nan, 0.5 * 10 + 5 - 0.1 * 80]
    np.testing.assert_allclose(out["pm25_cal"], expected)
    assert report == [_report("kit-a", "pm25", WITH_RH, 1, n_missing_rh=1), _report("kit-b", "pm25", WITH_RH, 1)]


def test_a_missing_raw_value_stays_missing_and_is_not_counted_even_as_missing_rh():
    readings = _readings(pm25=[np.nan, 2.0, 3.0], rh=[np.nan, 50.0, 50.0])
    out, report = apply_calibration(readings, {"kit-a": {"pm25": WITH_RH}})
    assert np.isnan(out["pm25_cal"].iloc[0]) and out["pm25_cal"].iloc[1] == 0.5 * 2 + 5 - 0.1 * 50
    assert report[0] == _report("kit-a", "pm25", WITH_RH, 1)


def test_values_outside_the_range_the_colocation_saw_are_corrected_and_counted_as_extrapolated():
    out, report = apply_calibration(_readings(pm25=[-1.0, 10.0, 11.0]), {"kit-a": {"pm25": LINEAR}, "kit-b": {"pm25": LINEAR}})
    assert out["pm25_cal"].tolist() == [0.0, 21.0, 23.0]  # -1 is corrected to 0: never below zero
    assert [(e["kit"], e["n_calibrated"], e["n_extrapolated"]) for e in report] == [("kit-a", 2, 1), ("kit-b", 1, 1)]


def test_the_vectorised_correction_gives_what_fit_apply_gives_for_each_reading():
    readings = pd.DataFrame({"kit": ["kit-a", "kit-b"] * 3, "t": np.arange(6) * MIN,
                             "pm25": [0.0, 3.5, 12.0, 40.0, 60.0, 1.0], "rh": [30.0, 95.0, 60.0, 55.0, 10.0, 99.0]})
    out, _ = apply_calibration(readings, {"kit-a": {"pm25": LINEAR}, "kit-b": {"pm25": WITH_RH}})
    fits = {"kit-a": LINEAR, "kit-b": WITH_RH}
    expected = [fits[k].apply(v, rh=h) for k, v, h in zip(readings["kit"], readings["pm25"], readings["rh"])]
    np.testing.assert_allclose(out["pm25_cal"], expected)


def test_the_report_is_plain_json():
    fit = Fit(model="linear", slope=1.0, intercept=0.0, raw_min=float("-inf"), raw_max=float("inf"))  # a file without raw_range
    _, report = apply_calibration(_readings(pm25=[1.0, 2.0, 3.0]), {"kit-a": {"pm25": fit}})
    assert json.loads(json.dumps(report, allow_nan=False))[0]["raw_range"] == [None, None]
    assert report[0]["r2"] is None and report[0]["n_extrapolated"] == 0


def test_load_fits_reads_each_kits_file_and_gives_nothing_for_a_kit_never_colocated(tmp_path):
    (tmp_path / "kit-a.toml").write_text(to_toml("kit-a", {"pm25": WITH_RH, "temp": LINEAR}, colocation={"site": "x"}))
    assert load_fits(["kit-a", "kit-b"], directory=tmp_path) == {"kit-a": {"pm25": WITH_RH, "temp": LINEAR}, "kit-b": {}}


def test_fits_loaded_from_files_calibrate_every_field_they_cover(tmp_path):
    (tmp_path / "kit-a.toml").write_text(to_toml("kit-a", {"temp": LINEAR}, colocation={}))
    readings = _readings(pm25=[1.0, 2.0, 3.0], temp=[2.0, 4.0, 6.0])
    out, _ = apply_calibration(readings, load_fits(["kit-a", "kit-b"], directory=tmp_path))
    pd.testing.assert_frame_equal(out, readings.assign(temp_cal=[5.0, 9.0, np.nan]))


# --- kit agreement in the co-location window ---

def _colocation(values: dict[str, list[float]], start_minute: int = 0) -> pd.DataFrame:
    """One reading a minute per kit (NaN: none), from ``start_minute``."""
    rows = [(kit, (start_minute + i) * MIN + 5_000_000_000, v) for kit, vs in values.items() for i, v in enumerate(vs)]
    frame = pd.DataFrame(rows, columns=["kit", "t", "pm25"]).dropna()
    return frame.reset_index(drop=True)


def _entry(ratio, kit_median, group_median, n_readings, n_minutes, iqr, why=None) -> dict:
    return {"ratio": ratio, "why": why, "kit_median": kit_median, "group_median": group_median,
            "n_readings": n_readings, "n_minutes": n_minutes, "iqr": iqr}


def test_each_kits_ratio_is_its_median_over_the_groups_median_in_the_same_minutes():
    readings = _colocation({"a": [10, 10, 10, 10, 12], "b": [8, 8, 8, 8, 8], "c": [20, 20, 20, 20, 20]})
    assert colocation_ratios(readings, 0, 5 * MIN, fields=("pm25",)) == {"pm25": {
        "a": _entry(1.0, 10.0, 10.0, 5, 5, 0.0),
        "b": _entry(0.8, 8.0, 10.0, 5, 5, 0.0),
        "c": _entry(2.0, 20.0, 10.0, 5, 5, 0.0),
    }}


def test_pairing_by_minute_cancels_what_the_air_did_while_a_kit_was_missing():
    # Kit c starts late, when the air has turned dirtier, and reads as the others do.
    # Its whole-window median (40) is twice the others' (20), but it is no worse a kit.
    readings = _colocation({"a": [20] * 5 + [40] * 5, "b": [20] * 5 + [40] * 5, "c": [np.nan] * 5 + [40] * 5})
    ratios = colocation_ratios(readings, 0, 10 * MIN, fields=("pm25",))["pm25"]
    assert {kit: e["ratio"] for kit, e in ratios.items()} == {"a": 1.0, "b": 1.0, "c": 1.0}
    assert ratios["c"]["n_readings"] == 5 and ratios["a"]["n_minutes"] == 5  # only the minutes all three read count


def test_a_group_of_two_kits_gives_no_ratio_and_says_why():
    readings = _colocation({"a": [10.0] * 6, "b": [14.0] * 6})
    ratios = colocation_ratios(readings, 0, 6 * MIN, fields=("pm25",))["pm25"]
    why = ("only 2 kits read pm25 in the co-location window: a ratio to the median of 2 is a ratio to their mean; "
           "co-locate at least 3 kits")
    assert ratios == {"a": _entry(None, None, None, 6, 0, 0.0, why), "b": _entry(None, None, None, 6, 0, 0.0, why)}


def test_a_kit_with_too_few_shared_minutes_gives_no_ratio_and_the_others_still_do():
    few = MIN_MINUTES - 1
    readings = _colocation({"a": [10.0] * 8, "b": [10.0] * 8, "c": [10.0] * 8, "d": [np.nan] * (8 - few) + [30.0] * few})
    ratios = colocation_ratios(readings, 0, 8 * MIN, fields=("pm25",))["pm25"]
    assert ratios["d"] == _entry(None, 30.0, 10.0, few, few, 0.0,
                                 f"only {few} minutes of pm25 alongside at least 3 kits; a ratio needs {MIN_MINUTES}: "
                                 "keep the kits together longer")
    assert [ratios[k]["ratio"] for k in "abc"] == [1.0, 1.0, 1.0]


def test_readings_outside_the_window_are_not_used():
    readings = _colocation({"a": [10.0] * 5 + [99.0] * 3, "b": [10.0] * 8, "c": [10.0] * 8})
    ratios = colocation_ratios(readings, 0, 5 * MIN, fields=("pm25",))["pm25"]
    assert ratios["a"] == _entry(1.0, 10.0, 10.0, 5, 5, 0.0)


def test_a_kit_absent_from_the_window_says_so():
    readings = pd.concat([_colocation({"a": [10.0] * 5, "b": [10.0] * 5, "c": [10.0] * 5}),
                          _colocation({"late": [12.0] * 3}, start_minute=30)], ignore_index=True)
    ratios = colocation_ratios(readings, 0, 5 * MIN, fields=("pm25",))["pm25"]
    assert ratios["late"] == _entry(None, None, None, 0, 0, None, "no pm25 readings in the co-location window")


def test_clean_air_gives_no_ratio_rather_than_a_division_by_zero():
    readings = _colocation({"a": [0.0] * 5, "b": [0.0] * 5, "c": [1.0] * 5})
    ratios = colocation_ratios(readings, 0, 5 * MIN, fields=("pm25",))["pm25"]
    assert {k: e["why"] for k, e in ratios.items()} == dict.fromkeys(
        "abc", "the group's median pm25 was 0: the air was too clean to compare the kits")


def test_the_kits_own_spread_is_the_interquartile_range_of_its_readings_in_the_window():
    readings = _colocation({"a": [8, 9, 10, 11, 12], "b": [10] * 5, "c": [10] * 5})
    assert colocation_ratios(readings, 0, 5 * MIN, fields=("pm25",))["pm25"]["a"]["iqr"] == 2.0


def test_applying_ratios_divides_the_raw_value_and_leaves_kits_without_a_ratio_nan():
    readings = pd.DataFrame({"kit": ["a", "b", "c"], "t": [0, 0, 0], "pm25": [10.0, 10.0, 10.0]})
    ratios = {"pm25": {"a": _entry(2.0, 20.0, 10.0, 5, 5, 0.0), "b": _entry(None, None, None, 0, 0, None, "none")}}
    out = apply_ratios(readings, ratios)
    pd.testing.assert_frame_equal(out, readings.assign(pm25_coloc=[5.0, np.nan, np.nan]))
    assert readings.columns.tolist() == ["kit", "t", "pm25"]


# --- humidity ---

def test_the_epa_correction_is_added_from_cf1_and_rh_and_the_raw_values_stay():
    readings = _readings(pm25=[30.0, 30.0, 30.0], pm25_cf1=[20.0, 20.0, 20.0], rh=[50.0, np.nan, 90.0])
    before = readings.copy()
    out = humidity_correction(readings, "epa")
    pd.testing.assert_frame_equal(readings, before)
    expected = [0.524 * 20 - 0.0862 * 50 + 5.75, np.nan, 0.524 * 20 - 0.0862 * 90 + 5.75]
    pd.testing.assert_frame_equal(out, before.assign(pm25_epa=expected))


def test_kohler_adds_a_dry_column_for_each_pm_size_present():
    readings = _readings(pm25=[20.0, 20.0, 20.0], pm10=[30.0, 30.0, 30.0], rh=[0.0, 80.0, np.nan])
    out = humidity_correction(readings, "kohler", kappa=0.4)
    growth = 1 + 0.4 * 0.8 / 0.2
    pd.testing.assert_frame_equal(out, readings.assign(pm25_dry=[20.0, 20.0 / growth, np.nan],
                                                       pm10_dry=[30.0, 30.0 / growth, np.nan]))


@pytest.mark.parametrize(("method", "kappa", "message"), [
    ("kohler", None, "needs a stated κ"),
    ("epa", 0.4, "has no κ"),
    ("fog", None, "unknown humidity correction 'fog'"),
])
def test_a_humidity_correction_must_be_named_and_stated(method, kappa, message):
    with pytest.raises(ValueError, match=message):
        humidity_correction(_readings(pm25=[1.0] * 3, pm25_cf1=[1.0] * 3, rh=[50.0] * 3), method, kappa)
