"""Every operation of IAM, STS and Organizations in botocore's models, called once through boto3.

Issue: "IAM, STS and Organizations, every operation". The models are the pinned botocore's
(tests/requirements.txt). Each operation is called with its required members filled with
placeholder values that pass the model's own validation; whatever Tessera answers (a result, or
an error such as NoSuchEntity or ValidationError) counts as served, except `NotImplemented`
(HTTP 501) and an unknown-operation error (`InvalidAction`, `UnknownOperationException`).

The operations not built yet are listed in tests/e2e/operations_not_implemented.txt. The test
fails when an operation outside that list answers NotImplemented (a regression, or a new model
operation nobody listed) and when a listed operation no longer does (the list must stay true:
delete its line). When the list is empty, no operation of the three services is NotImplemented.
It prints the coverage.
"""
import datetime
import pathlib

import botocore.session
import pytest
from botocore.exceptions import ClientError, ParamValidationError

SERVICES = ["iam", "sts", "organizations"]
LIST = pathlib.Path(__file__).with_name("operations_not_implemented.txt")
UNKNOWN = {"InvalidAction", "UnknownOperationException"}


def placeholder(shape, depth=0):
    """A value of `shape` that botocore's validation accepts."""
    t = shape.type_name
    if t == "structure":
        if shape.is_tagged_union:  # exactly one member
            first = next(iter(shape.members))
            return {first: placeholder(shape.members[first], depth + 1)}
        return {m: placeholder(shape.members[m], depth + 1) for m in shape.required_members}
    if t == "list":
        n = max(1, shape.metadata.get("min", 1))
        return [placeholder(shape.member, depth + 1) for _ in range(n)]
    if t == "map":
        return {"k": placeholder(shape.value, depth + 1)}
    if t == "string":
        if shape.enum:
            return shape.enum[0]
        n = max(shape.metadata.get("min", 1), 1)
        value = "x" * max(n, 20)
        top = shape.metadata.get("max")
        return value[:top] if top else value
    if t in ("integer", "long"):
        return max(shape.metadata.get("min", 1), 1)
    if t in ("double", "float"):
        return 1.0
    if t == "boolean":
        return False
    if t == "timestamp":
        return datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)
    if t == "blob":
        return b"x" * max(shape.metadata.get("min", 1), 1)
    raise AssertionError(f"no placeholder for shape type {t}")


def outcome(client, op_name, model):
    """`served`, `not-implemented` or `unknown`, and the code seen."""
    params = placeholder(model.input_shape) if model.input_shape else {}
    method = getattr(client, botocore.xform_name(op_name))
    try:
        method(**params)
        return "served", "OK"
    except ParamValidationError as e:  # the placeholder is wrong, not Tessera
        raise AssertionError(f"{op_name}: placeholder rejected by botocore: {e}") from e
    except ClientError as e:
        code = e.response["Error"].get("Code", "")
        status = e.response["ResponseMetadata"].get("HTTPStatusCode")
        if code == "NotImplemented" or status == 501:
            return "not-implemented", code
        if code in UNKNOWN:
            return "unknown", code
        return "served", code


@pytest.fixture(scope="module")
def results(tessera_factory_module):
    t = tessera_factory_module
    session = botocore.session.get_session()
    out = {}
    for service in SERVICES:
        model = session.get_service_model(service)
        client = t.client(service)
        for op in model.operation_names:
            out[f"{service}:{op}"] = outcome(client, op, model.operation_model(op))
    return out


@pytest.fixture(scope="module")
def tessera_factory_module(tmp_path_factory):
    from conftest import Tessera, _require_binary
    _require_binary()
    t = Tessera(tmp_path_factory.mktemp("coverage") / "data").start()
    yield t
    t.stop()


def listed():
    lines = (line.split("#")[0].strip() for line in LIST.read_text().splitlines())
    return {line for line in lines if line}


def test_print_coverage(results):
    for service in SERVICES:
        ops = {k: v for k, v in results.items() if k.startswith(service + ":")}
        served = sum(1 for v in ops.values() if v[0] == "served")
        print(f"\ncoverage {service}: {served} of {len(ops)} operations served "
              f"({len(ops) - served} NotImplemented or unknown)")
    assert results


def test_no_operation_is_unknown(results):
    unknown = sorted(k for k, v in results.items() if v[0] == "unknown")
    assert unknown == [], f"answered as unknown operations (regenerate operations.rs?): {unknown}"


def test_not_implemented_is_exactly_the_list(results):
    gaps = {k for k, v in results.items() if v[0] == "not-implemented"}
    new = sorted(gaps - listed())
    assert new == [], f"NotImplemented but not in {LIST.name}: {new}"
    built = sorted(listed() - gaps)
    assert built == [], f"listed in {LIST.name} but now served: delete their lines: {built}"
