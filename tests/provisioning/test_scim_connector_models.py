"""The SCIM connector builds its parametrized pydantic models (the user with the enterprise
extension, a patch of a user, a patch of a group) once a process. pydantic holds them only
weakly: a job after a garbage collection built them again, and on Python 3.11 each build
reads the model's attribute docstrings by walking the stack through `inspect.getmodule`,
which scans `sys.modules` (thousands of modules in a worker that has loaded the SDKs)."""

from __future__ import annotations

import gc

from provisioning.connectors import bridge
from tests.provisioning.scim_apps import make_app
from tests.provisioning.test_scim_connector import connector_for, joiner


def a_job(app, user_id: str, group_id: str) -> None:
    """What a mover's job asks of the app, through a connector of its own (as each job)."""
    scim = connector_for(app)
    bridge.run(scim.update_user(user_id, {"job_title": "Director"}), timeout=30)
    bridge.run(scim.add_to_group(user_id, group_id), timeout=30)
    bridge.run(scim.remove_from_group(user_id, group_id), timeout=30)
    bridge.run(scim.close(), timeout=30)


def test_a_garbage_collection_makes_no_model_be_built_again(on_sandbox, models_built):
    app = make_app(on_sandbox, "full", groups=["Engineering"])
    scim = connector_for(app)
    user = bridge.run(scim.create_user(joiner("ada@co.example")), timeout=30)
    group = bridge.run(scim.groups(fresh=True), timeout=30)[0]
    a_job(app, user.id, group.id)
    gc.collect()
    models_built.clear()
    a_job(app, user.id, group.id)
    assert models_built == [], models_built
