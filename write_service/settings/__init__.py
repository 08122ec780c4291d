"""Settings split by environment: base (dev defaults), test, production. Integrations in their own modules."""
