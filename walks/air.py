"""What the numbers mean: air-quality bands, guidelines and humidity corrections.

Everything here is stated as indicative when used for a walk: the UK DAQI
bands and the WHO guideline are defined on 24-hour means, and a walk is an
hour or two of moving, one-minute readings. The walk summary says so.

Corrections never replace the raw values: they are added as new columns.
"""

from __future__ import annotations

import numpy as np

__all__ = ["DAQI_BANDS", "WHO_24H", "daqi_band", "daqi_index", "epa_pm25", "kohler_dry", "who_exceeded"]

# UK Daily Air Quality Index (Defra, UK-AIR "Daily Air Quality Index", COMEAP 2011):
# the upper bound (µg/m³, 24-hour mean) of indices 1..9; 10 is anything above.
DAQI_UPPER = {
    "pm25": (11, 23, 35, 41, 47, 53, 58, 64, 70),
    "pm10": (16, 33, 50, 58, 66, 75, 83, 91, 100),
}
# Indices 1-3 Low, 4-6 Moderate, 7-9 High, 10 Very High.
DAQI_BANDS = ("low", "moderate", "high", "very_high")

# WHO global air quality guidelines 2021, 24-hour levels (µg/m³, 99th percentile of daily means).
WHO_24H = {"pm25": 15.0, "pm10": 45.0}


def daqi_index(pollutant: str, values) -> np.ndarray:
    """DAQI index 1-10 for each value (NaN stays NaN -> index 0).

    The bands are whole µg/m³, so values are rounded half up first
    (11.4 is index 1, 11.5 is index 2).
    """
    upper = np.asarray(DAQI_UPPER[pollutant], dtype=float)
    v = np.asarray(values, dtype=float)
    rounded = np.floor(v + 0.5)
    index = np.searchsorted(upper, rounded, side="left") + 1
    return np.where(np.isnan(v), 0, index).astype(np.int8)


def daqi_band(index) -> np.ndarray:
    """'low' / 'moderate' / 'high' / 'very_high' for DAQI indices 1-10 ('' for 0)."""
    i = np.asarray(index)
    bands = np.array(["", *DAQI_BANDS], dtype=object)
    return bands[np.select([i == 0, i <= 3, i <= 6, i <= 9], [0, 1, 2, 3], default=4)]


def who_exceeded(pollutant: str, values) -> np.ndarray:
    """True where a value is above the WHO 2021 24-hour guideline level (indicative for a walk)."""
    return np.asarray(values, dtype=float) > WHO_24H[pollutant]


def epa_pm25(pm25_cf1, rh) -> np.ndarray:
    """US EPA correction for Plantower sensors (Barkjohn, Gantt & Clements 2021, AMT 14, 4617):
    PM2.5 = 0.524 × PM2.5(CF=1) − 0.0862 × RH + 5.75, for PM2.5(CF=1) up to 343 µg/m³ (NaN above,
    where the paper's fit does not hold), never below 0."""
    cf1, h = np.asarray(pm25_cf1, dtype=float), np.asarray(rh, dtype=float)
    corrected = np.clip(0.524 * cf1 - 0.0862 * h + 5.75, 0, None)
    return np.where(cf1 <= 343, corrected, np.nan)


def kohler_dry(pm, rh, kappa: float) -> np.ndarray:
    """Particle mass at 0 % RH from an optical reading, by κ-Köhler theory (Crilley et al. 2018,
    AMT 11, 709): PM_dry = PM / (1 + κ · a_w / (1 − a_w)), water activity a_w = RH/100 (capped at
    0.99, where the growth factor runs away). κ must be stated: it depends on the aerosol."""
    if not 0 < kappa < 2:
        raise ValueError(f"κ {kappa!r} is outside the physical range (0, 2): state the hygroscopicity of the aerosol")
    aw = np.clip(np.asarray(rh, dtype=float), 0, 99) / 100
    return np.asarray(pm, dtype=float) / (1 + kappa * aw / (1 - aw))
