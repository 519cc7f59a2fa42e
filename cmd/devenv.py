#!/usr/bin/env python3
"""Thin entry point: the local environment (``up``, ``down``, ``status``, ``build``)."""

import sys

from k8ssnap.devenv.__main__ import main

if __name__ == "__main__":
    sys.exit(main())
