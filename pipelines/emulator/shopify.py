"""Placeholder until the shopify emulator routes land."""

from fastapi import APIRouter

router = APIRouter()
