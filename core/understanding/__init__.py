"""Turning chat text into intents and request changes."""
