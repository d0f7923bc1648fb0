"""Placeholder until the meta_ads emulator routes land."""

from fastapi import APIRouter

router = APIRouter()
