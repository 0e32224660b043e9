#!/usr/bin/env python3
"""The stand-in of the original Django service, for authd's import tests (see make_fixture.py)."""
import os
import sys

if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
