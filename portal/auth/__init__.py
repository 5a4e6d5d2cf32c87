"""Accounts: password policy, login throttling, the login/logout blueprint."""
