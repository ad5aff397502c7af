"""Trains a small classifier and writes it where Vertex AI expects the model.

Entry point of the package (`python -m trainer.task`, Vertex AI's `python_module`). It loads the
CSV shipped in the package (trainer/data/grid_hours.csv: synthetic grid hours, see
make_dataset.py), fits a logistic regression "is this hour clean?" by batch gradient descent,
evaluates it on a held-out part, and writes model.json and metrics.json to the model directory.

Only the Python standard library is used, so any of Google's prebuilt training images runs it
as it is, and so does a plain python3 on a laptop.

The model directory is, in order: --model-dir, else $AIP_MODEL_DIR (set by Vertex AI when the
CustomJob has a base output directory), else ./model. A gs://bucket/path URI is written through
the Cloud Storage FUSE mount that Vertex AI provides at /gcs/bucket/path.

Run by gridshift as an interruptible job, it follows gridshift's trainer contract: with
$GRIDSHIFT_CHECKPOINT_DIR set it resumes from checkpoint.json there, saves one every
--checkpoint-every epochs, and stops (saving, exit 0) when $GRIDSHIFT_SEGMENT_END is less than
--stop-margin seconds away or on SIGTERM. When training is done it writes the model, then the
COMPLETE marker into the checkpoint directory, which tells gridshift no segment is needed.
"""

import argparse
import csv
import json
import math
import os
import pathlib
import datetime
import random
import signal
import sys
import time

FEATURES = ["wind_share", "solar_share", "demand_gw", "daylight"]
LABEL = "clean"
DEFAULT_DATA = pathlib.Path(__file__).parent / "data" / "grid_hours.csv"


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-dir", default=None,
                        help="where to write the model: a local path or gs://bucket/path "
                             "(default $AIP_MODEL_DIR, else ./model)")
    parser.add_argument("--data", default=str(DEFAULT_DATA), help="training CSV")
    parser.add_argument("--epochs", type=int, default=400, help="passes of gradient descent")
    parser.add_argument("--learning-rate", type=float, default=0.5)
    parser.add_argument("--l2", type=float, default=0.001, help="weight decay")
    parser.add_argument("--test-fraction", type=float, default=0.25)
    parser.add_argument("--seed", type=int, default=1, help="seed of the train/test split")
    parser.add_argument("--checkpoint-every", type=int, default=50,
                        help="epochs between checkpoints (interruptible runs)")
    parser.add_argument("--stop-margin", type=float, default=120.0,
                        help="seconds before GRIDSHIFT_SEGMENT_END to checkpoint and stop")
    args = parser.parse_args(argv)
    if args.epochs < 1:
        parser.error("--epochs must be at least 1")
    if not 0.0 < args.test_fraction < 1.0:
        parser.error("--test-fraction must be between 0 and 1")
    return args


def local_path(uri):
    """gs://bucket/path -> /gcs/bucket/path (Vertex AI's Cloud Storage FUSE mount)."""
    if uri.startswith("gs://"):
        return pathlib.Path("/gcs") / uri[len("gs://"):]
    return pathlib.Path(uri)


def model_dir(args):
    return local_path(args.model_dir or os.environ.get("AIP_MODEL_DIR") or "model")


def load_rows(path):
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows:
        raise SystemExit(f"{path}: no rows")
    examples = []
    for row in rows:
        # The hour enters as daylight (0 at night, 1 at noon), which a linear model can use.
        hour = int(row["hour"])
        daylight = max(0.0, math.sin(math.pi * (hour - 6) / 12))
        x = [float(row["wind_share"]), float(row["solar_share"]), float(row["demand_gw"]),
             daylight]
        examples.append((x, int(row[LABEL])))
    return examples


def standardizer(examples):
    n = len(examples)
    means = [sum(x[j] for x, _ in examples) / n for j in range(len(FEATURES))]
    stds = []
    for j, mean in enumerate(means):
        var = sum((x[j] - mean) ** 2 for x, _ in examples) / n
        stds.append(math.sqrt(var) or 1.0)
    return means, stds


def scale(x, means, stds):
    return [(v - m) / s for v, m, s in zip(x, means, stds)]


def sigmoid(z):
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


def predict(weights, bias, x):
    return sigmoid(bias + sum(w * v for w, v in zip(weights, x)))


