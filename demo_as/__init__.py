"""demo_as package."""
