"""Reconcilers, one per custom resource kind, plus housekeeping: orchestration only.

They read the informer caches, ask the domain what to do, drive the
engines and adapters, and write status. They never touch the tar format
or name a bucket key (that is :mod:`k8ssnap.store.layout`).
"""
