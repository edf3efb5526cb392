"""numba kernels: ``@njit(cache=True, nogil=True)``, grouped like the layers that use them.

Threading: parallel kernels use numba's ``workqueue`` layer. The OpenMP layer keeps its threads
spinning after each parallel loop, and they then fight OpenBLAS's threads for the two cores
during the next matrix product: on the seed CNN that made a Dense forward 30× slower (measured:
2,760 samples/s with OpenMP against 6,080 with workqueue). workqueue must not be entered by two
threads at once, so engine.functional serializes model execution with a lock.
"""
import os

os.environ.setdefault("NUMBA_THREADING_LAYER", "workqueue")

import numba  # noqa: E402

numba.config.THREADING_LAYER = os.environ["NUMBA_THREADING_LAYER"]
