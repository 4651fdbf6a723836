"""Reads across definitions: functions with the workflows that use them."""
