"""The emulated Microsoft Entra ID: a token endpoint and a Microsoft Graph v1.0 subset."""
