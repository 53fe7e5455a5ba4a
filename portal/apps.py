from django.apps import AppConfig


class PortalConfig(AppConfig):
    name = "portal"

    def ready(self) -> None:
        from axes.signals import user_locked_out
        from django.contrib.auth.signals import user_logged_out, user_login_failed

        from portal import pg_parse, signin

        pg_parse.install()  # psycopg keeps the split of the engine's long statements too

        user_login_failed.connect(signin.on_login_failed, dispatch_uid="portal.audit_login_failed")
        user_locked_out.connect(signin.on_locked_out, dispatch_uid="portal.audit_locked_out")
        user_logged_out.connect(signin.on_logged_out, dispatch_uid="portal.audit_logged_out")
