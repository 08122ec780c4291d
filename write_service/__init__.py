"""The command side: Django models, write services, the write API and the transactional outbox."""
