"""Paper Code 6, "Searching a best ML model in COULER": train one model per batch size with
`couler.map`, then evaluate every trained model with a second `map` over the first one's outputs.

    train x5 (batch sizes 100..500) ──► eval x5 (one per trained model)

The paper trains with the step zoo's TensorFlow job (`couler.steps.tensorflow.train`, a TFJob):
`python code6_model_search.py --tensorflow` records exactly that and prints its Argo manifest
(a TFJob needs a cluster; the local runtime refuses it, saying so). By default the training is
a small Python stand-in that runs anywhere, so the workflow runs on the embedded local runtime.
The paper's `input_batch_size=` is not an argument of `tf.train` (in the original SDK either);
the batch size goes on the command line instead.
"""

import json
import sys

import couler.argo as couler

USE_TENSORFLOW = "--tensorflow" in sys.argv
MODEL_DIR = "/models/wide-deep-bs%s"


def train_tensorflow(batch_size):
    import couler.steps.tensorflow as tf
    return tf.train(
        num_ps=1,
        num_workers=1,
        command="python /train_model.py --batch_size=%s --model_dir=%s"
        % (batch_size, MODEL_DIR % batch_size),
        image="wide-deep-model:v1.0",
    )


def train_model():
    # The stand-in trainer: prints where the "model" of this batch size is.
    import os

    print(os.environ["MODEL_DIR"])


def train_locally(batch_size):
    return couler.run_script(
        image="python:3.12-slim",
        source=train_model,
        env={"BATCH_SIZE": batch_size, "MODEL_DIR": MODEL_DIR % batch_size},
        step_name="train",
    )


def run_multiple_jobs(num_jobs):
    para = []
    i = 0
    batch_size = 0
    while i < num_jobs:
        batch_size += 100
        para.append(batch_size)
        i = i + 1
    train = train_tensorflow if USE_TENSORFLOW else train_locally
    return couler.map(lambda x: train(x), para)


def evaluation(model_path):
    return couler.run_container(
        image="model-evaluation:v1",
        command=["echo", "evaluating"],
        args=[model_path],
        step_name="eval",
    )


model_path = run_multiple_jobs(5)
if USE_TENSORFLOW:
    # A TFJob has no output to read (Couler refuses reading a job's outputs): each job writes
    # its model where its command says, and `eval` runs after the trainings (the original's
    # step order), so the evaluations map over those paths.
    model_path = [MODEL_DIR % (100 * (i + 1)) for i in range(5)]
couler.map(lambda x: evaluation(x), model_path)

if USE_TENSORFLOW:
    print(json.dumps(couler.workflow_yaml(), indent=2))
else:
    result = couler.run(submitter=couler.LocalSubmitter())
    print(result.status)
