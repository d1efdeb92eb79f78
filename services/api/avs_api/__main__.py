"""``python -m avs_api``: serve the API with uvicorn on AVS_API_HOST:AVS_API_PORT."""

from __future__ import annotations

import sys

import uvicorn

from avs_api.app import create_app
from avs_api.settings import ApiSettings
from avs_shared.errors import ConfigurationError
from avs_shared.runtime.logging import configure_logging
from avs_shared.runtime.tracing import configure_tracing, shutdown_tracing
from avs_shared.settings import load_settings


def main() -> None:
    try:
        settings = load_settings(ApiSettings)
    except ConfigurationError as exc:
        print(f"avs-api: {exc}", file=sys.stderr)
        sys.exit(2)
    configure_logging(settings)
    configure_tracing(settings.service_name)
    try:
        # log_config=None: uvicorn's loggers propagate to our structured root handler.
        uvicorn.run(create_app(settings), host=settings.api_host, port=settings.api_port, log_config=None)
    finally:
        shutdown_tracing()


if __name__ == "__main__":
    main()
