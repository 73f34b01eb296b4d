"""End to end: the Slack Web API stand-in with signed events, discord.py driven by simcord, the web page in a
browser, and whole `infrabot` processes (run, chaos)."""
