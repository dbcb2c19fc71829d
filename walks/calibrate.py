"""Corrected values next to the raw ones: device calibration, kit agreement and humidity.

A walk's raw readings are what the kits measured, and they are always kept:
every correction here adds new columns and leaves the raw columns as they
came in, so a reader can see both and a better correction can be applied
later. The new columns are named after the raw field and the correction:

  ``<field>_cal``    the device's calibration against a reference station
                     (``hardware/calibration/<kit>.toml``, see hardware/README.md);
                     NaN for a kit without a fit for that field, and, for a
                     ``linear_rh`` fit, where the reading has no RH. Never below
                     0, as ``Fit.apply``. A raw value outside the range the
                     co-location saw is still corrected, but counted as an
                     extrapolation in the report.
  ``<field>_coloc``  raw / the kit's ratio to the group in the walk's
                     co-location window (kits side by side before setting off).
  ``pm25_epa``       the US EPA correction for Plantower sensors, from
                     ``pm25_cf1`` and RH (``walks.air.epa_pm25``).
  ``<pm>_dry``       κ-Köhler: the particle mass at 0 % RH, for a stated κ
                     (``walks.air.kohler_dry``).

Co-location ratios. Each kit is compared with the group minute by minute:
the readings in the window (``start_ns <= t < end_ns``) are put in whole UTC
minutes, each kit's value in a minute is the median of its readings there,
and the group's is the median across kits in that minute (the kit itself
included, so every kit is compared with the same reference), counted only in
minutes where at least ``MIN_KITS`` kits read. A kit's ratio is its median
over those shared minutes divided by the group's median over the same
minutes. This is more robust than the median across kits of their whole-window
medians: pairing by minute cancels what the air itself did (a bus passing
while one kit was still warming up raises that kit's median, not its
ratio), and the ratio of two medians does not blow up in clean air, where a
per-minute ratio divides by readings of 0 or 1 µg/m³. A ratio needs a group
of at least 3 kits (the median of 2 is their mean, so a bad kit drags the
reference half-way to itself) and at least ``MIN_MINUTES`` shared minutes
from the kit; otherwise it is ``None`` and ``why`` says what was missing.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from hardware.calibration import CALIBRATION_DIR, Fit, load

from .air import epa_pm25, kohler_dry

__all__ = ["MIN_KITS", "MIN_MINUTES", "apply_calibration", "apply_ratios", "colocation_ratios", "humidity_correction",
           "load_fits"]

# A median needs three kits to be robust to one bad one.
MIN_KITS = 3
# Half the walk template's ten-minute co-location window: fewer shared minutes
# rest on a handful of readings at the sensors' 1 µg/m³ resolution.
MIN_MINUTES = 5
_NS_PER_MINUTE = 60 * 1_000_000_000
KOHLER_FIELDS = ("pm1", "pm25", "pm10")


def _json_float(value: float) -> float | None:
    """A float for a JSON report: None for NaN and ±inf, which JSON cannot carry."""
    return float(value) if math.isfinite(value) else None


def _kits_in_order(kits: pd.Series) -> list:
    """The distinct kits, sorted (by their text, so mixed id types still sort), for a deterministic report."""
    return sorted(pd.unique(kits), key=str)


def load_fits(kits, directory: Path = CALIBRATION_DIR) -> dict[object, dict[str, Fit]]:
    """Each kit's calibration fits ({} for a kit that was never co-located with a reference)."""
    return {kit: load(str(kit), Path(directory)) for kit in kits}


