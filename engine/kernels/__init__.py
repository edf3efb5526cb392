"""numba kernels: ``@njit(cache=True, nogil=True)``, grouped like the layers that use them.

Threading: parallel kernels run on numba's OpenMP layer with ``GOMP_SPINCOUNT=0``. By default
GNU OpenMP keeps its threads spinning after each parallel loop, and they then fight OpenBLAS's
threads for the two cores during the next matrix product: on the seed CNN that made a Dense
forward 30× slower. Measured on the seed CNN (samples/s): default spin 2,760; spin 100,000
3,290; spin 10,000 5,110; spin 0 6,880; numba's workqueue layer 6,010 — and workqueue is not
safe when a training thread and the GUI thread both run kernels, which the app does.
"""
import os

os.environ.setdefault("GOMP_SPINCOUNT", "0")  # read when libgomp loads (first parallel kernel)
