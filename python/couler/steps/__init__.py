"""The original SDK's step zoo: distributed training jobs (TensorFlow, PyTorch, MPI) and Katib
experiments."""
