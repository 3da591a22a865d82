"""Channel adapters: each translates one platform to `Event`s and delivers outbox rows to it."""
