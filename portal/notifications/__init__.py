"""Notifications: the notifier (events → notifications), preferences, the centre, the e-mail outbox."""
