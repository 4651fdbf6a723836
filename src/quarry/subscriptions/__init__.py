"""Subscriptions: a function's (or a collection's) events of one type, sent to a webhook URL."""
