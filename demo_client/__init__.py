"""demo_client package."""
