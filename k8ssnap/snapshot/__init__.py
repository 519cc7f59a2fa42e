"""The snapshot engine: discovery -> parallel LISTs -> archive -> object store.

It knows nothing about custom resources; the Snapshot controller and the
CLI's one-shot mode both drive it.
"""
