"""The application shell: config, CLI, web app, channel adapters, router, inbox and outbox."""
