"""The attribute mappings pages: each target's attributes and expressions, edited by MSP
admins, previewed on a person of the tenant (the mappings themselves: tenants/mappings/)."""
