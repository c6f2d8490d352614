"""fastai's `fit_flat_cos` learning rates, iteration by iteration, for the trainer's schedule test.

`Learner.fit_flat_cos(n_epoch, lr, div_final=1e5, pct_start=0.75)` schedules
`combine_scheds([0.75, 0.25], [SchedNo(lr, lr), SchedCos(lr, lr/div_final)])`, and
`ParamScheduler.before_batch` evaluates it at `pct_train = train_iter / (n_epoch * n_iter)`.
This evaluates fastai's own schedule objects at those positions.

    python tests/reference/schedule_reference.py   # writes tests/fixtures/schedule/flat_cos.json
"""

import json
from pathlib import Path

from fastai.callback.schedule import SchedCos, SchedNo, combine_scheds

OUT = Path(__file__).resolve().parents[1] / "fixtures" / "schedule" / "flat_cos.json"


def flat_cos(lr, total, div_final=1e5, pct_start=0.75):
    sched = combine_scheds([pct_start, 1 - pct_start], [SchedNo(lr, lr), SchedCos(lr, lr / div_final)])
    return [float(sched(i / total)) for i in range(total)]


def main():
    cases = [
        {"lr": 1e-3, "epochs": 5, "iters_per_epoch": 7},
        {"lr": 4e-3, "epochs": 3, "iters_per_epoch": 13},
    ]
    for case in cases:
        case["lrs"] = flat_cos(case["lr"], case["epochs"] * case["iters_per_epoch"])
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps({"div_final": 1e5, "pct_start": 0.75, "cases": cases}, indent=1) + "\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
