"""Per-device calibration factors from a co-location with a reference station.

A kit's raw readings are always stored unchanged. Calibration is a separate,
per-device correction that the collector and the walk tooling apply on top,
so a better calibration later can be re-applied to old data.

    f = fit(kit_hourly_pm25, reference_hourly_pm25, rh=kit_hourly_rh)
    f.warnings                        # [] when the co-location was long and the fit good
    text = to_toml("kit-01", {"pm25": f}, colocation={...})   # hardware/calibration/kit-01.toml
    cal = load("kit-01")              # {"pm25": Fit}
    corrected = cal["pm25"].apply(raw, rh=62.0)

Models (least squares on paired hourly means):
    linear     reference = slope * raw + intercept
    linear_rh  reference = slope * raw + rh_coef * RH + intercept
The RH term is there because optical PM sensors over-read in humid air (the
US EPA's nationwide PurpleAir correction has the same form).
"""

from __future__ import annotations

from airkit.errors import ConfigError

import math
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CALIBRATION_DIR = Path(__file__).with_name("calibration")

# A week of hourly pairs is the least that spans a few weather situations;
# the guide asks for two to four weeks.
MIN_PAIRS = 168
MIN_R2 = 0.7


class CalibrationError(ConfigError):
    """Data that cannot give a calibration; the message says what to fix."""


@dataclass(frozen=True)
class Fit:
    model: str  # "linear" or "linear_rh"
    slope: float
    intercept: float
    rh_coef: float = 0.0
    n: int = 0
    r2: float = float("nan")
    rmse: float = float("nan")
    raw_min: float = float("nan")
    raw_max: float = float("nan")
    warnings: tuple[str, ...] = field(default=())

    def apply(self, raw: float, rh: float | None = None) -> float:
        """The calibrated value of one raw reading (never below zero)."""
        value = self.slope * raw + self.intercept
        if self.model == "linear_rh":
            if rh is None:
                raise CalibrationError("this calibration needs the relative humidity of the reading (model linear_rh)")
            value += self.rh_coef * rh
        return max(0.0, value)

    def covers(self, raw: float) -> bool:
        """True when the raw value is inside the range the co-location saw;
        outside it the correction is an extrapolation."""
        return self.raw_min <= raw <= self.raw_max


def _solve(a: list[list[float]], b: list[float]) -> list[float]:
    """Gaussian elimination with partial pivoting for the small normal equations."""
    n = len(b)
    m = [row[:] + [b[i]] for i, row in enumerate(a)]
    for col in range(n):
        pivot = max(range(col, n), key=lambda r: abs(m[r][col]))
        if abs(m[pivot][col]) < 1e-12:
            raise CalibrationError("the data cannot separate the calibration terms (all raw or all RH values "
                                   "are the same); co-locate through changing conditions")
        m[col], m[pivot] = m[pivot], m[col]
        for r in range(col + 1, n):
            k = m[r][col] / m[col][col]
            for c in range(col, n + 1):
                m[r][c] -= k * m[col][c]
    x = [0.0] * n
    for r in range(n - 1, -1, -1):
        x[r] = (m[r][n] - sum(m[r][c] * x[c] for c in range(r + 1, n))) / m[r][r]
    return x


