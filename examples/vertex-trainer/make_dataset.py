"""Writes trainer/data/grid_hours.csv, the small synthetic dataset the example trainer learns.

Each row is one made-up hour on a made-up electricity grid: the share of wind and of solar
generation, the demand, and whether the hour was "clean" (carbon intensity below 180 g CO2e/kWh).
The intensity follows a simple rule (fossil share times a demand factor) plus Gaussian noise, so
the label is learnable but not perfectly separable. No real data is involved: the file is
generated here, with a fixed seed, and is free to use for anything.

    python3 make_dataset.py            # rewrites trainer/data/grid_hours.csv
"""

import csv
import math
import pathlib
import random

ROWS = 400
SEED = 20261126
CLEAN_BELOW = 180.0  # g CO2e/kWh


def make_rows(rng):
    rows = []
    for _ in range(ROWS):
        hour = rng.randrange(24)
        daylight = max(0.0, math.sin(math.pi * (hour - 6) / 12))  # 0 at night, 1 at noon
        wind = min(0.65, max(0.0, rng.gauss(0.28, 0.16)))
        solar = min(0.45, max(0.0, daylight * rng.uniform(0.05, 0.45)))
        demand = rng.uniform(22.0, 44.0) + 4.0 * daylight  # GW, higher by day
        fossil = max(0.0, 1.0 - wind - solar - 0.2)  # 0.2: nuclear and hydro, always on
        intensity = 520.0 * fossil * (0.75 + 0.5 * (demand - 22.0) / 26.0) + rng.gauss(0.0, 30.0)
        rows.append({
            "hour": hour,
            "wind_share": round(wind, 3),
            "solar_share": round(solar, 3),
            "demand_gw": round(demand, 2),
            "clean": int(intensity < CLEAN_BELOW),
        })
    return rows


def main():
    path = pathlib.Path(__file__).parent / "trainer" / "data" / "grid_hours.csv"
    rows = make_rows(random.Random(SEED))
    with path.open("w", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    print(f"wrote {len(rows)} rows to {path} ({sum(r['clean'] for r in rows)} clean)")


if __name__ == "__main__":
    main()