def apply_calibration(readings: pd.DataFrame, fits: dict[object, dict[str, Fit]]) -> tuple[pd.DataFrame, list[dict]]:
    """Readings (columns kit, t and raw fields) with a ``<field>_cal`` column for each calibrated field.

    Returns the readings and a report, one entry per (kit, field) for every
    kit in the readings and every field some kit has a fit for: the model and
    its coefficients (``model`` None when the kit has no fit for the field),
    how many readings were calibrated, how many of them were outside the fit's
    raw range (extrapolated) and how many could not be because a ``linear_rh``
    fit had no RH for them. Fits for fields the readings do not have are
    ignored, and so are fits for kits that are not in the readings.
    """
    if "kit" not in readings.columns:
        raise ValueError("readings lack the column kit")
    kits = _kits_in_order(readings["kit"])
    code = pd.Index(kits).get_indexer(readings["kit"])
    fields = sorted({f for kit in kits for f in fits.get(kit, {}) if f in readings.columns})
    rh = readings["rh"].to_numpy(float) if "rh" in readings.columns else np.full(len(readings), np.nan)
    out = readings.copy(deep=False)  # the new columns only: the raw ones are shared, never written (copy on write)
    report = []
    for field in fields:
        # One coefficient table per field, indexed by kit code: the whole column is corrected at once.
        kit_fits = [fits.get(kit, {}).get(field) for kit in kits]
        has = np.array([f is not None for f in kit_fits])
        slope = np.array([f.slope if f else np.nan for f in kit_fits])
        intercept = np.array([f.intercept if f else np.nan for f in kit_fits])
        rh_coef = np.array([f.rh_coef if f and f.model == "linear_rh" else 0.0 for f in kit_fits])
        needs_rh = np.array([bool(f) and f.model == "linear_rh" for f in kit_fits])
        lo = np.array([f.raw_min if f else np.nan for f in kit_fits])
        hi = np.array([f.raw_max if f else np.nan for f in kit_fits])

        raw = readings[field].to_numpy(float)
        with np.errstate(invalid="ignore"):
            value = slope[code] * raw + intercept[code] + rh_coef[code] * np.where(needs_rh[code], rh, 0.0)
        value = np.where(np.isnan(value), np.nan, np.maximum(value, 0.0))
        out[f"{field}_cal"] = value
        calibrated = ~np.isnan(value)
        # NaN bounds (a fit parsed without raw_range has ±inf, never NaN) compare False: not counted.
        outside = calibrated & ((raw < lo[code]) | (raw > hi[code]))
        no_rh = has[code] & needs_rh[code] & ~np.isnan(raw) & np.isnan(rh)
        n_cal, n_out, n_no_rh = (np.bincount(code[m], minlength=len(kits)) for m in (calibrated, outside, no_rh))
        for k, (kit, f) in enumerate(zip(kits, kit_fits)):
            entry = {"kit": kit, "field": field, "model": f.model if f else None}
            if f:
                entry.update(slope=f.slope, intercept=f.intercept, rh_coef=f.rh_coef if f.model == "linear_rh" else None,
                             r2=_json_float(f.r2), raw_range=[_json_float(f.raw_min), _json_float(f.raw_max)])
            entry.update(n_calibrated=int(n_cal[k]), n_extrapolated=int(n_out[k]), n_missing_rh=int(n_no_rh[k]))
            report.append(entry)
    return out, report


