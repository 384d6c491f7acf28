"""Issue 14 point 7: the API keeps its contract. schemathesis reads /api/v1/schema/ and sends
generated requests (bounded: a fixed seed and a few examples per operation) with a Bearer key to
a live server on a shop with demo data: no server error, no undocumented status code or content
type, every answer matching its documented schema."""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from customers.demo import demo_shop_generate
from tests.factories import ApiKeyFactory, ShopFactory

pytestmark = pytest.mark.django_db(transaction=True)
RAW_KEY = "sk_test_contract_alpha_0000000000000000000000"
CHECKS = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance"


def _schemathesis() -> str | None:
    found = Path(sys.executable).with_name("schemathesis")
    return str(found) if found.exists() else shutil.which("schemathesis")


def test_every_operation_answers_as_its_schema_says(live_server, tmp_path):
    command = _schemathesis()
    if command is None:
        pytest.skip("schemathesis is not installed (it is in requirements.txt)")
    shop = ShopFactory(name="Contract", slug="contract")
    demo_shop_generate(shop=shop, customers=60, months=3, as_of=dt.date(2026, 11, 1))
    ApiKeyFactory(shop=shop, raw=RAW_KEY)
    run = subprocess.run(  # noqa: S603 - our own tool, fixed arguments
        [
            command,
            "run",
            f"{live_server.url}/api/v1/schema/",
            "--header",
            f"Authorization: Bearer {RAW_KEY}",
            "--checks",
            CHECKS,
            "--phases",
            "examples,fuzzing",
            "--max-examples",
            "12",
            "--seed",
            "1",
            "--report-dir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=tmp_path,  # its example database (.hypothesis) stays out of the checkout
    )
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:]
