"""Embedded mode announces its servers before it pays for importing them."""

from __future__ import annotations

import subprocess
import sys
import textwrap


def test_the_ports_are_announced_before_the_servers_code_is_imported() -> None:
    """The story prints its first line from `on_bound`; at that moment neither server package
    (nor FastAPI, SQLAlchemy or the MCP SDK) is loaded, and the servers do start afterwards."""
    script = textwrap.dedent(
        """
        import sys
        import httpx2
        from demo_client.embedded import embedded_stack

        heavy = ("demo_as", "scoped_tools_server", "fastapi", "sqlalchemy", "mcp")
        def on_bound(stack):
            print("loaded at announce:", sorted(m for m in heavy if m in sys.modules))
        with embedded_stack(on_bound=on_bound) as stack:
            print("health:", httpx2.get(stack.issuer + "/health", trust_env=False).status_code)
        """
    )
    completed = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.splitlines() == ["loaded at announce: []", "health: 200"]