def colocation_ratios(readings: pd.DataFrame, start_ns: int, end_ns: int,
                      fields: tuple[str, ...] = ("pm1", "pm25", "pm10")) -> dict[str, dict[object, dict]]:
    """Each kit's ratio to the group in the co-location window, per field: ``{field: {kit: {...}}}``.

    For every kit in the readings: ``ratio`` (None when there is none, and
    ``why`` says why), ``kit_median`` and ``group_median`` over the shared
    minutes, ``n_readings`` (the kit's readings of the field in the window),
    ``n_minutes`` (shared minutes) and ``iqr`` (the kit's own spread: the
    interquartile range of its readings in the window).
    """
    missing = [c for c in ("kit", "t", *fields) if c not in readings.columns]
    if missing:
        raise ValueError(f"readings lack the column(s) {', '.join(missing)}")
    if end_ns <= start_ns:
        raise ValueError("the co-location window ends before it starts")
    kits = _kits_in_order(readings["kit"])
    t = readings["t"].to_numpy(np.int64)
    inside = readings[(t >= start_ns) & (t < end_ns)]
    result = {}
    for field in fields:
        window = inside.loc[inside[field].notna(), ["kit", "t", field]]
        values = window.groupby("kit", sort=False)[field]
        n_readings, iqr = values.size(), values.quantile(0.75) - values.quantile(0.25)
        per_minute = window.groupby(["kit", window["t"] // _NS_PER_MINUTE])[field].median()
        by_minute = per_minute.groupby(level=1)
        shared = (by_minute.transform("size") >= MIN_KITS).to_numpy()
        kit_minutes = per_minute[shared].groupby(level=0)
        group_minutes = by_minute.transform("median")[shared].groupby(level=0)
        n_minutes, kit_median, group_median = kit_minutes.size(), kit_minutes.median(), group_minutes.median()
        n_kits = len(n_readings)

        entries = {}
        for kit in kits:
            n = int(n_readings.get(kit, 0))
            m = int(n_minutes.get(kit, 0))
            km, gm = float(kit_median.get(kit, np.nan)), float(group_median.get(kit, np.nan))
            if n == 0:
                why = f"no {field} readings in the co-location window"
            elif n_kits < MIN_KITS:
                why = (f"only {n_kits} kit{'s' if n_kits > 1 else ''} read {field} in the co-location window: a ratio "
                       f"to the median of 2 is a ratio to their mean; co-locate at least {MIN_KITS} kits")
            elif m < MIN_MINUTES:
                why = (f"only {m} minute{'s' if m != 1 else ''} of {field} alongside at least {MIN_KITS} kits; "
                       f"a ratio needs {MIN_MINUTES}: keep the kits together longer")
            elif not gm > 0:
                why = f"the group's median {field} was 0: the air was too clean to compare the kits"
            elif not km > 0:
                why = f"the kit read 0 {field} while the group read {gm:g}: check its sensor"
            else:
                why = None
            entries[kit] = {"ratio": km / gm if why is None else None, "why": why,
                            "kit_median": _json_float(km), "group_median": _json_float(gm),
                            "n_readings": n, "n_minutes": m, "iqr": _json_float(float(iqr.get(kit, np.nan)))}
        result[field] = entries
    return result


def apply_ratios(readings: pd.DataFrame, ratios: dict[str, dict[object, dict]]) -> pd.DataFrame:
    """Readings with ``<field>_coloc`` = raw / the kit's co-location ratio (NaN for a kit without one)."""
    out = readings.copy(deep=False)  # the new columns only: the raw ones are shared, never written (copy on write)
    code, kits = pd.factorize(readings["kit"])  # map the kits once, not once per field
    for field, per_kit in ratios.items():
        if field not in readings.columns:
            raise ValueError(f"readings lack the column {field} that the ratios are for")
        ratio = [per_kit.get(kit, {}).get("ratio") for kit in kits]
        by_code = np.array([np.nan if r is None else r for r in ratio] + [np.nan], dtype=float)
        out[f"{field}_coloc"] = readings[field].to_numpy(float) / by_code[code]  # code -1 (no kit) takes the NaN at the end
    return out


def humidity_correction(readings: pd.DataFrame, method: str, kappa: float | None = None) -> pd.DataFrame:
    """Readings with humidity-corrected PM added: ``pm25_epa`` (method "epa", from pm25_cf1 and rh), or
    ``pm1_dry``, ``pm25_dry``, ``pm10_dry`` for the PM columns present (method "kohler", κ required).

    RH NaN gives NaN; the raw columns are unchanged.
    """
    if "rh" not in readings.columns:
        raise ValueError("a humidity correction needs the column rh")
    out = readings.copy(deep=False)  # the new columns only: the raw ones are shared, never written (copy on write)
    rh = readings["rh"].to_numpy(float)
    if method == "epa":
        if kappa is not None:
            raise ValueError("the EPA correction has no κ; pass kappa only with method='kohler'")
        if "pm25_cf1" not in readings.columns:
            raise ValueError("the EPA correction needs the column pm25_cf1 (the CF=1 reading it was fitted to)")
        out["pm25_epa"] = epa_pm25(readings["pm25_cf1"], rh)
    elif method == "kohler":
        if kappa is None:
            raise ValueError("κ-Köhler needs a stated κ (kappa), the hygroscopicity of the aerosol")
        present = [f for f in KOHLER_FIELDS if f in readings.columns]
        if not present:
            raise ValueError(f"κ-Köhler needs at least one of the columns {', '.join(KOHLER_FIELDS)}")
        for field in present:
            out[f"{field}_dry"] = kohler_dry(readings[field], rh, kappa)
    else:
        raise ValueError(f"unknown humidity correction {method!r}: use 'epa' or 'kohler'")
    return out
