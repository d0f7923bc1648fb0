"""Placeholder until the google_ads emulator routes land."""

from fastapi import APIRouter

router = APIRouter()
