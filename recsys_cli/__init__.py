"""recsys: build, evaluate and serve product recommendations from one command line."""

import os

# implicit's ALS and BPR run their own threads; a multi-threaded BLAS underneath
# them oversubscribes the cores (implicit warns about it). Set before numpy loads.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

__version__ = "0.1.0"