def fit(raw: list[float], reference: list[float], rh: list[float] | None = None) -> Fit:
    """Least-squares calibration of paired hourly means (same hours, same units)."""
    if len(raw) != len(reference) or (rh is not None and len(rh) != len(raw)):
        raise CalibrationError("raw, reference (and rh) must be paired: one value per hour in each list")
    rows = [(x, y, h) for x, y, h in zip(raw, reference, rh if rh is not None else [0.0] * len(raw))
            if not any(v is None or (isinstance(v, float) and math.isnan(v)) for v in (x, y, h))]
    k = 3 if rh is not None else 2
    if len(rows) <= k:
        raise CalibrationError(f"only {len(rows)} complete hourly pairs; a fit needs many more "
                               f"(at least {MIN_PAIRS}, a week of co-location)")
    # Normal equations X'X b = X'y with columns raw, [rh], 1.
    cols = [[r[0] for r in rows]] + ([[r[2] for r in rows]] if rh is not None else []) + [[1.0] * len(rows)]
    y = [r[1] for r in rows]
    xtx = [[sum(a * b for a, b in zip(ci, cj)) for cj in cols] for ci in cols]
    xty = [sum(a * b for a, b in zip(ci, y)) for ci in cols]
    coef = _solve(xtx, xty)
    slope, intercept = coef[0], coef[-1]
    rh_coef = coef[1] if rh is not None else 0.0
    predicted = [slope * r[0] + rh_coef * r[2] + intercept for r in rows]
    mean_y = sum(y) / len(y)
    ss_res = sum((a - b) ** 2 for a, b in zip(y, predicted))
    ss_tot = sum((a - mean_y) ** 2 for a in y)
    r2 = 1 - ss_res / ss_tot if ss_tot else float("nan")
    rmse = math.sqrt(ss_res / len(y))
    warnings = []
    if len(rows) < MIN_PAIRS:
        warnings.append(f"only {len(rows)} hourly pairs: co-locate for at least 7 days ({MIN_PAIRS} pairs), "
                        "better 2-4 weeks, before trusting this calibration")
    if not r2 >= MIN_R2:
        warnings.append(f"R² = {r2:.2f} is below {MIN_R2}: check that kit and reference hours are aligned "
                        "(both UTC, same averaging) and in the same units before using this fit")
    if slope <= 0:
        warnings.append("the slope is not positive: the kit and the reference do not move together; "
                        "check the pairing before using this fit")
    return Fit(model="linear_rh" if rh is not None else "linear", slope=slope, intercept=intercept,
               rh_coef=rh_coef, n=len(rows), r2=r2, rmse=rmse,
               raw_min=min(r[0] for r in rows), raw_max=max(r[0] for r in rows), warnings=tuple(warnings))


def _toml_value(v: Any) -> str:
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return repr(round(v, 6))
    return repr(v)


def to_toml(device: str, fits: dict[str, Fit], colocation: dict[str, Any]) -> str:
    """The text of hardware/calibration/<device>.toml (format in the guide)."""
    lines = [
        f"# Calibration of {device}: reference = model(raw). Raw readings are kept unchanged;",
        "# the collector and the walk tooling apply these factors on top.",
        f"device = {_toml_value(device)}",
        "",
        "[colocation]",
        *(f"{k} = {_toml_value(v)}" for k, v in colocation.items()),
    ]
    for name, f in sorted(fits.items()):
        lines += ["", f"[fields.{name}]", f'model = "{f.model}"', f"slope = {_toml_value(f.slope)}",
                  f"intercept = {_toml_value(f.intercept)}"]
        if f.model == "linear_rh":
            lines.append(f"rh_coef = {_toml_value(f.rh_coef)}")
        lines += [f"n = {f.n}", f"r2 = {_toml_value(f.r2)}", f"rmse = {_toml_value(f.rmse)}",
                  f"raw_range = [{_toml_value(f.raw_min)}, {_toml_value(f.raw_max)}]"]
    return "\n".join(lines) + "\n"


def parse(text: str, source: str = "<memory>") -> dict[str, Fit]:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise CalibrationError(f"{source} is not valid TOML ({exc})") from exc
    out = {}
    for name, f in data.get("fields", {}).items():
        model = f.get("model", "linear")
        if model not in ("linear", "linear_rh"):
            raise CalibrationError(f"{source}: fields.{name}.model must be 'linear' or 'linear_rh', not {model!r}")
        lo, hi = f.get("raw_range", [float("-inf"), float("inf")])
        out[name] = Fit(model=model, slope=float(f["slope"]), intercept=float(f["intercept"]),
                        rh_coef=float(f.get("rh_coef", 0.0)), n=int(f.get("n", 0)),
                        r2=float(f.get("r2", float("nan"))), rmse=float(f.get("rmse", float("nan"))),
                        raw_min=float(lo), raw_max=float(hi))
    return out


def load(device: str, directory: Path = CALIBRATION_DIR) -> dict[str, Fit]:
    """Calibration of one device; {} when it has never been co-located."""
    path = Path(directory) / f"{device}.toml"
    if not path.exists():
        return {}
    return parse(path.read_text(encoding="utf-8"), str(path))
