"""Webhooks: customers' systems told of events, signed in the Standard Webhooks style."""
