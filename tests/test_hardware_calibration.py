"""Per-device calibration: fitted from a co-location, stored as TOML, applied on top of raw values."""

from __future__ import annotations

import math
import random

import pytest

from hardware import calibration

HOURS = 24 * 14  # two weeks of hourly pairs


def colocation(slope=0.52, rh_coef=-0.086, intercept=5.75, noise=0.0, hours=HOURS, seed=1):
    """Synthetic hourly means where reference = slope*raw + rh_coef*RH + intercept (+ noise)."""
    rng = random.Random(seed)
    raw = [5 + 60 * abs(math.sin(h / 17)) + rng.random() * 5 for h in range(hours)]
    rh = [40 + 45 * abs(math.sin(h / 11)) for h in range(hours)]
    ref = [slope * x + rh_coef * r + intercept + rng.gauss(0, noise) for x, r in zip(raw, rh)]
    return raw, ref, rh


def test_a_linear_relation_is_recovered_exactly():
    raw, _, _ = colocation()
    ref = [0.6 * x + 2.0 for x in raw]
    f = calibration.fit(raw, ref)
    assert (f.model, f.slope, f.intercept) == ("linear", pytest.approx(0.6), pytest.approx(2.0))
    assert f.r2 == pytest.approx(1.0) and f.rmse == pytest.approx(0.0, abs=1e-9)
    assert f.n == HOURS and f.warnings == ()


def test_the_humidity_term_is_recovered_exactly():
    raw, ref, rh = colocation()
    f = calibration.fit(raw, ref, rh=rh)
    assert f.model == "linear_rh"
    assert (f.slope, f.rh_coef, f.intercept) == (pytest.approx(0.52), pytest.approx(-0.086), pytest.approx(5.75))


def test_hours_missing_on_either_side_are_left_out():
    raw, ref, _ = colocation()
    raw[3], ref[7] = float("nan"), None
    assert calibration.fit(raw, ref).n == HOURS - 2


def test_less_than_a_week_of_colocation_is_flagged():
    raw, ref, rh = colocation(hours=48)
    [warning] = calibration.fit(raw, ref, rh=rh).warnings
    assert "at least 7 days" in warning


def test_a_poor_fit_is_flagged_with_the_usual_cause():
    raw, _, _ = colocation()
    rng = random.Random(7)
    unrelated = [rng.uniform(0, 50) for _ in raw]
    warnings = " ".join(calibration.fit(raw, unrelated).warnings)
    assert "R²" in warnings and "aligned" in warnings


def test_data_that_cannot_separate_the_terms_is_refused():
    raw, ref, _ = colocation()
    with pytest.raises(calibration.CalibrationError, match="changing conditions"):
        calibration.fit(raw, ref, rh=[60.0] * len(raw))


def test_unpaired_lists_are_refused():
    with pytest.raises(calibration.CalibrationError, match="paired"):
        calibration.fit([1.0, 2.0, 3.0], [1.0, 2.0])


def test_a_fit_round_trips_through_the_calibration_file(tmp_path):
    raw, ref, rh = colocation(noise=1.5)
    pm25 = calibration.fit(raw, ref, rh=rh)
    temp = calibration.fit([10.0, 12.0, 15.0, 20.0, 22.0], [9.5, 11.2, 14.1, 19.0, 21.3])
    text = calibration.to_toml("kit-01", {"pm25": pm25, "temp": temp},
                               colocation={"reference": "AURN \"Example\" station", "start": "2026-10-01T00:00:00Z"})
    (tmp_path / "kit-01.toml").write_text(text)
    loaded = calibration.load("kit-01", directory=tmp_path)
    assert set(loaded) == {"pm25", "temp"}
    assert loaded["pm25"].apply(30.0, rh=70.0) == pytest.approx(pm25.apply(30.0, rh=70.0), abs=1e-4)
    assert loaded["temp"].apply(18.0) == pytest.approx(temp.apply(18.0), abs=1e-4)


def test_a_device_never_colocated_has_no_calibration(tmp_path):
    assert calibration.load("kit-99", directory=tmp_path) == {}


def test_the_example_file_documents_the_format_and_parses():
    example = calibration.CALIBRATION_DIR / "_example.toml"
    fits = calibration.parse(example.read_text(), str(example))
    assert fits["pm25"].model == "linear_rh" and fits["temp"].model == "linear"


def test_a_humidity_model_needs_the_readings_humidity():
    f = calibration.Fit(model="linear_rh", slope=0.5, intercept=5.0, rh_coef=-0.1)
    with pytest.raises(calibration.CalibrationError, match="relative humidity"):
        f.apply(20.0)
    assert f.apply(20.0, rh=50.0) == pytest.approx(10.0)


def test_a_calibrated_value_is_never_negative():
    assert calibration.Fit(model="linear", slope=1.0, intercept=-5.0).apply(1.0) == 0.0


def test_values_outside_the_colocation_range_are_reported_as_extrapolation():
    f = calibration.Fit(model="linear", slope=1.0, intercept=0.0, raw_min=2.0, raw_max=80.0)
    assert f.covers(40.0) and not f.covers(150.0)


def test_an_unknown_model_in_a_file_is_refused():
    with pytest.raises(calibration.CalibrationError, match="model"):
        calibration.parse('[fields.pm25]\nmodel = "cubic"\nslope = 1\nintercept = 0\n')
