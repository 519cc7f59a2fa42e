#!/usr/bin/env python3
"""Thin entry point: the k8ssnap controller (same as the ``k8ssnap-controller`` script)."""

import sys

from k8ssnap.app.controller import main

if __name__ == "__main__":
    sys.exit(main())
