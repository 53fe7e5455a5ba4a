from django.apps import AppConfig
from django.db.models.signals import post_save


class InventoryConfig(AppConfig):
    name = "provisioning.inventory"
    label = "inventory"
    verbose_name = "Inventory"

    def ready(self) -> None:
        from provisioning import services
        from provisioning.engine import accounts, guards, memo, outcomes
        from provisioning.inventory import matching, scope, service
        from provisioning.models import DirectoryAccount, Identity

        # Out-of-scope accounts are never changed: the engine asks before it plans.
        # An account the inventory holds no row of is not protected: a statement the engine
        # sends anyway asks that (scope.judged_rows), before its next plan.
        guards.register(scope.protected_reason, judged=scope.judged_rows)
        # Its rules (scope.current_policy) come with the job a run claims: no read of their own.
        memo.read_with_tenant("inventory_policy")
        # The engine's own reads of accounts keep the inventory's rows current.
        outcomes.on_account_read(service.record_account_read)
        # Every managed person has a Person row from their Identity's first save on.
        post_save.connect(matching.identity_saved, sender=Identity, dispatch_uid="inv-person")
        # A joiner's row rides in the statement that inserts the joiner (PostgreSQL).
        services.ride_with_new_identity(matching.person_riding_with)
        post_save.connect(
            matching.directory_account_saved, sender=DirectoryAccount, dispatch_uid="inv-link"
        )
        # The engine's outcomes write an account's new id by statement: the same question,
        # read in that statement.
        accounts.on_linked(accounts.LinkedAsk(matching.link_owner, matching.link_owner_found))
