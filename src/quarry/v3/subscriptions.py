"""Subscriptions and the webhook secret: ``/v3/subscriptions``, ``/v3/webhook-secret``."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/v3", tags=["v3 subscriptions"])
