"""The sweeps (each `run(session, at)`, idempotent, writing only alerts and outbox rows) and their wiring."""
