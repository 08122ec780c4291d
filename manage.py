#!/usr/bin/env python
"""Django's command-line entry point for write_service (run from the repository root)."""

import os
import sys

if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "write_service.settings.base")
    from django.core.management import execute_from_command_line

    from shared.config import ConfigError

    try:
        execute_from_command_line(sys.argv)
    except ConfigError as exc:  # a missing setting is the operator's one-sentence fix, not a traceback
        sys.exit(str(exc))
