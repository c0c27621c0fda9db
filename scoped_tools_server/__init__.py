"""scoped_tools_server package."""
