"""Kubernetes object names, as the API server validates them.

A name that a custom resource supplies (a Secret it refers to, a snapshot it
names) ends up in an API path or a bucket key. Checking it against the API
server's own rule first means such a name can never carry ``/``, ``..`` or
anything else that would make the controller reach a different object.
"""

from __future__ import annotations

import re
from typing import Final

_DNS_SUBDOMAIN: Final = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")


def is_object_name(name: str) -> bool:
    """Whether ``name`` is a valid name of most kinds (Secrets included): a DNS-1123 subdomain."""
    return bool(_DNS_SUBDOMAIN.match(name)) and ".." not in name
