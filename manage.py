#!/usr/bin/env python
"""Django's command-line utility for jainam-prop.

Before Django starts it reads the local settings file ``.env`` in the project root (written
by ``bin/demo``, git-ignored; ``KEY=value`` lines). Variables already in the environment win.
``JAINAM_ENV_FILE`` names another file; set it empty to read none.
"""

import os
import sys
from pathlib import Path


def load_env_file() -> None:
    name = os.environ.get("JAINAM_ENV_FILE", str(Path(__file__).resolve().parent / ".env"))
    if not name or not Path(name).is_file():
        return
    for line in Path(name).read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        os.environ.setdefault(key.strip(), value.strip().strip("'\""))


def main() -> None:
    load_env_file()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
