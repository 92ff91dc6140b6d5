"""The contract (issue 19.6): schemathesis generates requests for every operation in `/openapi.json` and
checks each answer: never a 5xx, every status documented for its operation, and bodies, headers and
content types as documented. It runs in-process over ASGI against the real lifespan (tiny model, SQLite),
with a bounded, derandomized number of examples, so it is quick and repeatable in CI.

Routes are found from the schema, so a new route is covered without touching this file; each operation
is its own test (`test_every_operation_answers_as_documented[POST /v1/scans]`), so a failure names the
route. To fix one: document the status in the route's `responses=` (or on its router), or stop it from
happening. Reproduce a failure with the `curl` line schemathesis prints.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.serving.conftest import METRICS_TOKEN, create_station_key, settings_for
from tests.serving.images import png_bytes

EXAMPLES = int(os.environ.get("XSCREEN_CONTRACT_EXAMPLES", "12"))  # per operation, derandomized; about 10 operations: well under a minute on 2 cores
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_headers_conformance, response_schema_conformance]
KNOWN_SCAN = "contract-known-scan"  # stored before the run, so GETs and reviews of a real scan are exercised too
HTTP_METHODS = {"get", "put", "post", "delete", "patch", "head", "options"}


def _operations() -> list[tuple[str, str]]:
    """(method, path) of every operation the app documents, read at collection: building the app loads nothing."""
    from xscreen.serving.api.app import create_app
    from xscreen.settings import Settings

    spec = create_app(Settings(data_dir=Path("unused"), models_dir=Path("unused"))).openapi()
    return sorted((method.upper(), path) for path, item in spec["paths"].items() for method in item if method in HTTP_METHODS)


@pytest.fixture(scope="module")
def contract(tmp_path_factory: pytest.TempPathFactory, tiny_models_dir: Path) -> dict[str, Any]:
    from xscreen.serving.api.app import create_app

    service_settings = settings_for(tmp_path_factory.mktemp("contract") / "data", tiny_models_dir)
    key = create_station_key(service_settings)
    schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(service_settings))  # its lifespan starts on the first call
    headers = {"X-API-Key": key, "Authorization": f"Bearer {METRICS_TOKEN}"}
    stored = schema["/v1/scans"]["POST"].Case(
        media_type="multipart/form-data", body={"file": png_bytes(), "scan_id": KNOWN_SCAN}, headers=headers
    ).call()
    assert stored.status_code == 201, stored.text
    return {"schema": schema, "headers": headers}


@pytest.mark.parametrize(("method", "path"), _operations(), ids=[f"{m} {p}" for m, p in _operations()])
def test_every_operation_answers_as_documented(contract: dict[str, Any], method: str, path: str) -> None:
    operation = contract["schema"][path][method]
    # Requests that fit the schema and requests that do not (bad JSON, wrong types, missing fields).
    cases = st.one_of(operation.as_strategy(), operation.as_strategy(generation_mode=GenerationMode.NEGATIVE))

    @given(case=cases)
    @settings(max_examples=EXAMPLES, derandomize=True, database=None, deadline=None, suppress_health_check=list(HealthCheck))
    def check(case: schemathesis.Case) -> None:
        if "scan_id" in (case.path_parameters or {}) and case.path_parameters["scan_id"].startswith("k"):
            case.path_parameters["scan_id"] = KNOWN_SCAN  # some examples reach a stored scan
        # Valid credentials, so generated requests get past authentication to the route itself.
        case.call_and_validate(headers=contract["headers"], checks=CHECKS)

    check()
