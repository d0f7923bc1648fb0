"""Placeholder until the tiktok_ads emulator routes land."""

from fastapi import APIRouter

router = APIRouter()
