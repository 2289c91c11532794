"""The settlement service over HTTP (`benefits serve`).

    from benefits.service import create_app
    app = create_app({"jiangmen": "rules/jiangmen"}, "ledger.db")   # a FastAPI application

See `benefits.service.app` for the endpoints; errors are problem details (`problems`).
"""

from .app import create_app, from_environment

__all__ = ["create_app", "from_environment"]
