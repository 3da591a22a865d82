"""Persistence: SQLModel tables, engine setup, queries and Alembic migrations (no business rules)."""
