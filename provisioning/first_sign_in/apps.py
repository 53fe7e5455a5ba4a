from django.apps import AppConfig


class FirstSignInConfig(AppConfig):
    name = "provisioning.first_sign_in"
    label = "first_sign_in"
    verbose_name = "First sign-in"

    def ready(self) -> None:
        from provisioning.engine import first_sign_in
        from provisioning.first_sign_in.handler import handler

        # The engine plans the first sign-in step and hands its secret here, never further.
        first_sign_in.register(handler)
