"""Loaded by Python at start-up when this folder is on PYTHONPATH (test_scanner.py runs the
scanner so): records every AWS API call botocore makes, with its HTTP status and the error code
botocore parsed, one JSON line each, to the file named by TESSERA_CALL_LOG."""

import json
import os
import threading

import botocore.client
from botocore.exceptions import ClientError

_LOG = os.environ.get("TESSERA_CALL_LOG")
_LOCK = threading.Lock()
_make_api_call = botocore.client.BaseClient._make_api_call


def _recorded(self, operation_name, api_params):
    record = {"service": self.meta.service_model.service_name, "operation": operation_name,
              "protocol": self.meta.service_model.protocol}
    try:
        response = _make_api_call(self, operation_name, api_params)
        record["status"] = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        return response
    except ClientError as e:
        record["status"] = e.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        record["code"] = e.response.get("Error", {}).get("Code")
        record["message"] = str(e.response.get("Error", {}).get("Message", ""))[:300]
        raise
    except Exception as e:  # connection failures, parse failures
        record["exception"] = f"{type(e).__name__}: {e}"[:300]
        raise
    finally:
        if _LOG:
            with _LOCK, open(_LOG, "a") as f:
                f.write(json.dumps(record) + "\n")


botocore.client.BaseClient._make_api_call = _recorded