class Segment:
    """gridshift's interruptible-job contract: where to checkpoint, and when to stop."""

    def __init__(self, args):
        checkpoint_dir = os.environ.get("GRIDSHIFT_CHECKPOINT_DIR")
        self.dir = local_path(checkpoint_dir) if checkpoint_dir else None
        self.number = os.environ.get("GRIDSHIFT_SEGMENT", "1")
        end = os.environ.get("GRIDSHIFT_SEGMENT_END")
        self.end = (datetime.datetime.fromisoformat(end.replace("Z", "+00:00")).timestamp()
                    if end else None)
        self.margin = args.stop_margin
        self.every = max(1, args.checkpoint_every)
        self.stop_requested = False
        if self.dir:
            self.dir.mkdir(parents=True, exist_ok=True)
            signal.signal(signal.SIGTERM, self._on_sigterm)

    def _on_sigterm(self, signum, frame):
        self.stop_requested = True

    def load(self):
        path = self.dir / "checkpoint.json" if self.dir else None
        if not path or not path.exists():
            return None
        state = json.loads(path.read_text())
        return state["weights"], state["bias"], state["epoch"]

    def save(self, weights, bias, epoch):
        path = self.dir / "checkpoint.json"
        tmp = self.dir / "checkpoint.json.tmp"
        tmp.write_text(json.dumps({"weights": weights, "bias": bias, "epoch": epoch}))
        os.replace(tmp, path)

    def should_stop(self):
        near_end = self.end is not None and time.time() + self.margin >= self.end
        return self.stop_requested or near_end

    def after_chunk(self, weights, bias, epoch):
        """Saves a checkpoint; True when this segment should end now."""
        if not self.dir or epoch % self.every:
            return False
        self.save(weights, bias, epoch)
        return self.should_stop()

    def complete(self):
        if self.dir:
            (self.dir / "COMPLETE").write_text("done\n")


def train(examples, epochs, learning_rate, l2, start=None, after_epoch=None):
    """Batch gradient descent from `start` (weights, bias, epochs done) or from zero. Returns
    (weights, bias, epochs done): fewer than `epochs` when after_epoch asked to stop."""
    weights, bias, done = start or ([0.0] * len(FEATURES), 0.0, 0)
    n = len(examples)
    while done < epochs:
        grad_w = [0.0] * len(weights)
        grad_b = 0.0
        for x, y in examples:
            err = predict(weights, bias, x) - y
            for j, v in enumerate(x):
                grad_w[j] += err * v
            grad_b += err
        weights = [w - learning_rate * (g / n + l2 * w) for w, g in zip(weights, grad_w)]
        bias -= learning_rate * grad_b / n
        done += 1
        if done < epochs and after_epoch and after_epoch(weights, bias, done):
            break
    return weights, bias, done


def evaluate(weights, bias, examples):
    correct = 0
    loss = 0.0
    for x, y in examples:
        p = min(max(predict(weights, bias, x), 1e-12), 1 - 1e-12)
        correct += int((p >= 0.5) == bool(y))
        loss -= y * math.log(p) + (1 - y) * math.log(1 - p)
    positives = sum(y for _, y in examples)
    majority = max(positives, len(examples) - positives) / len(examples)
    return {"accuracy": correct / len(examples), "log_loss": loss / len(examples),
            "majority_baseline": majority, "examples": len(examples)}


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    started = time.monotonic()
    examples = load_rows(args.data)
    random.Random(args.seed).shuffle(examples)
    n_test = max(1, int(len(examples) * args.test_fraction))
    test, train_set = examples[:n_test], examples[n_test:]

    means, stds = standardizer(train_set)
    train_scaled = [(scale(x, means, stds), y) for x, y in train_set]
    test_scaled = [(scale(x, means, stds), y) for x, y in test]
    segment = Segment(args)
    start = segment.load()
    if start:
        print(f"segment {segment.number}: resuming at epoch {start[2]}", flush=True)
    weights, bias, done = train(train_scaled, args.epochs, args.learning_rate, args.l2, start,
                                segment.after_chunk)
    if done < args.epochs:
        print(f"segment {segment.number}: checkpointed at epoch {done} of {args.epochs}",
              flush=True)
        return 0

    metrics = {
        "train": evaluate(weights, bias, train_scaled),
        "test": evaluate(weights, bias, test_scaled),
        "epochs": args.epochs,
        "seconds": round(time.monotonic() - started, 3),
    }
    model = {
        "kind": "logistic_regression",
        "features": FEATURES,
        "label": LABEL,
        "mean": means,
        "std": stds,
        "weights": weights,
        "bias": bias,
    }
    out = model_dir(args)
    out.mkdir(parents=True, exist_ok=True)
    (out / "model.json").write_text(json.dumps(model, indent=2) + "\n")
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    metrics["model_dir"] = str(out)
    segment.complete()
    # One JSON line on stdout: Cloud Logging keeps it, scripts and tests parse it.
    print(json.dumps(metrics))
    return 0


if __name__ == "__main__":
    sys.exit(main())
