from django.apps import AppConfig


class FirstSignInConfig(AppConfig):
    name = "provisioning.first_sign_in"
    label = "first_sign_in"
    verbose_name = "First sign-in"

    def ready(self) -> None:
        from provisioning.engine import first_sign_in, memo
        from provisioning.first_sign_in.handler import handler

        # The engine plans the first sign-in step and hands its secret here, never further.
        first_sign_in.register(handler)
        # The tenant's policy comes with the job a run claims: no read of its own.
        memo.read_with_tenant("first_sign_in_policy")
