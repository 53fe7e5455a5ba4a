"""Parametrized pydantic models held for the process (the SCIM endpoint's and the SCIM
connector's `ListResponse[ScimUser]`, `PatchOp[Group]` ...)."""

from functools import cache


@cache
def kept(generic, model):
    """`generic[model]`, held for the process. pydantic keeps a parametrized model only
    weakly: after a garbage collection the next request or job built it again, and on
    Python 3.11 that reads the model's attribute docstrings by walking the stack with
    `inspect.getmodule`, which scans `sys.modules` (0.1 s a model with 300 modules loaded;
    a worker that has loaded the SDKs has thousands)."""
    return generic[model]
