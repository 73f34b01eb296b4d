"""Slack adapter: slack-bolt over HTTP or Socket Mode, one live status card per request."""
