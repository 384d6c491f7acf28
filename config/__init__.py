import os

# One BLAS / OpenMP thread per process: workers already run one task per core, and
# oversubscribed OpenMP threads made k-means 6x slower on a busy 2-core machine.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, os.environ.get("ANALYTICS_THREADS", "1"))

from .celery import app as celery_app  # noqa: E402

__all__ = ("celery_app",)
