"""The k8ssnap benchmark: ``python -m bench`` (see bench/README.md).

It fills a real local cluster with a realistic population, measures what a
minimal raw client needs to read it all (the list floor) and to create it
all in an empty cluster (the create floor), then measures one Snapshot and
one Restore through the real controller process, at N and at 5 x N. It is
not part of the test suite's pass or fail.

Modules: ``population`` (what is created, pure), ``rawclient`` (the
minimal aiohttp client the floors and the filler use), ``creator`` (bounded
concurrent creates: the filler and the create floor), ``lister`` (the list
floor), ``environment`` (clusters, S3, the controller's CRDs and
credentials), ``controllerproc`` (the controller process and its memory),
``crs`` (Snapshot and Restore CRs, timed to a phase), ``scale`` (one scale,
end to end), ``report`` (results, table, JSON) and ``cli`` (the command).
"""
