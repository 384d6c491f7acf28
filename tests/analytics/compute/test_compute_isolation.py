from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[3]

CHECK = """
import sys
import analytics.compute.clusters, analytics.compute.clv, analytics.compute.features
import analytics.compute.forecast, analytics.compute.rfm, analytics.compute.rules
bad = sorted(m for m in sys.modules if m.split('.')[0] in {'django', 'rest_framework', 'celery',
             'config', 'shops', 'customers', 'campaigns'} or m.startswith('analytics.') and
             not m.startswith('analytics.compute'))
print(','.join(bad))
"""


def test_compute_layer_imports_no_django_and_no_app_code() -> None:
    out = subprocess.run(
        [sys.executable, "-c", CHECK], cwd=REPO_ROOT, capture_output=True, text=True, check=True, timeout=120
    )
    assert out.stdout.strip() == "", f"analytics.compute pulled in: {out.stdout.strip()}"
