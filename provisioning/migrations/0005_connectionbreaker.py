import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("provisioning", "0004_access_requests"),
        ("tenants", "0004_access_requests"),
    ]

    operations = [
        migrations.CreateModel(
            name="ConnectionBreaker",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("held", models.BooleanField(default=False)),
                ("probe_failures", models.PositiveIntegerField(default=0)),
                ("probing_until", models.DateTimeField(blank=True, null=True)),
                ("last_probe_at", models.DateTimeField(blank=True, null=True)),
                ("last_probe_ok", models.BooleanField(blank=True, null=True)),
                ("last_probe_message", models.CharField(blank=True, max_length=300)),
                (
                    "connection",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="breaker",
                        to="tenants.directoryconnection",
                    ),
                ),
            ],
        ),
    ]
