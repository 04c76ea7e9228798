"""Paper Code 7, "An AutoML workflow in COULER": two candidate models trained concurrently with
`couler.concurrent`.

    ┌ train-xgboost ┐
    └ train-lgbm    ┘  (one group: they start together)

The paper's trainers call a model zoo (`Dataset`, `xgboost.train`, `LightGBMEstimator`) that is
not part of Couler's API. Here each trainer is a script step with a small pure-Python stand-in
(boosted decision stumps on seeded synthetic data, fit exactly for "xgboost" and on a histogram
of the feature for "lightgbm"), keeping the paper's parameters, so the workflow runs anywhere;
on a cluster, put the real libraries in the images.
"""

import couler.argo as couler


def boosted_stumps():
    # Shared by both candidates: N_BINS=0 splits exactly, N_BINS>0 on a histogram.
    import os
    import random

    rng = random.Random(3)
    rows = [(rng.gauss(1.5 * y, 1.0), y) for y in (rng.randint(0, 1) for _ in range(400))]
    rounds, bins = int(os.environ["ROUNDS"]), int(os.environ["N_BINS"])
    xs = sorted(x for x, _ in rows)
    if bins:
        cuts = [xs[len(xs) * k // bins] for k in range(1, bins)]
    else:
        cuts = xs
    score = [0.0] * len(rows)
    for _ in range(rounds):
        best = None
        for cut in cuts:
            left = [y - s for (x, y), s in zip(rows, score) if x <= cut]
            right = [y - s for (x, y), s in zip(rows, score) if x > cut]
            lv = sum(left) / len(left) if left else 0.0
            rv = sum(right) / len(right) if right else 0.0
            err = sum((r - lv) ** 2 for r in left) + sum((r - rv) ** 2 for r in right)
            if best is None or err < best[0]:
                best = (err, cut, lv, rv)
        _, cut, lv, rv = best
        score = [s + 0.3 * (lv if x <= cut else rv) for (x, _), s in zip(rows, score)]
    accuracy = sum((s > 0.5) == (y == 1) for (_, y), s in zip(rows, score)) / len(rows)
    print("%.4f" % accuracy)


def train_xgboost():
    model_params = {"objective": "binary:logistic"}
    train_params = {"num_boost_round": 10, "max_depth": 5}
    return couler.run_script(
        image="xgboost-image",
        source=boosted_stumps,
        env={"ROUNDS": train_params["num_boost_round"], "N_BINS": 0,
             "OBJECTIVE": model_params["objective"]},
        step_name="train-xgboost",
    )


def train_lgbm():
    hyperparameters = {"num_leaves": 63, "num_iterations": 20}
    return couler.run_script(
        image="lightgbm-image",
        source=boosted_stumps,
        env={"ROUNDS": hyperparameters["num_iterations"], "N_BINS": 16},
        step_name="train-lgbm",
    )


couler.concurrent([lambda: train_xgboost(),
                   lambda: train_lgbm()])

result = couler.run(submitter=couler.LocalSubmitter())
print(result.status)
