"""The demo inventory system: seeded database, inventory API, fake integrations, simulator, sink, orchestrator."""
