"""Placeholder until the ga4 emulator routes land."""

from fastapi import APIRouter

router = APIRouter()
