"""A feature's own models live in its package (provisioning/webhook/models.py) and still load
with the app, under the app's label, before anything imports the feature: a Celery worker or a
management command never loads the URLconf that would import it by the way."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SETUP_ONLY = (
    "import django; django.setup(); from django.apps import apps; "
    "from tenants.models import Tenant; "
    "model = apps.get_model('provisioning', 'HRWebhookEvent'); "
    "print(model.__module__, model._meta.app_label, Tenant._meta.get_field('hr_events').name)"
)


def test_the_webhook_model_is_registered_by_setup_alone():
    env = os.environ | {"DJANGO_SETTINGS_MODULE": "portal.settings", "PYTHONPATH": str(ROOT)}
    run = subprocess.run(
        [sys.executable, "-c", SETUP_ONLY],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.split() == ["provisioning.webhook.models", "provisioning", "hr_events"]
