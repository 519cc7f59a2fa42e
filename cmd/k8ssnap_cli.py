#!/usr/bin/env python3
"""Thin entry point: the ``k8ssnap`` command line for people at a terminal."""

import sys

from k8ssnap.app.cli import main

if __name__ == "__main__":
    sys.exit(main())
